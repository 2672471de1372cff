"""Outbound events to merchants, as Standard Webhooks.

Events are written to the outbox in the transaction of the change they describe. The worker
fans each event out to the merchant's matching endpoints (one `deliveries` row per pair,
unique) and sends it with the headers `webhook-id` (the event id, stable across retries),
`webhook-timestamp` (this attempt) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of
id.timestamp.body>` under the endpoint's `whsec_` secret). Any 2xx is delivered; 410 Gone
disables the endpoint; anything else is retried with backoff and jitter for more than 24 h,
every attempt logged. `operator.*` events are for the operator and never leave to merchants.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from anyio import to_thread

from payhub.clock import as_utc
from payhub.domain.errors import InvalidRequest, NotFound
from payhub.services.context import Hub
from payhub.services.vault import decrypt_credentials, encrypt_credentials
from payhub.store import outbox
from payhub.store.ids import new_id
from payhub.store.journal import add_audit
from payhub.store.models import WebhookEndpoint
from payhub.store.tx import retry_write_conflicts

# Standard Webhooks' example schedule: the delay before attempt n+1 (last ≈ 75 h after).
RETRY_SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
TIMEOUT_SECONDS = 15.0
MERCHANT_EVENT_TYPES = (
    "order.created",
    "order.paid",
    "order.cancelled",
    "order.expired",
    "payment.failed",
    "payment.review",
    "refund.succeeded",
    "refund.failed",
)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` over `id.timestamp.body` with the decoded whsec_ key."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    message = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def _aad_id(endpoint_id: str) -> str:
    return f"webhook_endpoint:{endpoint_id}"


@retry_write_conflicts
def create_endpoint(
    hub: Hub, merchant_id: str, url: str, event_types: list[str], *, actor: str
) -> dict[str, Any]:
    """Register an endpoint; the secret is returned once and stored encrypted."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequest("url must be an absolute http(s) URL")
    if hub.settings.production and parts.scheme != "https":
        raise InvalidRequest("webhook endpoints must use https")
    unknown = sorted(set(event_types) - set(MERCHANT_EVENT_TYPES))
    if unknown:
        raise InvalidRequest(f"unknown event types: {', '.join(unknown)}")
    secret = new_secret()
    endpoint_id = new_id("we")
    blob, key_id = encrypt_credentials(
        hub.require_master_key(), _aad_id(endpoint_id), {"secret": secret}
    )
    now = hub.clock.now()
    with hub.db.write() as tx:
        outbox.add_endpoint(
            tx,
            id=endpoint_id,
            merchant_id=merchant_id,
            url=url,
            secret_ciphertext=blob,
            secret_key_id=key_id,
            event_types={"only": sorted(event_types)},
            enabled=True,
            created_at=now,
            updated_at=now,
        )
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="webhook_endpoint.created",
            subject=endpoint_id,
            after={"url": url, "event_types": sorted(event_types)},
            now=now,
        )
    return {
        **endpoint_view_fields(endpoint_id, url, sorted(event_types), True, None),
        "secret": secret,
    }


def endpoint_view_fields(
    endpoint_id: str, url: str, types: list[str], enabled: bool, reason: str | None
) -> dict[str, Any]:
    return {
        "id": endpoint_id,
        "url": url,
        "event_types": types,
        "enabled": enabled,
        "disabled_reason": reason,
    }


def endpoint_view(e: WebhookEndpoint) -> dict[str, Any]:
    return endpoint_view_fields(
        e.id, e.url, list(e.event_types.get("only", [])), e.enabled, e.disabled_reason
    )


def list_endpoints(hub: Hub, merchant_id: str) -> list[dict[str, Any]]:
    with hub.db.session() as session:
        return [endpoint_view(e) for e in outbox.endpoints_of(session, merchant_id)]


@retry_write_conflicts
def disable_endpoint(hub: Hub, merchant_id: str, endpoint_id: str, *, actor: str) -> None:
    now = hub.clock.now()
    with hub.db.write() as tx:
        row = outbox.endpoint_to_change(tx, endpoint_id)
        if row is None or row.merchant_id != merchant_id:
            raise NotFound(f"no webhook endpoint {endpoint_id}")
        row.enabled = False
        row.disabled_reason = "disabled by merchant"
        row.updated_at = now
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="webhook_endpoint.disabled",
            subject=endpoint_id,
            now=now,
        )


def fan_out(hub: Hub, limit: int = 500) -> int:
    """Create one delivery per (new event, matching enabled endpoint). Returns how many."""
    now = hub.clock.now()
    created = 0
    with hub.db.write() as tx:
        events = outbox.events_to_fan_out(tx, limit)
        endpoints_by_merchant: dict[str, list[WebhookEndpoint]] = {}
        for event in events:
            if event.merchant_id not in endpoints_by_merchant:
                endpoints_by_merchant[event.merchant_id] = outbox.enabled_endpoints(
                    tx, event.merchant_id
                )
            if not event.event_type.startswith("operator."):
                for endpoint in endpoints_by_merchant[event.merchant_id]:
                    only = endpoint.event_types.get("only") or []
                    if only and event.event_type not in only:
                        continue
                    outbox.add_delivery(
                        tx,
                        merchant_id=event.merchant_id,
                        event_id=event.id,
                        endpoint_id=endpoint.id,
                        state="pending",
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                    created += 1
            event.state = "fanned_out"
    return created


@dataclass(frozen=True, slots=True)
class _Job:
    delivery_id: int
    event_id: str
    endpoint_id: str
    url: str
    secret: str
    body: bytes
    attempts: int


def _due_jobs(hub: Hub, limit: int) -> list[_Job]:
    now = hub.clock.now()
    jobs: list[_Job] = []
    with hub.db.session() as session:
        for delivery, endpoint, event in outbox.due_deliveries(session, now, limit):
            secret = decrypt_credentials(
                hub.keys, _aad_id(endpoint.id), endpoint.secret_ciphertext, endpoint.secret_key_id
            )["secret"].reveal()
            body = json.dumps(
                {"id": event.id, **event.payload}, separators=(",", ":"), ensure_ascii=False
            ).encode()
            jobs.append(
                _Job(
                    delivery.id,
                    event.id,
                    endpoint.id,
                    endpoint.url,
                    secret,
                    body,
                    delivery.attempts,
                )
            )
    return jobs


async def deliver_due(hub: Hub, *, limit: int = 100, retry_scale: float = 1.0) -> int:
    """Send every due delivery once; returns how many were attempted."""
    jobs = await to_thread.run_sync(_due_jobs, hub, limit)
    gone: set[str] = set()  # endpoints that answered 410 during this pass
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
        for job in jobs:
            if job.endpoint_id in gone:
                continue
            timestamp = int(hub.clock.now().timestamp())
            headers = {
                "content-type": "application/json",
                "webhook-id": job.event_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(job.secret, job.event_id, timestamp, job.body),
                "user-agent": "payhub-webhooks/1",
            }
            started = time.monotonic()
            status: int | None = None
            error: str | None = None
            body = None
            try:
                response = await client.post(job.url, content=job.body, headers=headers)
                status, body = response.status_code, response.text[:1000]
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}"
            elapsed = int((time.monotonic() - started) * 1000)
            if status == 410:
                gone.add(job.endpoint_id)
            await to_thread.run_sync(
                _record_attempt, hub, job, status, error, body, elapsed, retry_scale
            )
    return len(jobs)


def _record_attempt(
    hub: Hub,
    job: _Job,
    status: int | None,
    error: str | None,
    body: str | None,
    elapsed_ms: int,
    retry_scale: float,
) -> None:
    now = hub.clock.now()
    with hub.db.write() as tx:
        delivery = outbox.delivery_to_change(tx, job.delivery_id)
        assert delivery is not None
        outbox.add_delivery_attempt(
            tx,
            delivery_id=delivery.id,
            attempted_at=now,
            status_code=status,
            error=error,
            duration_ms=elapsed_ms,
            response_body=body,
        )
        delivery.attempts += 1
        delivery.last_status = status
        delivery.last_error = error
        delivery.updated_at = now
        if status is not None and 200 <= status < 300:
            delivery.state = "delivered"
            return
        if status == 410:
            delivery.state = "failed"
            outbox.disable_endpoint(tx, job.endpoint_id, "endpoint answered 410 Gone", now)
            add_audit(
                tx,
                merchant_id=delivery.merchant_id,
                actor="worker",
                action="webhook_endpoint.disabled",
                subject=job.endpoint_id,
                after={"reason": "410 Gone"},
                now=now,
            )
            return
        if delivery.attempts > len(RETRY_SCHEDULE):
            delivery.state = "failed"
            return
        delay = RETRY_SCHEDULE[delivery.attempts - 1] * retry_scale
        jitter = delay * random.uniform(-0.1, 0.1)
        delivery.next_attempt_at = now + delay + jitter


@retry_write_conflicts
def redeliver(hub: Hub, merchant_id: str, event_id: str, *, actor: str) -> int:
    """Make every delivery of an event due now again (manual redelivery)."""
    now = hub.clock.now()
    with hub.db.write() as tx:
        event = outbox.find_event(tx, event_id)
        if event is None or event.merchant_id != merchant_id:
            raise NotFound(f"no event {event_id}")
        count = outbox.make_deliveries_due(tx, event_id, now)
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="event.redelivered",
            subject=event_id,
            now=now,
        )
        return count


def event_log(hub: Hub, merchant_id: str, event_id: str) -> dict[str, Any]:
    with hub.db.session() as session:
        event = outbox.find_event(session, event_id)
        if event is None or event.merchant_id != merchant_id:
            raise NotFound(f"no event {event_id}")
        out = []
        for d in outbox.deliveries_of(session, event_id):
            attempts = outbox.attempts_of_delivery(session, d.id)
            out.append(
                {
                    "endpoint_id": d.endpoint_id,
                    "state": d.state,
                    "attempts": d.attempts,
                    "next_attempt_at": as_utc(d.next_attempt_at).isoformat(),
                    "log": [
                        {
                            "at": as_utc(a.attempted_at).isoformat(),
                            "status": a.status_code,
                            "error": a.error,
                            "ms": a.duration_ms,
                        }
                        for a in attempts
                    ],
                }
            )
        return {
            "id": event.id,
            "type": event.event_type,
            "payload": event.payload,
            "deliveries": out,
        }


def list_events(hub: Hub, merchant_id: str, limit: int = 50) -> list[dict[str, Any]]:
    with hub.db.session() as session:
        rows = outbox.recent_events(session, merchant_id, limit)
        return [
            {
                "id": e.id,
                "type": e.event_type,
                "created_at": as_utc(e.created_at).isoformat(),
                "data": e.payload.get("data"),
            }
            for e in rows
        ]

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

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

import httpx
from anyio import to_thread

from payhub.clock import as_utc
from payhub.domain.errors import InvalidRequest, NotFound
from payhub.errors import OutboundRefused
from payhub.outbound import OutboundClient, OutboundPolicy, check_url_blocking
from payhub.services.context import Hub
from payhub.services.hosted import hosted_checkout_url
from payhub.services.vault import decrypt_credentials, encrypt_credentials
from payhub.store import outbox
from payhub.store.encrypted import WEBHOOK_SECRET
from payhub.store.ids import new_id
from payhub.store.journal import add_audit, enqueue_event
from payhub.store.models import WebhookEndpoint
from payhub.store.tx import retry_write_conflicts

log = logging.getLogger(__name__)

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
DEADLINE_SECONDS = 30.0  # one delivery, resolution to the last byte read
REPLY_BYTES_KEPT = 256  # of each reply, for the operator; never shown to the merchant
REFUSED_BY_POLICY = "refused by outbound policy"
# Consecutive failed attempts of one delivery after which the operator is alerted (once).
ENDPOINT_FAILING_AFTER = 5
MERCHANT_EVENT_TYPES = (
    "order.created",
    "order.paid",
    "order.cancelled",
    "order.expired",
    "payment.failed",
    "payment.review",
    "refund.succeeded",
    "refund.failed",
    "stock.low",
    "credits.debited",
    "credits.adjusted",
)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` over `id.timestamp.body` with the decoded whsec_ key."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    message = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def _aad_id(endpoint_id: str) -> str:
    return WEBHOOK_SECRET.subject(endpoint_id)


@retry_write_conflicts
def create_endpoint(
    hub: Hub, merchant_id: str, url: str, event_types: list[str], *, actor: str
) -> dict[str, Any]:
    """Register an endpoint; the secret is returned once and stored encrypted. The URL must
    pass the outbound policy (`OutboundRefused`, a 422 problem, says which rule refused it);
    it is checked again at every delivery."""
    check_url_blocking(url, OutboundPolicy.from_settings(hub.settings))
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
class DeliveryOutcome:
    """What one attempt to send one event to one endpoint came to.

    `status` is the HTTP status (None when no reply came), `error` payhub's short text
    when there was no usable reply (`refused by outbound policy`, `timeout: …`,
    `connection failed: …`), `reply` the first `REPLY_BYTES_KEPT` bytes of the reply.
    The exact status, the error, the reply and the timing are for the operator; merchants
    see only `status_class`."""

    status: int | None
    error: str | None
    reply: str | None
    elapsed_ms: int

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def status_class(self) -> str:
        return status_class(self.status, self.error)


def status_class(status: int | None, error: str | None) -> str:
    """`2xx`, `3xx`, `4xx`, `5xx`, `timeout`, `connection_failed` or `refused`: all a
    merchant learns of an attempt (an exact status, a reply or a timing would make the
    delivery log a port scanner)."""
    if status is not None:
        return f"{status // 100}xx" if 200 <= status < 600 else "5xx"
    if error == REFUSED_BY_POLICY:
        return "refused"
    if error is not None and error.startswith("timeout"):
        return "timeout"
    return "connection_failed"


def signed_headers(secret: str, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, event_id, timestamp, body),
        "user-agent": "payhub-webhooks/1",
    }


async def post_signed_event(
    client: OutboundClient,
    *,
    url: str,
    secret: str | None,
    event_id: str,
    body: bytes,
    timestamp: int,
) -> DeliveryOutcome:
    """POST one event to one endpoint, checked by the outbound policy at this very send.
    Never raises (except for cancellation): whatever goes wrong is this delivery's failed
    attempt, logged, and the caller goes on with the next one."""
    started = time.monotonic()

    def outcome(status: int | None, error: str | None, reply: str | None = None) -> DeliveryOutcome:
        return DeliveryOutcome(status, error, reply, int((time.monotonic() - started) * 1000))

    try:
        if secret is None:
            return outcome(None, "connection failed: the endpoint's secret cannot be read")
        headers = signed_headers(secret, event_id, timestamp, body)
        answer = await client.request(
            "POST", url, content=body, headers=headers, max_body=REPLY_BYTES_KEPT
        )
        # PostgreSQL text cannot hold NUL: a reply carrying one must still be recorded.
        reply = answer.body.decode("utf-8", "replace").replace("\x00", "\ufffd")
        return outcome(answer.status, None, reply)
    except OutboundRefused as exc:
        if exc.rule == "unresolvable":
            return outcome(None, "connection failed: the host name does not resolve")
        log.warning("delivery of %s refused by the outbound policy: %s", event_id, exc.rule)
        return outcome(None, REFUSED_BY_POLICY)
    except (httpx.TimeoutException, TimeoutError) as exc:
        return outcome(None, f"timeout: {type(exc).__name__}")
    except httpx.HTTPError as exc:
        return outcome(None, f"connection failed: {type(exc).__name__}")
    except Exception as exc:
        log.exception("delivery of %s failed", event_id)
        return outcome(None, f"connection failed: {type(exc).__name__}")


@dataclass(frozen=True, slots=True)
class OutboundDelivery:
    """One claimed delivery, ready to send: the event's body and the endpoint's secret."""

    delivery_id: int
    merchant_id: str
    event_id: str
    endpoint_id: str
    url: str
    secret: str | None  # None: it cannot be decrypted (the attempt fails, the rest go on)
    body: bytes
    attempts: int


def claim_deliveries(
    hub: Hub,
    *,
    worker: str,
    lease: timedelta,
    limit: int,
    skip_endpoints: frozenset[str] = frozenset(),
) -> list[OutboundDelivery]:
    """Claim due deliveries for `worker` (a lease of `lease`) and prepare them to send."""
    now = hub.clock.now()
    with hub.db.write() as tx:
        claimed = outbox.claim_due_deliveries(
            tx,
            now,
            worker=worker,
            lease_until=now + lease,
            limit=limit,
            skip_endpoints=skip_endpoints,
        )
    secrets_by_endpoint: dict[str, str | None] = {}
    jobs: list[OutboundDelivery] = []
    for c in claimed:
        if c.endpoint_id not in secrets_by_endpoint:
            secrets_by_endpoint[c.endpoint_id] = _endpoint_secret(
                hub, c.endpoint_id, c.secret_ciphertext, c.secret_key_id
            )
        body = event_body(hub, c.event_id, c.payload)
        jobs.append(
            OutboundDelivery(
                c.delivery_id,
                c.merchant_id,
                c.event_id,
                c.endpoint_id,
                c.url,
                secrets_by_endpoint[c.endpoint_id],
                body,
                c.attempts,
            )
        )
    return jobs


def _endpoint_secret(hub: Hub, endpoint_id: str, ciphertext: bytes, key_id: str) -> str | None:
    try:
        return decrypt_credentials(hub.keys, _aad_id(endpoint_id), ciphertext, key_id)[
            "secret"
        ].reveal()
    except Exception:
        log.exception("the secret of webhook endpoint %s cannot be read", endpoint_id)
        return None


def release_deliveries(hub: Hub, jobs: list[OutboundDelivery], *, worker: str) -> None:
    """Give back claims on deliveries not sent."""
    with hub.db.write() as tx:
        outbox.release_deliveries(tx, [j.delivery_id for j in jobs], worker=worker)


def record_delivery(
    hub: Hub,
    job: OutboundDelivery,
    outcome: DeliveryOutcome,
    *,
    worker: str,
    retry_scale: float = 1.0,
) -> bool:
    """Record the attempt and what follows from it (delivered, retry at, given up, endpoint
    disabled). False when the claim was no longer this worker's: nothing but the attempt's
    log line is written then."""
    now = hub.clock.now()
    with hub.db.write() as tx:
        attempts = outbox.record_delivery_attempt(
            tx,
            job.delivery_id,
            worker=worker,
            now=now,
            status_code=outcome.status,
            error=outcome.error,
            duration_ms=outcome.elapsed_ms,
            response_body=outcome.reply,
        )
        if attempts is None:
            return False
        if outcome.delivered:
            outbox.settle_delivery(
                tx, job.delivery_id, state="delivered", next_attempt_at=None, now=now
            )
            return True
        if outcome.status == 410:
            outbox.settle_delivery(
                tx, job.delivery_id, state="failed", next_attempt_at=None, now=now
            )
            if outbox.disable_endpoint(tx, job.endpoint_id, "endpoint answered 410 Gone", now):
                add_audit(
                    tx,
                    merchant_id=job.merchant_id,
                    actor="worker",
                    action="webhook_endpoint.disabled",
                    subject=job.endpoint_id,
                    after={"reason": "410 Gone"},
                    now=now,
                )
                enqueue_event(
                    tx,
                    merchant_id=job.merchant_id,
                    event_type="operator.alert",
                    event_key=f"operator.alert:endpoint_disabled:{job.endpoint_id}",
                    payload={
                        "kind": "endpoint_disabled",
                        "endpoint_id": job.endpoint_id,
                        "reason": "410 Gone",
                    },
                    now=now,
                )
            return True
        if attempts == ENDPOINT_FAILING_AFTER:
            # Once per failing delivery streak: the key names the delivery that reached it.
            enqueue_event(
                tx,
                merchant_id=job.merchant_id,
                event_type="operator.alert",
                event_key=f"operator.alert:endpoint_failing:{job.delivery_id}",
                payload={
                    "kind": "endpoint_failing",
                    "endpoint_id": job.endpoint_id,
                    "event_id": job.event_id,
                    "attempts": attempts,
                    "last_status": outcome.status,
                    "last_error": outcome.error,
                },
                now=now,
            )
        if attempts > len(RETRY_SCHEDULE):
            outbox.settle_delivery(
                tx, job.delivery_id, state="failed", next_attempt_at=None, now=now
            )
            return True
        delay = RETRY_SCHEDULE[attempts - 1] * retry_scale
        jitter = delay * random.uniform(-0.1, 0.1)
        outbox.settle_delivery(
            tx, job.delivery_id, state="pending", next_attempt_at=now + delay + jitter, now=now
        )
        return True


class DeliveryDispatcher:
    """Sends claimed deliveries concurrently: at most `concurrency` POSTs in flight in all,
    at most one per endpoint, each with a timeout, so a slow or hanging endpoint holds up
    only its own deliveries. `dispatch()` claims what is due to endpoints that are not busy
    here and returns at once; the sends go on in the background (`drain()` waits for them).
    """

    def __init__(
        self,
        hub: Hub,
        *,
        worker: str,
        concurrency: int = 16,
        timeout: float = TIMEOUT_SECONDS,
        lease: timedelta | None = None,
        batch: int = 200,
        per_endpoint: int = 25,
        retry_scale: float = 1.0,
    ) -> None:
        self.hub = hub
        self.worker = worker
        self.timeout = timeout
        # One send, resolution to last byte, takes at most `deadline`; a lease outlives the
        # send it covers (no takeover while a POST may still land).
        self.deadline = min(DEADLINE_SECONDS, 2 * timeout)
        self.lease = max(lease or timedelta(seconds=60), timedelta(seconds=self.deadline + 5))
        self.batch = batch
        self.per_endpoint = per_endpoint
        self.retry_scale = retry_scale
        self.failures = 0  # attempts whose recording failed (logged)
        self._slots = asyncio.Semaphore(concurrency)
        self._busy: dict[str, asyncio.Task[None]] = {}
        self._client = OutboundClient(
            OutboundPolicy.from_settings(hub.settings), timeout=timeout, deadline=self.deadline
        )

    @property
    def busy_endpoints(self) -> frozenset[str]:
        return frozenset(self._busy)

    async def dispatch(self) -> int:
        """Claim due deliveries and start sending them; how many were claimed."""
        jobs = await to_thread.run_sync(
            partial(
                claim_deliveries,
                self.hub,
                worker=self.worker,
                lease=self.lease,
                limit=self.batch,
                skip_endpoints=self.busy_endpoints,
            )
        )
        by_endpoint: dict[str, list[OutboundDelivery]] = {}
        for job in jobs:
            by_endpoint.setdefault(job.endpoint_id, []).append(job)
        extra: list[OutboundDelivery] = []
        for endpoint_id, queue in by_endpoint.items():
            extra.extend(queue[self.per_endpoint :])
            task = asyncio.create_task(self._send_in_order(queue[: self.per_endpoint]))
            self._busy[endpoint_id] = task
            task.add_done_callback(partial(self._done, endpoint_id))
        if extra:
            await to_thread.run_sync(
                partial(release_deliveries, self.hub, extra, worker=self.worker)
            )
        return len(jobs) - len(extra)

    def _done(self, endpoint_id: str, _task: asyncio.Task[None]) -> None:
        self._busy.pop(endpoint_id, None)

    async def drain(self) -> None:
        """Wait until every send started so far is recorded."""
        while self._busy:
            await asyncio.gather(*self._busy.values(), return_exceptions=True)

    async def close(self) -> None:
        for task in self._busy.values():
            task.cancel()
        await asyncio.gather(*self._busy.values(), return_exceptions=True)
        await self._client.aclose()

    async def _send_in_order(self, queue: list[OutboundDelivery]) -> None:
        for index, job in enumerate(queue):
            async with self._slots:
                outcome = await post_signed_event(
                    self._client,
                    url=job.url,
                    secret=job.secret,
                    event_id=job.event_id,
                    body=job.body,
                    timestamp=int(self.hub.clock.now().timestamp()),
                )
            try:
                await to_thread.run_sync(
                    partial(
                        record_delivery,
                        self.hub,
                        job,
                        outcome,
                        worker=self.worker,
                        retry_scale=self.retry_scale,
                    )
                )
            except Exception:
                self.failures += 1
                log.exception("recording delivery %s failed", job.delivery_id)
            if outcome.status == 410:  # the endpoint is disabled now: hand back the rest
                rest = queue[index + 1 :]
                await to_thread.run_sync(
                    partial(release_deliveries, self.hub, rest, worker=self.worker)
                )
                return


async def deliver_due(hub: Hub, *, limit: int = 100, retry_scale: float = 1.0) -> int:
    """One pass: send every due delivery once (concurrently, one at a time per endpoint)
    and wait for the outcomes; returns how many were attempted."""
    dispatcher = DeliveryDispatcher(
        hub,
        worker=f"pass-{secrets.token_hex(4)}",
        batch=limit,
        per_endpoint=limit,
        retry_scale=retry_scale,
    )
    try:
        sent = await dispatcher.dispatch()
        await dispatcher.drain()
        return sent
    finally:
        await dispatcher.close()


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


def event_document(hub: Hub, event_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The one event object: the delivered body, a `/v1/events` item and `/v1/events/{id}`.

    `data.object` is the snapshot taken when the event was written (store.snapshots); an
    order's `hosted_checkout_url` is added here, as on every order read (it is derived from
    the order id, so it is the same whenever it is rendered). Events written before
    snapshots existed have `data.object: null`."""
    data = dict(payload.get("data") or {})
    snapshot = data.pop("object", None)
    if payload.get("object_type") == "order" and isinstance(snapshot, dict):
        snapshot = {**snapshot, "hosted_checkout_url": hosted_checkout_url(hub, snapshot["id"])}
    return {
        "id": event_id,
        "type": payload.get("type"),
        "created": payload.get("timestamp"),
        "livemode": bool(payload.get("livemode", False)),
        "data": {"object": snapshot, **data},
    }


def event_body(hub: Hub, event_id: str, payload: dict[str, Any]) -> bytes:
    """The bytes POSTed to endpoints (and signed): the event object as compact JSON."""
    return json.dumps(
        event_document(hub, event_id, payload), separators=(",", ":"), ensure_ascii=False
    ).encode()


def get_event(hub: Hub, merchant_id: str, event_id: str) -> dict[str, Any]:
    with hub.db.session() as session:
        event = outbox.find_event(session, event_id)
        if (
            event is None
            or event.merchant_id != merchant_id
            or event.event_type.startswith("operator.")
        ):
            raise NotFound(f"no event {event_id}")
        return event_document(hub, event.id, event.payload)


def event_deliveries(hub: Hub, merchant_id: str, event_id: str) -> list[dict[str, Any]]:
    """An event's deliveries (one per endpoint), oldest first, each with its attempt log."""
    with hub.db.session() as session:
        event = outbox.find_event(session, event_id)
        if event is None or event.merchant_id != merchant_id:
            raise NotFound(f"no event {event_id}")
        out = []
        for d in sorted(outbox.deliveries_of(session, event_id), key=lambda d: d.id):
            attempts = outbox.attempts_of_delivery(session, d.id)
            out.append(
                {
                    "id": str(d.id),
                    "event_id": event_id,
                    "endpoint_id": d.endpoint_id,
                    "state": d.state,
                    "attempts": d.attempts,
                    "next_attempt_at": as_utc(d.next_attempt_at).isoformat(),
                    # The status class only, at whole seconds: no reply, no exact status,
                    # no timing (the log must not work as a port scanner).
                    "log": [
                        {
                            "at": as_utc(a.attempted_at).replace(microsecond=0).isoformat(),
                            "status": status_class(a.status_code, a.error),
                        }
                        for a in attempts
                    ],
                }
            )
        return out


def events_page(
    hub: Hub, merchant_id: str, *, limit: int = 50, starting_after: str | None = None
) -> dict[str, Any]:
    """A page of the merchant's events, newest first: `data`, `has_more`, `next_cursor`."""
    with hub.db.session() as session:
        page = outbox.events_page(session, merchant_id, limit, starting_after)
        if page is None:
            raise InvalidRequest(f"unknown cursor {starting_after}")
        rows, has_more = page
        return {
            "data": [event_document(hub, e.id, e.payload) for e in rows],
            "has_more": has_more,
            "next_cursor": rows[-1].id if has_more and rows else None,
        }

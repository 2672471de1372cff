"""Changes to a merchant's webhook endpoints after they are created: rotate the secret,
enable again, choose the event types.

Creating and disabling are in `services.webhooks` (the API's calls); these are the
console's, with the same rules: every change is audited with its actor in the transaction
of the change, a new secret is returned once and stored encrypted, never in the audit.
"""

from __future__ import annotations

from typing import Any

from payhub.domain.errors import InvalidRequest, NotFound
from payhub.outbound import OutboundPolicy, check_url_blocking
from payhub.services.context import Hub
from payhub.services.vault import encrypt_credentials
from payhub.services.webhooks import MERCHANT_EVENT_TYPES, endpoint_view, new_secret
from payhub.store import outbox
from payhub.store.encrypted import WEBHOOK_SECRET
from payhub.store.journal import add_audit
from payhub.store.models import WebhookEndpoint
from payhub.store.tx import Tx, retry_write_conflicts


def _endpoint(tx: Tx, merchant_id: str, endpoint_id: str) -> WebhookEndpoint:
    row = outbox.endpoint_to_change(tx, endpoint_id)
    if row is None or row.merchant_id != merchant_id:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return row


@retry_write_conflicts
def rotate_endpoint_secret(
    hub: Hub, merchant_id: str, endpoint_id: str, *, actor: str
) -> dict[str, Any]:
    """Give the endpoint a new `whsec_` secret, returned once; the old one stops signing at
    once (deliveries from now on, retries too, are signed with the new one)."""
    secret = new_secret()
    blob, key_id = encrypt_credentials(
        hub.require_master_key(), WEBHOOK_SECRET.subject(endpoint_id), {"secret": secret}
    )
    now = hub.clock.now()
    with hub.db.write() as tx:
        row = _endpoint(tx, merchant_id, endpoint_id)
        row.secret_ciphertext = blob
        row.secret_key_id = key_id
        row.updated_at = now
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="webhook_endpoint.secret_rotated",
            subject=endpoint_id,
            after={"key_id": key_id},
            now=now,
        )
        view = endpoint_view(row)
    return {**view, "secret": secret}


@retry_write_conflicts
def enable_endpoint(hub: Hub, merchant_id: str, endpoint_id: str, *, actor: str) -> None:
    """Send to the endpoint again (after the merchant, a 410 or the operator disabled it).
    Its URL must still pass the outbound policy."""
    with hub.db.session() as session:
        urls = {e.id: e.url for e in outbox.endpoints_of(session, merchant_id)}
    if endpoint_id not in urls:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    # Resolved before the write transaction, so no lock is held during DNS.
    check_url_blocking(urls[endpoint_id], OutboundPolicy.from_settings(hub.settings))
    now = hub.clock.now()
    with hub.db.write() as tx:
        row = _endpoint(tx, merchant_id, endpoint_id)
        if row.url != urls[endpoint_id]:
            raise InvalidRequest("the endpoint changed meanwhile; try again")
        before = {"enabled": row.enabled, "disabled_reason": row.disabled_reason}
        row.enabled = True
        row.disabled_reason = None
        row.updated_at = now
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="webhook_endpoint.enabled",
            subject=endpoint_id,
            before=before,
            after={"enabled": True},
            now=now,
        )


@retry_write_conflicts
def set_endpoint_event_types(
    hub: Hub, merchant_id: str, endpoint_id: str, event_types: list[str], *, actor: str
) -> dict[str, Any]:
    """Which events the endpoint receives (none named: every merchant event). Events
    already fanned out keep their deliveries."""
    unknown = sorted(set(event_types) - set(MERCHANT_EVENT_TYPES))
    if unknown:
        raise InvalidRequest(f"unknown event types: {', '.join(unknown)}")
    now = hub.clock.now()
    with hub.db.write() as tx:
        row = _endpoint(tx, merchant_id, endpoint_id)
        before = {"event_types": list(row.event_types.get("only", []))}
        row.event_types = {"only": sorted(set(event_types))}
        row.updated_at = now
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="webhook_endpoint.filter_changed",
            subject=endpoint_id,
            before=before,
            after={"event_types": sorted(set(event_types))},
            now=now,
        )
        return endpoint_view(row)

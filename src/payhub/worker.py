"""Background work: deliver outbound events (Standard Webhooks), reconcile pending attempts
by querying the gateway, expire orders past their expiry."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from anyio import to_thread

from payhub.services import idempotency, webhooks
from payhub.services.checkout import expire_due_orders, refresh_payment
from payhub.services.context import Hub
from payhub.services.notifications import send_due_notifications
from payhub.store import reads

log = logging.getLogger(__name__)

RECONCILE_AFTER = timedelta(seconds=60)


async def deliver_events(hub: Hub) -> dict[str, int]:
    fanned = await to_thread.run_sync(webhooks.fan_out, hub)
    sent = await webhooks.deliver_due(hub, retry_scale=hub.settings.webhook_retry_scale)
    return {"fanned_out": fanned, "sent": sent}


async def run_once(hub: Hub) -> dict[str, int]:
    """One pass: deliver due events, query stale attempts (settling what the gateway says),
    then expire orders."""
    delivered = await deliver_events(hub)
    delivered.update(await send_due_notifications(hub))  # e-mail and Telegram (own job later)
    reconciled = 0
    stale = await reads.stale_attempts(hub.db, hub.clock.now(), quiet_for=RECONCILE_AFTER)
    for payment_id in stale:
        try:
            await refresh_payment(hub, payment_id)
            reconciled += 1
        except Exception:
            log.exception("reconciling %s failed", payment_id)
    expired = await expire_due_orders(hub)
    await to_thread.run_sync(idempotency.purge_expired, hub)
    return {**delivered, "reconciled": reconciled, "expired": expired}


async def run_forever(hub: Hub, interval: float = 5.0) -> None:
    while True:
        try:
            result = await run_once(hub)
            if any(result.values()):
                log.info("worker pass: %s", result)
        except Exception:
            log.exception("worker pass failed")
        await asyncio.sleep(interval)

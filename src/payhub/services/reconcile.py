"""Reconciliation on a schedule per attempt: when to ask the gateway again about a payment
attempt that has not settled, persisted on the attempt (`next_check_at`, `check_count`).

The delay grows with the attempt's age (1, 2, 5, 10, then 30 minutes), so a fresh
checkout is asked about soon and an old one rarely; a gateway that says it is asked too
often (a named delay, HTTP 429) pushes the next check further out. Workers claim due attempts
with a lease (store.attempts.claim_due_checks), so two never query the same one at once; a
browser return's query counts as a check too and moves the next one on.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from anyio import to_thread

from payhub.clock import as_utc
from payhub.domain.lifecycle import PaymentStatus
from payhub.services.checkout import CheckOutcome, check_attempt
from payhub.services.context import Hub
from payhub.store import attempts, outbox
from payhub.store.journal import enqueue_event
from payhub.store.tx import Tx

log = logging.getLogger(__name__)

# An attempt quiet this long with no check scheduled yet is due for its first one.
FIRST_CHECK_AFTER = timedelta(seconds=60)
# (age below which, delay until the next check)
BACKOFF_BY_AGE = (
    (timedelta(minutes=5), timedelta(minutes=1)),
    (timedelta(minutes=15), timedelta(minutes=2)),
    (timedelta(hours=1), timedelta(minutes=5)),
    (timedelta(hours=3), timedelta(minutes=10)),
)
LONGEST_DELAY = timedelta(minutes=30)
THROTTLED_DELAY = timedelta(minutes=5)  # at least, once a gateway says "too many queries"
_AWAITING = [PaymentStatus.PENDING.value, PaymentStatus.UNKNOWN.value]


def next_check_delay(
    age: timedelta, *, throttled: bool = False, retry_after: float | None = None
) -> timedelta:
    """How long to wait before asking the gateway again about an attempt this old."""
    delay = next((d for below, d in BACKOFF_BY_AGE if age < below), LONGEST_DELAY)
    if throttled:
        delay = max(delay * 2, THROTTLED_DELAY)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


@dataclass(frozen=True, slots=True)
class _Attempt:
    payment_id: str
    merchant_id: str
    order_id: str
    gateway_account_id: str
    created_at: datetime


def _attempt(hub: Hub, payment_id: str) -> _Attempt | None:
    with hub.db.session() as session:
        p = attempts.find_attempt(session, payment_id)
        if p is None:
            return None
        return _Attempt(
            p.id, p.merchant_id, p.order_id, p.gateway_account_id or "", as_utc(p.created_at)
        )


def _record(
    hub: Hub,
    attempt: _Attempt,
    before: str,
    outcome: CheckOutcome,
    worker: str | None,
) -> int | None:
    now = hub.clock.now()
    delay = next_check_delay(
        now - attempt.created_at, throttled=outcome.throttled, retry_after=outcome.retry_after
    )
    with hub.db.write() as tx:
        count = attempts.record_check(
            tx, attempt.payment_id, next_check_at=now + delay, worker=worker
        )
        settled_by_us = (
            worker is not None
            and before in _AWAITING
            and outcome.status == PaymentStatus.SUCCEEDED.value
        )
        key = f"operator.alert:reconciled_without_notification:{attempt.payment_id}"
        if settled_by_us and not outbox.event_key_exists(tx, attempt.merchant_id, key):
            enqueue_event(
                tx,
                merchant_id=attempt.merchant_id,
                event_type="operator.alert",
                event_key=key,
                payload={
                    "kind": "reconciled_without_notification",
                    "payment_id": attempt.payment_id,
                    "order_id": attempt.order_id,
                },
                now=now,
            )
        if worker is not None and outcome.error is not None and not outcome.throttled:
            _alert_gateway_error(tx, attempt, outcome.error, now)
        return count


def _alert_gateway_error(tx: Tx, attempt: _Attempt, code: str, now: datetime) -> None:
    """At most one `gateway_error` alert per gateway account and day (UTC): a gateway that
    keeps failing its queries is worth a look, not a message per attempt."""
    key = f"operator.alert:gateway_error:{attempt.gateway_account_id}:{now.date().isoformat()}"
    if outbox.event_key_exists(tx, attempt.merchant_id, key):
        return
    enqueue_event(
        tx,
        merchant_id=attempt.merchant_id,
        event_type="operator.alert",
        event_key=key,
        payload={
            "kind": "gateway_error",
            "gateway_account_id": attempt.gateway_account_id,
            "payment_id": attempt.payment_id,
            "code": code,
        },
        now=now,
    )


def _status(hub: Hub, payment_id: str) -> str | None:
    with hub.db.session() as session:
        return attempts.attempt_status(session, payment_id)


async def check_on_schedule(hub: Hub, payment_id: str, *, worker: str | None) -> CheckOutcome:
    """Query the attempt now and record the check with the next one's due time. `worker`
    is the claim holder; None for a browser return's query."""
    attempt = await to_thread.run_sync(_attempt, hub, payment_id)
    before = await to_thread.run_sync(_status, hub, payment_id)
    outcome = await check_attempt(hub, payment_id)
    if attempt is not None and outcome.asked:
        await to_thread.run_sync(_record, hub, attempt, before or "", outcome, worker)
    elif attempt is not None and worker is not None:
        # Not asked (cannot be queried): schedule far out so it is not claimed every pass.
        await to_thread.run_sync(
            _record, hub, attempt, before or "", CheckOutcome(outcome.status, False, True), worker
        )
    return outcome


def _claim(hub: Hub, worker: str, lease: timedelta, limit: int) -> list[str]:
    now = hub.clock.now()
    with hub.db.write() as tx:
        return attempts.claim_due_checks(
            tx,
            now,
            statuses=_AWAITING,
            quiet_since=now - FIRST_CHECK_AFTER,
            worker=worker,
            lease_until=now + lease,
            limit=limit,
        )


async def reconcile_due(
    hub: Hub,
    *,
    worker: str,
    concurrency: int = 4,
    lease: timedelta = timedelta(minutes=2),
    limit: int = 100,
) -> int:
    """Query every attempt whose check is due (claimed for `worker`), at most `concurrency`
    at once; one attempt's failure is logged and leaves the others alone. How many."""
    ids = await to_thread.run_sync(partial(_claim, hub, worker, lease, limit))
    slots = asyncio.Semaphore(concurrency)

    async def one(payment_id: str) -> None:
        async with slots:
            try:
                await check_on_schedule(hub, payment_id, worker=worker)
            except Exception:
                log.exception("reconciling %s failed", payment_id)

    await asyncio.gather(*(one(pid) for pid in ids))
    return len(ids)

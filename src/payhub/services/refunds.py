"""Refunds: their own records with their own states; never more than what is left.

The refund row is written (`pending`) and committed before the gateway is called; the
amount it reserves counts against what is left to refund, so two concurrent refunds can never
exceed the captured amount. Gateways without a refund API answer `NotSupported`; an operator
may then record a manual refund (money returned outside the gateway).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from anyio import to_thread

from payhub.clock import as_utc
from payhub.domain.errors import InvalidRequest, NotFound, RefundNotAllowed
from payhub.domain.lifecycle import OrderEvent, PaymentStatus
from payhub.gateways.base import (
    Gateway,
    GatewayError,
    GatewayUnavailable,
    InvalidPaymentRequest,
    NotSupported,
    RefundRef,
    RefundRequest,
    RefundStatus,
)
from payhub.money import MAX_AMOUNT_MINOR, Money
from payhub.services import ledger
from payhub.services.accounts import build_adapter, load_account
from payhub.services.checkout import gateway_throttled, payment_ref
from payhub.services.context import Hub
from payhub.services.reconcile import next_check_delay
from payhub.services.settlement import transition_order
from payhub.store import attempts, reads, refunds
from payhub.store.ids import new_id
from payhub.store.journal import add_audit, add_timeline, enqueue_event
from payhub.store.models import Refund
from payhub.store.tx import Tx, retry_write_conflicts

log = logging.getLogger(__name__)

# A succeeded payment refunds against its order; a rejected review's payment refunds the
# money it brought (it never paid the order).
REFUNDABLE = frozenset({PaymentStatus.SUCCEEDED.value, PaymentStatus.REJECTED.value})


class RefundsNotSupported(RefundNotAllowed):
    code = "refunds-not-supported"


def refund_view(r: Refund) -> dict[str, Any]:
    """The refund as the API shows it (the read model's shape)."""
    return reads.RefundView.of(r).as_dict()


@retry_write_conflicts
def _open_refund(
    hub: Hub,
    merchant_id: str,
    payment_id: str,
    amount: int | None,
    reason: str,
    manual: bool,
    actor: str,
) -> tuple[str, RefundRequest | None, str]:
    now = hub.clock.now()
    with hub.db.write() as tx:
        locked = attempts.lock_attempt(tx, payment_id)
        if locked is None or locked.merchant_id != merchant_id:
            raise NotFound(f"no payment {payment_id}")
        payment = attempts.find_attempt(tx, payment_id)
        assert payment is not None
        if payment.status not in REFUNDABLE:
            raise RefundNotAllowed(
                f"payment is {payment.status}; only succeeded payments (and rejected reviews) "
                "refund"
            )
        captured = payment.received_minor or payment.amount_minor
        left = captured - refunds.reserved_amount(tx, payment_id)
        value = left if amount is None else amount
        if value <= 0:
            raise RefundNotAllowed("nothing left to refund", refundable=max(left, 0))
        if value > left:
            raise RefundNotAllowed(
                f"refund of {Money(value, payment.currency).display()} exceeds what is left "
                f"({Money(left, payment.currency).display()})",
                refundable=left,
            )
        if payment.gateway_account_id is None and not manual:
            raise RefundsNotSupported(
                "this payment was recorded by an operator; record a manual refund"
            )
        adapter = None
        if payment.gateway_account_id is not None:
            adapter = build_adapter(hub, load_account(tx, payment.gateway_account_id))
        if not manual:
            assert adapter is not None
            if not adapter.capabilities.refund:
                raise RefundsNotSupported(
                    f"{payment.gateway} has no refund API; record a manual refund instead "
                    '(POST the same request with "manual": true)'
                )
            if value < captured and not adapter.capabilities.partial_refund:
                raise RefundsNotSupported(f"{payment.gateway} refunds only the full amount")
        refund_id = new_id("re")
        refund = refunds.new_refund(
            tx,
            id=refund_id,
            merchant_id=merchant_id,
            payment_id=payment_id,
            order_id=payment.order_id,
            reference=adapter.new_reference(
                payment.serial * 1000 + refunds.refund_count(tx, payment_id) + 1, now
            )
            if adapter is not None and not manual
            else f"manual-{refund_id}",
            amount_minor=value,
            currency=payment.currency,
            status="pending",
            manual=manual,
            reason=reason[:500],
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="refund.manual_recorded" if manual else "refund.requested",
            subject=refund_id,
            after={"payment": payment_id, "amount": value, "manual": manual},
            now=now,
        )
        request = None
        if not manual:
            request = RefundRequest(
                payment=payment_ref(payment),
                reference=refund.reference,
                amount=Money(value, payment.currency),
                full=value == captured,  # value <= what is left <= captured
                reason=reason or "refund",
                now=now,
                requested_by=actor[:30],
            )
        return refund_id, request, payment.gateway_account_id or ""


async def create_refund(
    hub: Hub,
    merchant_id: str,
    payment_id: str,
    *,
    amount: int | None,
    reason: str,
    manual: bool = False,
    actor: str,
) -> dict[str, Any]:
    if amount is not None and not 0 < amount <= MAX_AMOUNT_MINOR:
        raise InvalidRequest(f"amount must be between 1 and {MAX_AMOUNT_MINOR}")
    refund_id, request, account_id = await to_thread.run_sync(
        _open_refund, hub, merchant_id, payment_id, amount, reason, manual, actor
    )
    if request is None:
        return await to_thread.run_sync(
            _settle_refund, hub, refund_id, "succeeded", "manual", None, "recorded by operator"
        )
    with hub.db.session() as session:
        adapter = build_adapter(hub, load_account(session, account_id))
    try:
        result = await adapter.refund(request)
    except InvalidPaymentRequest as exc:
        # Refused before reaching the gateway (e.g. below its minimum): nothing happened,
        # so the reservation is dropped and the caller gets a clear 422.
        await to_thread.run_sync(_drop_refund, hub, refund_id)
        raise InvalidRequest(f"{exc.message}") from None
    except NotSupported as exc:
        return await to_thread.run_sync(
            _settle_refund,
            hub,
            refund_id,
            "failed",
            exc.gateway_code or "not_supported",
            None,
            exc.message,
        )
    except GatewayError as exc:
        if not exc.outcome_known:
            # Keep it pending: the amount stays reserved until someone checks the gateway.
            return await to_thread.run_sync(
                _settle_refund,
                hub,
                refund_id,
                "pending",
                exc.gateway_code or "unknown",
                None,
                exc.message,
            )
        return await to_thread.run_sync(
            _settle_refund,
            hub,
            refund_id,
            "failed",
            exc.gateway_code or "rejected",
            None,
            exc.message,
        )
    status = {
        RefundStatus.SUCCEEDED: "succeeded",
        # Accepted but still processing at the gateway (each adapter says which codes): the
        # refund stays pending, its amount reserved; the order and credits are untouched.
        RefundStatus.PENDING: "pending",
        RefundStatus.FAILED: "failed",
    }[result.status]
    return await to_thread.run_sync(
        _settle_refund,
        hub,
        refund_id,
        status,
        result.gateway_code,
        result.gateway_refund_id,
        result.message,
    )


@retry_write_conflicts
def _drop_refund(hub: Hub, refund_id: str) -> None:
    with hub.db.write() as tx:
        refund = refunds.refund_to_change(tx, refund_id)
        if refund is not None and refund.status == "pending":
            refunds.drop_refund(tx, refund)


@retry_write_conflicts
def _settle_refund(
    hub: Hub, refund_id: str, status: str, code: str, gateway_refund_id: str | None, message: str
) -> dict[str, Any]:
    now = hub.clock.now()
    with hub.db.write() as tx:
        refund = refunds.refund_to_change(tx, refund_id)
        assert refund is not None
        return _record_answer(tx, refund, now, status, code, gateway_refund_id, message)


def settle_pending_refund(
    hub: Hub, refund_id: str, status: str, code: str, gateway_refund_id: str | None, message: str
) -> dict[str, Any] | None:
    """A re-check's final answer, applied once: only a refund still pending changes (it is
    locked first); None when it had been settled meanwhile."""
    now = hub.clock.now()
    with hub.db.write() as tx:
        refund = refunds.lock_pending_refund(tx, refund_id)
        if refund is None:
            return None
        return _record_answer(tx, refund, now, status, code, gateway_refund_id, message)


def _record_answer(
    tx: Tx,
    refund: Refund,
    now: datetime,
    status: str,
    code: str,
    gateway_refund_id: str | None,
    message: str,
) -> dict[str, Any]:
    """The refund is `status` now; a success moves the order's refunded amount (and, when
    it completes the refund, reverses the credits), a success or failure tells the merchant."""
    payment = attempts.lock_attempt(tx, refund.payment_id)
    assert payment is not None
    refund.status = status
    refund.gateway_code = code
    refund.gateway_refund_id = gateway_refund_id
    refund.message = (message or "")[:500]
    refund.updated_at = now
    if status == "succeeded" and payment.status == PaymentStatus.REJECTED.value:
        # Money returned from a rejected review never paid the order: the order's refunded
        # amount, its status and its credits stay as they are.
        payment.refunded_minor += refund.amount_minor
        attempts.save(tx, payment)
        enqueue_event(
            tx,
            merchant_id=refund.merchant_id,
            event_type="refund.succeeded",
            event_key=f"refund.succeeded:{refund.id}",
            payload=refund_view(refund),
            now=now,
            subject=("refund", refund.id),
        )
    elif status == "succeeded":
        order = attempts.lock_order(tx, refund.order_id)
        payment.refunded_minor += refund.amount_minor
        order.refunded_minor = min(order.total_minor, order.refunded_minor + refund.amount_minor)
        captured = payment.received_minor or payment.amount_minor
        full = payment.refunded_minor >= captured
        transition_order(
            tx,
            order,
            OrderEvent.FULLY_REFUNDED if full else OrderEvent.PARTIALLY_REFUNDED,
            now,
            actor=refund.created_by,
        )
        attempts.save(tx, payment, order)
        if full:
            ledger.reverse_credits(tx, order, now)
        enqueue_event(
            tx,
            merchant_id=refund.merchant_id,
            event_type="refund.succeeded",
            event_key=f"refund.succeeded:{refund.id}",
            payload=refund_view(refund),
            now=now,
            subject=("refund", refund.id),
        )
    elif status == "failed":
        enqueue_event(
            tx,
            merchant_id=refund.merchant_id,
            event_type="refund.failed",
            event_key=f"refund.failed:{refund.id}",
            payload=refund_view(refund),
            now=now,
            subject=("refund", refund.id),
        )
    add_timeline(
        tx,
        merchant_id=refund.merchant_id,
        order_id=refund.order_id,
        payment_id=refund.payment_id,
        kind=f"refund.{status}",
        message=f"refund {Money(refund.amount_minor, refund.currency).display()} {status}"
        f"{' (manual)' if refund.manual else ''}: {message}"[:500],
        now=now,
    )
    return refund_view(refund)


def list_refunds(hub: Hub, merchant_id: str, payment_id: str) -> list[dict[str, Any]]:
    with hub.db.session() as session:
        payment = attempts.find_attempt(session, payment_id)
        if payment is None or payment.merchant_id != merchant_id:
            raise NotFound(f"no payment {payment_id}")
        return [refund_view(r) for r in refunds.refunds_of(session, payment_id)]


# -------------------------------------------------------------------- tracking pending ones

# A pending refund is first re-checked this long after it was answered, then on the
# reconciliation schedule (services.reconcile.next_check_delay) by the refund's age.
FIRST_REFUND_CHECK_AFTER = timedelta(seconds=30)
NO_QUERY_DELAY = timedelta(hours=6)  # a gateway with no refund query: an operator decides


def _claim_refunds(hub: Hub, worker: str, lease: timedelta, limit: int) -> list[str]:
    now = hub.clock.now()
    with hub.db.write() as tx:
        return refunds.claim_pending_refunds(
            tx,
            now,
            quiet_since=now - FIRST_REFUND_CHECK_AFTER,
            worker=worker,
            lease_until=now + lease,
            limit=limit,
        )


def _refund_target(hub: Hub, refund_id: str) -> tuple[Gateway, RefundRef, datetime] | None:
    with hub.db.session() as session:
        refund = refunds.find_refund(session, refund_id)
        payment = attempts.find_attempt(session, refund.payment_id) if refund else None
        if refund is None or payment is None or payment.gateway_account_id is None:
            return None
        adapter = build_adapter(hub, load_account(session, payment.gateway_account_id))
        ref = RefundRef(
            payment=payment_ref(payment),
            reference=refund.reference,
            amount=Money(refund.amount_minor, refund.currency),
            gateway_refund_id=refund.gateway_refund_id,
            now=hub.clock.now(),
        )
        return adapter, ref, as_utc(refund.created_at)


def _schedule_refund(hub: Hub, refund_id: str, worker: str, delay: timedelta | None) -> None:
    now = hub.clock.now()
    with hub.db.write() as tx:
        refunds.record_refund_check(
            tx, refund_id, worker=worker, next_check_at=None if delay is None else now + delay
        )


async def check_pending_refund(hub: Hub, refund_id: str, *, worker: str) -> str:
    """Ask the gateway where a pending refund stands; apply a final answer (once). The
    refund's status afterwards."""
    target = await to_thread.run_sync(_refund_target, hub, refund_id)
    if target is None:
        await to_thread.run_sync(_schedule_refund, hub, refund_id, worker, NO_QUERY_DELAY)
        return "pending"
    adapter, ref, created_at = target
    age = hub.clock.now() - created_at
    try:
        result = await adapter.refund_status(ref)
    except NotSupported:
        await to_thread.run_sync(_schedule_refund, hub, refund_id, worker, NO_QUERY_DELAY)
        return "pending"
    except GatewayError as exc:
        retry_after = exc.retry_after if isinstance(exc, GatewayUnavailable) else None
        delay = next_check_delay(age, throttled=gateway_throttled(exc), retry_after=retry_after)
        await to_thread.run_sync(_schedule_refund, hub, refund_id, worker, delay)
        return "pending"
    if result.status is RefundStatus.PENDING:
        delay = next_check_delay(age)
        await to_thread.run_sync(_schedule_refund, hub, refund_id, worker, delay)
        return "pending"
    status = "succeeded" if result.status is RefundStatus.SUCCEEDED else "failed"
    await to_thread.run_sync(
        partial(
            settle_pending_refund,
            hub,
            refund_id,
            status,
            result.gateway_code,
            result.gateway_refund_id or ref.gateway_refund_id,
            result.message,
        )
    )
    await to_thread.run_sync(_schedule_refund, hub, refund_id, worker, None)
    return status


async def track_pending_refunds(
    hub: Hub, *, worker: str, lease: timedelta = timedelta(minutes=2), limit: int = 50
) -> int:
    """Re-check every pending gateway refund that is due (claimed for `worker`), one after
    another; one refund's failure is logged and leaves the others. How many were checked."""
    ids = await to_thread.run_sync(_claim_refunds, hub, worker, lease, limit)
    for refund_id in ids:
        try:
            await check_pending_refund(hub, refund_id, worker=worker)
        except Exception:
            log.exception("checking refund %s failed", refund_id)
    return len(ids)

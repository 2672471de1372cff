"""Apply one verified gateway fact to an attempt and its order, with every effect, once.

This is step 3 of the inbound pipeline and is shared by notifications, server-side queries,
operator-recorded payments and review decisions. The caller holds a transaction and has
locked the attempt and its order (store.attempts, read as records: the one row model of
settlement); this module records the event under its unique dedupe key (store.events),
moves the attempt and the order through their transition tables, and stages the effects
(credits, stock, outbox, audit, timeline) in that same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from payhub.domain.amounts import AmountCheck, check_amount
from payhub.domain.lifecycle import (
    ORDER_HOLDS_STOCK,
    ORDER_IS_PAID,
    PAYMENT_LIVE,
    OrderEvent,
    OrderStatus,
    PaymentEvent,
    PaymentStatus,
    next_order_status,
    next_payment_status,
)
from payhub.gateways.base import ApplyOutcome, GatewayStatus
from payhub.money import Money
from payhub.services import inventory, ledger
from payhub.store import attempts, events
from payhub.store.attempts import AttemptRecord, OrderRecord
from payhub.store.journal import add_audit, add_timeline, enqueue_event
from payhub.store.tx import Tx


@dataclass(frozen=True, slots=True)
class GatewayReport:
    """A verified statement from the gateway (or an operator) about one attempt."""

    status: GatewayStatus
    dedupe_key: str
    gateway_code: str
    amount: Money | None
    source: str  # notification | query | operator
    message: str = ""
    gateway_txn_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


_EVENT_FOR_STATUS = {
    GatewayStatus.PENDING: PaymentEvent.REPORTED_PENDING,
    GatewayStatus.AUTHORIZED: PaymentEvent.REPORTED_AUTHORIZED,
    GatewayStatus.SUCCEEDED: PaymentEvent.REPORTED_SUCCEEDED,
    GatewayStatus.PARTIALLY_PAID: PaymentEvent.NEEDS_REVIEW,
    GatewayStatus.FAILED: PaymentEvent.REPORTED_FAILED,
    GatewayStatus.CANCELLED: PaymentEvent.REPORTED_CANCELLED,
    GatewayStatus.EXPIRED: PaymentEvent.REPORTED_EXPIRED,
}


_LIVE_STATUSES = [s.value for s in PAYMENT_LIVE]


def event_account_key(payment: AttemptRecord) -> str:
    """The scope of dedupe keys: the gateway account, or the merchant for manual payments."""
    return payment.gateway_account_id or f"manual:{payment.merchant_id}"


def apply_report(
    tx: Tx,
    payment: AttemptRecord,
    order: OrderRecord,
    report: GatewayReport,
    now: datetime,
    *,
    event_is_new: bool = False,
    inbound_request_id: int | None = None,
) -> ApplyOutcome:
    """Record `report` against the locked `payment` and apply its effects exactly once.

    `payment` and `order` were locked by the caller (store.attempts); `event_is_new` says
    the caller has found the report's dedupe key unrecorded in this transaction, after
    taking the lock. The unique constraint on the key still stands behind both. The
    attempt and the order are saved once at the end, with the fields that changed."""
    outcome = _apply_report(tx, payment, order, report, now, event_is_new, inbound_request_id)
    attempts.save(tx, payment, order)
    return outcome


def _apply_report(
    tx: Tx,
    payment: AttemptRecord,
    order: OrderRecord,
    report: GatewayReport,
    now: datetime,
    event_is_new: bool,
    inbound_request_id: int | None,
) -> ApplyOutcome:
    account_key = event_account_key(payment)
    if not event_is_new and events.event_recorded(tx, account_key, report.dedupe_key):
        return ApplyOutcome.DUPLICATE

    before = PaymentStatus(payment.status)
    event, review_reason = _classify(payment, order, report)
    after = next_payment_status(before, event) if event is not None else None

    events.record_event(
        tx,
        merchant_id=payment.merchant_id,
        account_key=account_key,
        payment_id=payment.id,
        dedupe_key=report.dedupe_key,
        source=report.source,
        gateway_status=report.status.value,
        gateway_code=report.gateway_code,
        amount_minor=report.amount.minor if report.amount else None,
        currency=report.amount.currency if report.amount else None,
        status_before=before.value,
        status_after=(after or before).value,
        inbound_request_id=inbound_request_id,
        payload=report.payload,
        now=now,
    )
    if report.gateway_txn_id and not payment.gateway_txn_id:
        payment.gateway_txn_id = report.gateway_txn_id
    if after is None or after == before:
        return ApplyOutcome.APPLIED

    payment.status = after.value
    payment.updated_at = now
    if report.amount is not None and after in (PaymentStatus.SUCCEEDED, PaymentStatus.REVIEW):
        payment.received_minor = report.amount.minor
    _record_payment_change(tx, payment, order, before, after, report, review_reason, now)

    if after == PaymentStatus.SUCCEEDED:
        settle_order_paid(tx, order, payment, now, actor=f"gateway:{payment.gateway}")
    elif after == PaymentStatus.REVIEW:
        _send_to_review(tx, order, payment, review_reason or "review", now)
    elif after in (PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED):
        payment.failure_code = report.gateway_code
        payment.failure_message = report.message[:500] or None
        _after_attempt_failed(tx, order, payment, now)
    if after == PaymentStatus.REVIEW and review_reason == "amount_mismatch":
        return ApplyOutcome.AMOUNT_MISMATCH
    return ApplyOutcome.APPLIED


def _classify(
    payment: AttemptRecord, order: OrderRecord, report: GatewayReport
) -> tuple[PaymentEvent | None, str | None]:
    """Which lifecycle event this report is, and why it needs review if it does."""
    event = _EVENT_FOR_STATUS.get(report.status)
    if event is None:
        return None, None
    if report.status == GatewayStatus.PARTIALLY_PAID:
        return PaymentEvent.NEEDS_REVIEW, "amount_mismatch"
    if report.status != GatewayStatus.SUCCEEDED:
        return event, None
    expected = Money(payment.amount_minor, payment.currency)
    if check_amount(expected, report.amount) != AmountCheck.MATCH:
        return PaymentEvent.NEEDS_REVIEW, "amount_mismatch"
    if OrderStatus(order.status) in ORDER_IS_PAID and order.paid_payment_id != payment.id:
        return PaymentEvent.NEEDS_REVIEW, "double_payment"
    if OrderStatus(order.status) in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
        return PaymentEvent.NEEDS_REVIEW, "paid_after_expiry"
    if PaymentStatus(payment.status) in (PaymentStatus.CANCELLED, PaymentStatus.EXPIRED):
        return PaymentEvent.NEEDS_REVIEW, "paid_after_expiry"
    return event, None


def _record_payment_change(
    tx: Tx,
    payment: AttemptRecord,
    order: OrderRecord,
    before: PaymentStatus,
    after: PaymentStatus,
    report: GatewayReport,
    review_reason: str | None,
    now: datetime,
) -> None:
    amount = report.amount.display() if report.amount else "no amount"
    note = f" ({review_reason})" if review_reason else ""
    add_timeline(
        tx,
        merchant_id=payment.merchant_id,
        order_id=order.id,
        payment_id=payment.id,
        kind=f"payment.{after.value}",
        message=f"{payment.gateway} {report.source}: {before.value} → {after.value}{note}, "
        f"{amount}, code {report.gateway_code}",
        now=now,
    )
    add_audit(
        tx,
        merchant_id=payment.merchant_id,
        actor=f"{report.source}:{payment.gateway}",
        action="payment.transition",
        subject=payment.id,
        before={"status": before.value},
        after={"status": after.value, "code": report.gateway_code, "reason": review_reason},
        now=now,
    )


def transition_order(
    tx: Tx, order: OrderRecord, event: OrderEvent, now: datetime, *, actor: str
) -> bool:
    """Move the order through its table; False (and no change) when the event does not apply."""
    before = OrderStatus(order.status)
    after = next_order_status(before, event)
    if after is None or after == before:
        return False
    order.status = after.value
    order.updated_at = now
    add_timeline(
        tx,
        merchant_id=order.merchant_id,
        order_id=order.id,
        kind=f"order.{after.value}",
        message=f"order {before.value} → {after.value}",
        now=now,
    )
    add_audit(
        tx,
        merchant_id=order.merchant_id,
        actor=actor,
        action="order.transition",
        subject=order.id,
        before={"status": before.value},
        after={"status": after.value, "event": event.value},
        now=now,
    )
    return True


def settle_order_paid(
    tx: Tx,
    order: OrderRecord,
    payment: AttemptRecord,
    now: datetime,
    *,
    actor: str,
    event: OrderEvent = OrderEvent.PAYMENT_SUCCEEDED,
) -> None:
    """The order becomes paid: credits once, the `order.paid` event once."""
    if not transition_order(tx, order, event, now, actor=actor):
        return
    order.paid_at = now
    order.paid_payment_id = payment.id
    credits = ledger.grant_credits(tx, order, now)
    enqueue_event(
        tx,
        merchant_id=order.merchant_id,
        event_type="order.paid",
        event_key=f"order.paid:{order.id}",
        payload={
            "order_id": order.id,
            "merchant_reference": order.merchant_reference,
            "payment_id": payment.id,
            "gateway": payment.gateway,
            "amount": payment.amount_minor,
            "currency": payment.currency,
            "credits_granted": credits,
        },
        now=now,
        subject=("order", order.id),
    )


def _send_to_review(
    tx: Tx, order: OrderRecord, payment: AttemptRecord, reason: str, now: datetime
) -> None:
    payment.review_reason = reason
    transition_order(tx, order, OrderEvent.PAYMENT_NEEDS_REVIEW, now, actor="pipeline")
    payload = {
        "order_id": order.id,
        "merchant_reference": order.merchant_reference,
        "payment_id": payment.id,
        "gateway": payment.gateway,
        "reason": reason,
        "expected": payment.amount_minor,
        "received": payment.received_minor,
        "currency": payment.currency,
    }
    enqueue_event(
        tx,
        merchant_id=order.merchant_id,
        event_type="payment.review",
        event_key=f"payment.review:{payment.id}",
        payload=payload,
        now=now,
        subject=("payment", payment.id),
    )
    enqueue_event(
        tx,
        merchant_id=order.merchant_id,
        event_type="operator.alert",
        event_key=f"operator.alert:review:{payment.id}",
        payload={"alert": "payment_needs_review", **payload},
        now=now,
    )


def _after_attempt_failed(
    tx: Tx, order: OrderRecord, payment: AttemptRecord, now: datetime
) -> None:
    other_live = attempts.other_live_attempt(tx, order.id, payment.id, _LIVE_STATUSES)
    enqueue_event(
        tx,
        merchant_id=order.merchant_id,
        event_type="payment.failed",
        event_key=f"payment.failed:{payment.id}",
        payload={
            "order_id": order.id,
            "payment_id": payment.id,
            "gateway": payment.gateway,
            "status": payment.status,
            "code": payment.failure_code,
        },
        now=now,
        subject=("payment", payment.id),
    )
    if other_live:
        return
    transition_order(tx, order, OrderEvent.PAYMENT_FAILED, now, actor="pipeline")
    if order.cancel_on_failure and OrderStatus(order.status) in ORDER_HOLDS_STOCK:
        transition_order(tx, order, OrderEvent.CANCEL_REQUESTED, now, actor="pipeline")
        inventory.release_stock(tx, order.merchant_id, order.id, now)
        enqueue_event(
            tx,
            merchant_id=order.merchant_id,
            event_type="order.cancelled",
            event_key=f"order.cancelled:{order.id}",
            payload={
                "order_id": order.id,
                "merchant_reference": order.merchant_reference,
                "reason": "payment_failed",
            },
            now=now,
            subject=("order", order.id),
        )

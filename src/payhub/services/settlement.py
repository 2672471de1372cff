"""Apply one verified gateway fact to an attempt and its order, with every effect, once.

This is step 3 of the inbound pipeline and is shared by notifications, server-side queries
and operator-recorded payments. The caller holds a transaction; this module locks the
payment row, records the event under its unique dedupe key, moves the attempt and the order
through their transition tables, and writes the effects (credits, stock, outbox, audit,
timeline) in that same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

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
from payhub.services.records import add_audit, add_timeline, enqueue_event
from payhub.store.direct import DirectStatement
from payhub.store.models import Order, Payment
from payhub.store.models import PaymentEvent as PaymentEventRow
from payhub.store.rows import OrderRow, PaymentRow, rows_from, save_row, select_payment_with_order
from payhub.store.tables import table_of


class PaymentFacts(Protocol):
    """What settlement reads and changes on an attempt: an ORM `Payment` (written by the
    session's flush) or a `PaymentRow` (written by `save_row`)."""

    id: str
    merchant_id: str
    order_id: str
    gateway_account_id: str | None
    gateway: str
    gateway_txn_id: str | None
    status: str
    amount_minor: int
    currency: str
    received_minor: int | None
    review_reason: str | None
    failure_code: str | None
    failure_message: str | None
    updated_at: datetime


class OrderFacts(Protocol):
    """What settlement reads and changes on an order: an ORM `Order` or an `OrderRow`."""

    id: str
    merchant_id: str
    merchant_reference: str
    customer_id: str | None
    status: str
    credits_to_grant: int
    cancel_on_failure: bool
    paid_at: datetime | None
    paid_payment_id: str | None
    updated_at: datetime


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


# Built once: statements on the webhook path take their values as parameters, so
# SQLAlchemy neither rebuilds them nor recomputes their cache keys per call.
_LOCK_PAYMENT = select(Payment).where(Payment.id == bindparam("payment_id")).with_for_update()
_LOCK_ORDER = select(Order).where(Order.id == bindparam("order_id")).with_for_update()
_LOCK_ROWS_BY_REFERENCE = DirectStatement(
    select_payment_with_order().where(
        PaymentRow.table.c.gateway_account_id == bindparam("account_id"),
        PaymentRow.table.c.gateway_reference == bindparam("reference"),
    )
)
_FIND_EVENT = DirectStatement(
    select(PaymentEventRow.id).where(
        PaymentEventRow.gateway_account_id == bindparam("account_key"),
        PaymentEventRow.dedupe_key == bindparam("dedupe_key"),
    )
)
_INSERT_EVENT = DirectStatement(insert(table_of(PaymentEventRow)))


def lock_payment(session: Session, payment_id: str) -> Payment | None:
    """The attempt, locked for this transaction (FOR UPDATE on PostgreSQL; on SQLite the
    BEGIN IMMEDIATE write lock already serialises writers)."""
    return session.scalar(_LOCK_PAYMENT, {"payment_id": payment_id})


def lock_rows_by_reference(
    session: Session, account_id: str, reference: str
) -> tuple[PaymentRow, OrderRow] | None:
    """The attempt an inbound notification names and its order, both locked and read as
    rows, in one statement.

    Check the dedupe key in a statement of its own, after this one: on PostgreSQL a
    statement that waited for the lock still reads with the snapshot it started with, so
    it would miss an event that the lock holder has just committed."""
    found = _LOCK_ROWS_BY_REFERENCE.run(session, {"account_id": account_id, "reference": reference})
    return rows_from(found[0]) if found else None


def lock_order(session: Session, order_id: str) -> Order:
    order = session.scalar(_LOCK_ORDER, {"order_id": order_id})
    assert order is not None
    return order


def event_recorded(session: Session, account_key: str, dedupe_key: str) -> bool:
    """Whether the fact with this dedupe key is already recorded for the account."""
    return bool(_FIND_EVENT.run(session, {"account_key": account_key, "dedupe_key": dedupe_key}))


def event_account_key(payment: PaymentFacts) -> str:
    """The scope of dedupe keys: the gateway account, or the merchant for manual payments."""
    return payment.gateway_account_id or f"manual:{payment.merchant_id}"


def apply_report(
    session: Session,
    payment: PaymentFacts,
    report: GatewayReport,
    now: datetime,
    *,
    order: OrderFacts | None = None,
    event_is_new: bool = False,
    inbound_request_id: int | None = None,
) -> ApplyOutcome:
    """Record `report` against the locked `payment` and apply its effects exactly once.

    `order` is the payment's order when the caller has already locked it; `event_is_new`
    says the caller has found the report's dedupe key unrecorded in this transaction, after
    taking the lock. The unique constraint on the key still stands behind both. Effects are
    written as plain INSERT/UPDATE statements; the payment and order are written once at
    the end (autoflush off), which keeps the per-webhook cost low."""
    with session.no_autoflush:
        outcome = _apply_report(
            session, payment, report, now, order, event_is_new, inbound_request_id
        )
    for changed in (payment, order):
        if isinstance(changed, PaymentRow | OrderRow):
            save_row(session, changed)
    session.flush()
    return outcome


def _apply_report(
    session: Session,
    payment: PaymentFacts,
    report: GatewayReport,
    now: datetime,
    order: OrderFacts | None,
    event_is_new: bool,
    inbound_request_id: int | None,
) -> ApplyOutcome:
    account_key = event_account_key(payment)
    if not event_is_new and event_recorded(session, account_key, report.dedupe_key):
        return ApplyOutcome.DUPLICATE

    if order is None:
        order = lock_order(session, payment.order_id)
    before = PaymentStatus(payment.status)
    event, review_reason = _classify(payment, order, report)
    after = next_payment_status(before, event) if event is not None else None

    _INSERT_EVENT.run(
        session,
        dict(
            merchant_id=payment.merchant_id,
            gateway_account_id=account_key,
            payment_id=payment.id,
            dedupe_key=report.dedupe_key,
            source=report.source,
            gateway_status=report.status.value,
            gateway_code=report.gateway_code,
            amount_minor=report.amount.minor if report.amount else None,
            currency=report.amount.currency if report.amount else None,
            payment_status_before=before.value,
            payment_status_after=(after or before).value,
            inbound_request_id=inbound_request_id,
            payload=report.payload,
            created_at=now,
        ),
    )
    if report.gateway_txn_id and not payment.gateway_txn_id:
        payment.gateway_txn_id = report.gateway_txn_id
    if after is None or after == before:
        return ApplyOutcome.APPLIED

    payment.status = after.value
    payment.updated_at = now
    if report.amount is not None and after in (PaymentStatus.SUCCEEDED, PaymentStatus.REVIEW):
        payment.received_minor = report.amount.minor
    _record_payment_change(session, payment, order, before, after, report, review_reason, now)

    if after == PaymentStatus.SUCCEEDED:
        settle_order_paid(session, order, payment, now, actor=f"gateway:{payment.gateway}")
    elif after == PaymentStatus.REVIEW:
        _send_to_review(session, order, payment, review_reason or "review", now)
    elif after in (PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.EXPIRED):
        payment.failure_code = report.gateway_code
        payment.failure_message = report.message[:500] or None
        _after_attempt_failed(session, order, payment, now)
    if after == PaymentStatus.REVIEW and review_reason == "amount_mismatch":
        return ApplyOutcome.AMOUNT_MISMATCH
    return ApplyOutcome.APPLIED


def _classify(
    payment: PaymentFacts, order: OrderFacts, report: GatewayReport
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
    session: Session,
    payment: PaymentFacts,
    order: OrderFacts,
    before: PaymentStatus,
    after: PaymentStatus,
    report: GatewayReport,
    review_reason: str | None,
    now: datetime,
) -> None:
    amount = report.amount.display() if report.amount else "no amount"
    note = f" ({review_reason})" if review_reason else ""
    add_timeline(
        session,
        merchant_id=payment.merchant_id,
        order_id=order.id,
        payment_id=payment.id,
        kind=f"payment.{after.value}",
        message=f"{payment.gateway} {report.source}: {before.value} → {after.value}{note}, "
        f"{amount}, code {report.gateway_code}",
        now=now,
    )
    add_audit(
        session,
        merchant_id=payment.merchant_id,
        actor=f"{report.source}:{payment.gateway}",
        action="payment.transition",
        subject=payment.id,
        before={"status": before.value},
        after={"status": after.value, "code": report.gateway_code, "reason": review_reason},
        now=now,
    )


def transition_order(
    session: Session, order: OrderFacts, event: OrderEvent, now: datetime, *, actor: str
) -> bool:
    """Move the order through its table; False (and no change) when the event does not apply."""
    before = OrderStatus(order.status)
    after = next_order_status(before, event)
    if after is None or after == before:
        return False
    order.status = after.value
    order.updated_at = now
    add_timeline(
        session,
        merchant_id=order.merchant_id,
        order_id=order.id,
        kind=f"order.{after.value}",
        message=f"order {before.value} → {after.value}",
        now=now,
    )
    add_audit(
        session,
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
    session: Session,
    order: OrderFacts,
    payment: PaymentFacts,
    now: datetime,
    *,
    actor: str,
    event: OrderEvent = OrderEvent.PAYMENT_SUCCEEDED,
) -> None:
    """The order becomes paid: credits once, the `order.paid` event once."""
    if not transition_order(session, order, event, now, actor=actor):
        return
    order.paid_at = now
    order.paid_payment_id = payment.id
    credits = ledger.grant_credits(session, order, now)
    enqueue_event(
        session,
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
    )


def _send_to_review(
    session: Session, order: OrderFacts, payment: PaymentFacts, reason: str, now: datetime
) -> None:
    payment.review_reason = reason
    transition_order(session, order, OrderEvent.PAYMENT_NEEDS_REVIEW, now, actor="pipeline")
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
        session,
        merchant_id=order.merchant_id,
        event_type="payment.review",
        event_key=f"payment.review:{payment.id}",
        payload=payload,
        now=now,
    )
    enqueue_event(
        session,
        merchant_id=order.merchant_id,
        event_type="operator.alert",
        event_key=f"operator.alert:review:{payment.id}",
        payload={"alert": "payment_needs_review", **payload},
        now=now,
    )


def _after_attempt_failed(
    session: Session, order: OrderFacts, payment: PaymentFacts, now: datetime
) -> None:
    other_live = session.scalar(
        select(Payment.id).where(
            Payment.order_id == order.id,
            Payment.id != payment.id,
            Payment.status.in_([s.value for s in PAYMENT_LIVE]),
        )
    )
    enqueue_event(
        session,
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
    )
    if other_live is not None:
        return
    transition_order(session, order, OrderEvent.PAYMENT_FAILED, now, actor="pipeline")
    if order.cancel_on_failure and OrderStatus(order.status) in ORDER_HOLDS_STOCK:
        transition_order(session, order, OrderEvent.CANCEL_REQUESTED, now, actor="pipeline")
        inventory.release_stock(session, order.merchant_id, order.id, now)
        enqueue_event(
            session,
            merchant_id=order.merchant_id,
            event_type="order.cancelled",
            event_key=f"order.cancelled:{order.id}",
            payload={
                "order_id": order.id,
                "merchant_reference": order.merchant_reference,
                "reason": "payment_failed",
            },
            now=now,
        )

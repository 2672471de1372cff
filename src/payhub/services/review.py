"""The review queue: payments where money moved but nothing settled by itself.

An operator resolves one either by accepting it (the order becomes paid, with its credits
and `order.paid` event, exactly once) or by refunding it. A second payment of an order that
is already paid can only be refunded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from payhub.domain.errors import Conflict, NotFound
from payhub.domain.lifecycle import (
    OrderEvent,
    PaymentEvent,
    PaymentStatus,
    next_payment_status,
)
from payhub.services.context import Hub
from payhub.services.orders import payment_view
from payhub.services.records import add_audit, add_timeline
from payhub.services.settlement import (
    event_account_key,
    lock_order,
    lock_payment,
    settle_order_paid,
)
from payhub.store.models import Payment
from payhub.store.models import PaymentEvent as PaymentEventRow


def list_review_queue(hub: Hub, merchant_id: str) -> list[dict[str, Any]]:
    with hub.db.session() as session:
        rows = session.scalars(
            select(Payment)
            .where(Payment.merchant_id == merchant_id, Payment.status == PaymentStatus.REVIEW)
            .order_by(Payment.updated_at)
        ).all()
        return [payment_view(p) for p in rows]


def accept_review(
    hub: Hub, merchant_id: str, payment_id: str, *, actor: str, note: str
) -> dict[str, Any]:
    now = hub.clock.now()
    with hub.db.transaction() as session:
        payment = lock_payment(session, payment_id)
        if payment is None or payment.merchant_id != merchant_id:
            raise NotFound(f"no payment {payment_id}")
        after = next_payment_status(PaymentStatus(payment.status), PaymentEvent.OPERATOR_ACCEPTED)
        if after is None:
            raise Conflict(f"payment is {payment.status}; only payments in review can be accepted")
        if payment.review_reason == "double_payment":
            raise Conflict("the order was already paid by another attempt; refund this one")
        order = lock_order(session, payment.order_id)
        session.execute(
            insert(PaymentEventRow).values(
                merchant_id=merchant_id,
                gateway_account_id=event_account_key(payment),
                payment_id=payment.id,
                dedupe_key=f"operator:accept:{payment.id}",
                source="operator",
                gateway_status="succeeded",
                gateway_code="operator_accepted",
                amount_minor=payment.received_minor,
                currency=payment.currency,
                payment_status_before=payment.status,
                payment_status_after=after.value,
                payload={"actor": actor, "note": note[:500]},
                created_at=now,
            )
        )
        payment.status = after.value
        payment.updated_at = now
        settle_order_paid(
            session, order, payment, now, actor=actor, event=OrderEvent.OPERATOR_ACCEPTED
        )
        add_timeline(
            session,
            merchant_id=merchant_id,
            order_id=order.id,
            payment_id=payment.id,
            kind="payment.accepted",
            message=f"review ({payment.review_reason}) accepted by {actor}: {note}"[:500],
            now=now,
        )
        add_audit(
            session,
            merchant_id=merchant_id,
            actor=actor,
            action="payment.review_accepted",
            subject=payment.id,
            before={"status": "review", "reason": payment.review_reason},
            after={"status": after.value, "order": order.status, "note": note[:200]},
            now=now,
        )
        return payment_view(payment)

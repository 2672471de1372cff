"""The review queue: payments where money moved but nothing settled by itself.

An operator resolves one either by accepting it (the order becomes paid, with its credits
and `order.paid` event, exactly once) or by refunding it. A second payment of an order that
is already paid can only be refunded.
"""

from __future__ import annotations

from typing import Any

from payhub.domain.errors import Conflict, NotFound
from payhub.domain.lifecycle import (
    OrderEvent,
    PaymentEvent,
    PaymentStatus,
    next_payment_status,
)
from payhub.services.context import Hub
from payhub.services.orders import get_order, payment_view
from payhub.services.settlement import event_account_key, settle_order_paid
from payhub.store import attempts, events
from payhub.store.journal import add_audit, add_timeline
from payhub.store.tx import retry_write_conflicts


def list_review_queue(
    hub: Hub, merchant_id: str, *, livemode: bool | None = None
) -> list[dict[str, Any]]:
    """The attempts in review; `livemode` keeps those of one mode's orders."""
    with hub.db.session() as session:
        out = []
        for p in attempts.attempts_in_review(session, merchant_id):
            order = get_order(session, merchant_id, p.order_id)
            if livemode is None or bool(order.livemode) == livemode:
                out.append(payment_view(p, livemode=bool(order.livemode)))
        return out


@retry_write_conflicts
def accept_review(
    hub: Hub, merchant_id: str, payment_id: str, *, actor: str, note: str
) -> dict[str, Any]:
    now = hub.clock.now()
    with hub.db.write() as tx:
        payment = attempts.lock_attempt(tx, payment_id)
        if payment is None or payment.merchant_id != merchant_id:
            raise NotFound(f"no payment {payment_id}")
        after = next_payment_status(PaymentStatus(payment.status), PaymentEvent.OPERATOR_ACCEPTED)
        if after is None:
            raise Conflict(f"payment is {payment.status}; only payments in review can be accepted")
        if payment.review_reason == "double_payment":
            raise Conflict("the order was already paid by another attempt; refund this one")
        order = attempts.lock_order(tx, payment.order_id)
        events.record_event(
            tx,
            merchant_id=merchant_id,
            account_key=event_account_key(payment),
            payment_id=payment.id,
            dedupe_key=f"operator:accept:{payment.id}",
            source="operator",
            gateway_status="succeeded",
            gateway_code="operator_accepted",
            amount_minor=payment.received_minor,
            currency=payment.currency,
            status_before=payment.status,
            status_after=after.value,
            inbound_request_id=None,
            payload={"actor": actor, "note": note[:500]},
            now=now,
        )
        payment.status = after.value
        payment.updated_at = now
        settle_order_paid(tx, order, payment, now, actor=actor, event=OrderEvent.OPERATOR_ACCEPTED)
        attempts.save(tx, payment, order)
        add_timeline(
            tx,
            merchant_id=merchant_id,
            order_id=order.id,
            payment_id=payment.id,
            kind="payment.accepted",
            message=f"review ({payment.review_reason}) accepted by {actor}: {note}"[:500],
            now=now,
        )
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="payment.review_accepted",
            subject=payment.id,
            before={"status": "review", "reason": payment.review_reason},
            after={"status": after.value, "order": order.status, "note": note[:200]},
            now=now,
        )
        stored = attempts.find_attempt(tx, payment_id)
        assert stored is not None
        return payment_view(stored, livemode=bool(get_order(tx, merchant_id, order.id).livemode))

"""The review queue: payments where money moved but nothing settled by itself.

An operator resolves one either by accepting it (the order becomes paid, with its credits
and `order.paid` event, exactly once) or by rejecting it: the payment becomes `rejected`
(it never pays the order), what it brought in is refunded through the gateway (or recorded
as returned by hand), and an order that was waiting on this review is cancelled, its stock
released once. A second payment of an order that is already paid can only be rejected.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from anyio import to_thread

from payhub.domain.errors import Conflict, NotFound
from payhub.domain.lifecycle import (
    OrderEvent,
    OrderStatus,
    PaymentEvent,
    PaymentStatus,
    next_payment_status,
)
from payhub.services import inventory
from payhub.services.accounts import build_adapter, load_account
from payhub.services.context import Hub
from payhub.services.orders import get_order, payment_view
from payhub.services.refunds import RefundsNotSupported, create_refund
from payhub.services.settlement import event_account_key, settle_order_paid, transition_order
from payhub.store import attempts, events
from payhub.store.attempts import AttemptRecord
from payhub.store.journal import add_audit, add_timeline, enqueue_event
from payhub.store.tx import Tx, retry_write_conflicts


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
            raise Conflict("the order was already paid by another attempt; reject this one")
        order = attempts.lock_order(tx, payment.order_id)
        _record_decision(tx, merchant_id, payment, after, "accept", actor, note, now)
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


async def reject_review(
    hub: Hub,
    merchant_id: str,
    payment_id: str,
    *,
    actor: str,
    note: str,
    manual: bool = False,
) -> dict[str, Any]:
    """Reject a payment in review: it is `rejected` (never pays the order), what it brought
    in is refunded (through the gateway, or with `manual` recorded as given back by hand),
    and an order in review because of it is cancelled. Returns the payment, refunded.

    A gateway without a refund API is refused before anything changes unless `manual`.
    Should the refund call itself fail after the rejection, the payment stays `rejected`
    with its refund `failed` or `pending`; a later refund of it (API or console) retries."""
    await to_thread.run_sync(_check_refundable, hub, merchant_id, payment_id, manual)
    await to_thread.run_sync(_reject, hub, merchant_id, payment_id, actor, note)
    await create_refund(
        hub,
        merchant_id,
        payment_id,
        amount=None,
        reason=f"review rejected: {note}"[:500],
        manual=manual,
        actor=actor,
    )
    with hub.db.session() as session:
        stored = attempts.find_attempt(session, payment_id)
        assert stored is not None
        order = get_order(session, merchant_id, stored.order_id)
        return payment_view(stored, livemode=bool(order.livemode))


def _check_refundable(hub: Hub, merchant_id: str, payment_id: str, manual: bool) -> None:
    with hub.db.session() as session:
        payment = attempts.find_attempt(session, payment_id)
        if payment is None or payment.merchant_id != merchant_id:
            raise NotFound(f"no payment {payment_id}")
        if payment.status != PaymentStatus.REVIEW.value:
            raise Conflict(f"payment is {payment.status}; only payments in review can be rejected")
        if manual:
            return
        if payment.gateway_account_id is None:
            raise RefundsNotSupported(
                "this payment was recorded by an operator; reject it with manual: true"
            )
        adapter = build_adapter(hub, load_account(session, payment.gateway_account_id))
        if not adapter.capabilities.refund:
            raise RefundsNotSupported(
                f"{payment.gateway} has no refund API: give the money back at the gateway and "
                "reject with manual: true (it is recorded as returned by hand)"
            )


@retry_write_conflicts
def _reject(hub: Hub, merchant_id: str, payment_id: str, actor: str, note: str) -> None:
    now = hub.clock.now()
    with hub.db.write() as tx:
        payment = attempts.lock_attempt(tx, payment_id)
        if payment is None or payment.merchant_id != merchant_id:
            raise NotFound(f"no payment {payment_id}")
        after = next_payment_status(PaymentStatus(payment.status), PaymentEvent.OPERATOR_REJECTED)
        if after is None:
            raise Conflict(f"payment is {payment.status}; only payments in review can be rejected")
        order = attempts.lock_order(tx, payment.order_id)
        _record_decision(tx, merchant_id, payment, after, "reject", actor, note, now)
        payment.status = after.value
        payment.updated_at = now
        attempts.save(tx, payment)
        still_in_review = [
            p
            for p in attempts.attempts_of_order(tx, order.id)
            if p.id != payment.id and p.status == PaymentStatus.REVIEW.value
        ]
        if OrderStatus(order.status) is OrderStatus.REVIEW and not still_in_review:
            transition_order(tx, order, OrderEvent.REVIEW_REJECTED, now, actor=actor)
            inventory.release_stock(tx, merchant_id, order.id, now)
            attempts.save(tx, order)
            enqueue_event(
                tx,
                merchant_id=merchant_id,
                event_type="order.cancelled",
                event_key=f"order.cancelled:review_rejected:{payment.id}",
                payload={
                    "order_id": order.id,
                    "merchant_reference": order.merchant_reference,
                    "reason": "review_rejected",
                },
                now=now,
                subject=("order", order.id),
            )
        add_timeline(
            tx,
            merchant_id=merchant_id,
            order_id=order.id,
            payment_id=payment.id,
            kind="payment.rejected",
            message=f"review ({payment.review_reason}) rejected by {actor}: {note}"[:500],
            now=now,
        )
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="payment.review_rejected",
            subject=payment.id,
            before={"status": "review", "reason": payment.review_reason},
            after={"status": after.value, "order": order.status, "note": note[:200]},
            now=now,
        )


def _record_decision(
    tx: Tx,
    merchant_id: str,
    payment: AttemptRecord,
    after: PaymentStatus,
    decision: str,
    actor: str,
    note: str,
    now: datetime,
) -> None:
    """The operator's decision on a review (`accept` or `reject`), recorded once as a
    payment event beside the gateway's facts."""
    events.record_event(
        tx,
        merchant_id=merchant_id,
        account_key=event_account_key(payment),
        payment_id=payment.id,
        dedupe_key=f"operator:{decision}:{payment.id}",
        source="operator",
        gateway_status=after.value,
        gateway_code=f"operator_{decision}ed",
        amount_minor=payment.received_minor,
        currency=payment.currency,
        status_before=payment.status,
        status_after=after.value,
        inbound_request_id=None,
        payload={"actor": actor, "note": note[:500]},
        now=now,
    )

"""Event snapshots: the object an outbox event is about, as its `GET` shows it, taken when
the event is written.

An event is a fact of one moment (as Stripe's are): `data.object` is the order, payment,
refund or product as it stood when the transaction that raised the event committed, with
everything that transaction wrote (its timeline entries included). It is stored with the
event and never recomputed, so a redelivery a day later still says what was true then; the
current state is one `GET` away.

The snapshot is taken by `journal.enqueue_event` through a late staged write
(`store.staging.stage_late_write`), after the transaction's other writes are made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from payhub.store.models import Order, Payment, Product, Refund
from payhub.store.reads.catalog import ProductView
from payhub.store.reads.orders import PaymentView, order_view_in
from payhub.store.reads.refunds import RefundView
from payhub.store.staging import Completion

__all__ = ["ObjectKind", "Subject", "object_snapshot", "snapshot_completion"]

ObjectKind = Literal["order", "payment", "refund", "product"]
# What an event is about: (kind, id).
Subject = tuple[ObjectKind, str]


def object_snapshot(session: Session, merchant_id: str, subject: Subject) -> tuple[Any, bool]:
    """The object's JSON as its read model gives it, and whether it is a live-mode one
    (`None, False` when the row is gone)."""
    kind, object_id = subject
    if kind == "order":
        view = order_view_in(session, merchant_id, object_id)
        return (None, False) if view is None else (view.as_dict(), view.summary.livemode)
    if kind == "payment":
        payment = session.scalar(select(Payment).where(Payment.id == object_id))
        if payment is None:
            return None, False
        livemode = _order_livemode(session, payment.order_id)
        return PaymentView.of(payment, livemode=livemode).as_dict(), livemode
    if kind == "refund":
        refund = session.get(Refund, object_id)
        if refund is None:
            return None, False
        livemode = _order_livemode(session, refund.order_id)
        # As the refund routes answer it: with its order's mode (api.refunds adds it too).
        return {**RefundView.of(refund).as_dict(), "livemode": livemode}, livemode
    product = session.get(Product, object_id)
    return (None, False) if product is None else (ProductView.of(product).as_dict(), False)


def _order_livemode(session: Session, order_id: str) -> bool:
    order = session.get(Order, order_id)
    return bool(order is not None and order.livemode)


def snapshot_completion(subject: Subject) -> Completion:
    """The completion of a staged outbox row: its payload's `data.object` and `livemode`
    filled from the object as it stands now (just before the commit)."""

    def complete(session: Session, row: Mapping[str, Any]) -> Mapping[str, Any]:
        snapshot, livemode = object_snapshot(session, str(row["merchant_id"]), subject)
        payload = dict(row["payload"])
        payload["livemode"] = livemode
        payload["object_type"] = subject[0]
        payload["data"] = {"object": snapshot, **payload["data"]}
        return {**row, "payload": payload}

    return complete

"""Read models of orders and their payment attempts, as the merchant API shows them.

`as_dict()` gives the exact JSON of /v1/orders and /v1/payments (key order included).
Absent rows, and rows of another merchant, read as `None`: the API answers 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from payhub.clock import as_utc
from payhub.money import Money
from payhub.store.db import Database
from payhub.store.models import Customer, Order, OrderItem, Payment, TimelineEntry
from payhub.store.reads.running import run_read


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class PaymentView:
    """One payment attempt."""

    id: str
    merchant_id: str
    order_id: str
    gateway: str
    status: str
    amount: int
    currency: str
    received: int | None
    refunded: int
    gateway_reference: str
    gateway_txn_id: str | None
    checkout_url: str | None
    qr_content: str | None
    deeplink: str | None
    review_reason: str | None
    failure_code: str | None
    expires_at: datetime | None
    created_at: datetime
    livemode: bool  # its order's mode

    @classmethod
    def of(cls, p: Payment, *, livemode: bool) -> PaymentView:
        return cls(
            id=p.id,
            merchant_id=p.merchant_id,
            order_id=p.order_id,
            gateway=p.gateway,
            status=p.status,
            amount=p.amount_minor,
            currency=p.currency,
            received=p.received_minor,
            refunded=p.refunded_minor,
            gateway_reference=p.gateway_reference,
            gateway_txn_id=p.gateway_txn_id,
            checkout_url=p.checkout_url,
            qr_content=p.qr_content,
            deeplink=p.deeplink,
            review_reason=p.review_reason,
            failure_code=p.failure_code,
            expires_at=as_utc(p.expires_at) if p.expires_at else None,
            created_at=as_utc(p.created_at),
            livemode=livemode,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "order_id": self.order_id,
            "gateway": self.gateway,
            "status": self.status,
            "amount": self.amount,
            "currency": self.currency,
            "received": self.received,
            "refunded": self.refunded,
            "gateway_reference": self.gateway_reference,
            "gateway_txn_id": self.gateway_txn_id,
            "checkout_url": self.checkout_url,
            "qr_content": self.qr_content,
            "deeplink": self.deeplink,
            "review_reason": self.review_reason,
            "failure_code": self.failure_code,
            "expires_at": _iso(self.expires_at),
            "created_at": self.created_at.isoformat(),
            "livemode": self.livemode,
        }


@dataclass(frozen=True, slots=True)
class OrderSummary:
    """An order without its items, attempts and timeline (the rows of a listing)."""

    id: str
    merchant_id: str
    merchant_reference: str
    status: str
    currency: str
    amount: int
    refunded: int
    credits: int
    cancel_on_failure: bool
    description: str
    metadata: Mapping[str, Any]
    return_url: str | None
    livemode: bool
    expires_at: datetime
    paid_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, o: Order) -> OrderSummary:
        return cls(
            id=o.id,
            merchant_id=o.merchant_id,
            merchant_reference=o.merchant_reference,
            status=o.status,
            currency=o.currency,
            amount=o.total_minor,
            refunded=o.refunded_minor,
            credits=o.credits_to_grant,
            cancel_on_failure=o.cancel_on_failure,
            description=o.description,
            metadata=o.metadata_json,
            return_url=o.return_url,
            livemode=bool(o.livemode),
            expires_at=as_utc(o.expires_at),
            paid_at=as_utc(o.paid_at) if o.paid_at else None,
            created_at=as_utc(o.created_at),
        )

    @property
    def amount_display(self) -> str:
        return Money(self.amount, self.currency).display()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "merchant_reference": self.merchant_reference,
            "status": self.status,
            "currency": self.currency,
            "amount": self.amount,
            "amount_display": self.amount_display,
            "refunded": self.refunded,
            "credits": self.credits,
            "cancel_on_failure": self.cancel_on_failure,
            "description": self.description,
            "metadata": self.metadata,
            "return_url": self.return_url,
            "livemode": self.livemode,
            "expires_at": self.expires_at.isoformat(),
            "paid_at": _iso(self.paid_at),
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class CustomerView:
    """The customer an order is for, as the merchant identified them."""

    id: str
    external_id: str
    name: str | None
    email: str | None
    phone: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "external_id": self.external_id,
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
        }


@dataclass(frozen=True, slots=True)
class OrderItemView:
    """One line of an order, priced when the order was created."""

    sku: str | None
    name: str
    quantity: int
    unit_price: int
    credits: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "name": self.name,
            "quantity": self.quantity,
            "unit_price": self.unit_price,
            "credits": self.credits,
        }


@dataclass(frozen=True, slots=True)
class TimelineEntryView:
    """One step in an order's history (created, attempt started, paid, …)."""

    at: datetime
    kind: str
    message: str
    payment_id: str | None
    gateway_txn_id: str | None  # the gateway's transaction id of that payment, once known

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "kind": self.kind,
            "message": self.message,
            "payment_id": self.payment_id,
            "gateway_txn_id": self.gateway_txn_id,
        }


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order with its customer, items, attempts (oldest first) and timeline."""

    summary: OrderSummary
    customer: CustomerView | None
    items: tuple[OrderItemView, ...]
    payments: tuple[PaymentView, ...]
    timeline: tuple[TimelineEntryView, ...]

    @property
    def customer_external_id(self) -> str | None:
        return None if self.customer is None else self.customer.external_id

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary.as_dict(),
            "customer": None if self.customer is None else self.customer.as_dict(),
            "items": [i.as_dict() for i in self.items],
            "payments": [p.as_dict() for p in self.payments],
            "timeline": [t.as_dict() for t in self.timeline],
        }


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of a listing, newest first; `next_cursor` is the `starting_after` of the
    next page."""

    orders: tuple[OrderSummary, ...]
    has_more: bool
    next_cursor: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "data": [o.as_dict() for o in self.orders],
            "has_more": self.has_more,
            "next_cursor": self.next_cursor,
        }


def _merchant_order(session: Session, merchant_id: str, order_id: str) -> Order | None:
    order = session.get(Order, order_id)
    return order if order is not None and order.merchant_id == merchant_id else None


def order_view_in(session: Session, merchant_id: str, order_id: str) -> OrderView | None:
    """`order_view` on an open session (the event snapshots take it inside the write)."""
    order = _merchant_order(session, merchant_id, order_id)
    if order is None:
        return None
    items = session.scalars(select(OrderItem).where(OrderItem.order_id == order.id)).all()
    payments = session.scalars(
        select(Payment).where(Payment.order_id == order.id).order_by(Payment.serial)
    ).all()
    timeline = session.scalars(
        select(TimelineEntry).where(TimelineEntry.order_id == order.id).order_by(TimelineEntry.id)
    ).all()
    customer = session.get(Customer, order.customer_id) if order.customer_id else None
    txn_ids = {p.id: p.gateway_txn_id for p in payments}
    return OrderView(
        summary=OrderSummary.of(order),
        customer=None
        if customer is None
        else CustomerView(
            id=customer.id,
            external_id=customer.external_id,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
        ),
        items=tuple(
            OrderItemView(
                sku=i.sku,
                name=i.name,
                quantity=i.quantity,
                unit_price=i.unit_price_minor,
                credits=i.credits,
            )
            for i in items
        ),
        payments=tuple(PaymentView.of(p, livemode=bool(order.livemode)) for p in payments),
        timeline=tuple(
            TimelineEntryView(
                at=as_utc(t.created_at),
                kind=t.kind,
                message=t.message,
                payment_id=t.payment_id,
                gateway_txn_id=txn_ids.get(t.payment_id) if t.payment_id else None,
            )
            for t in timeline
        ),
    )


async def order_view(db: Database, merchant_id: str, order_id: str) -> OrderView | None:
    """The merchant's order with everything the API shows; `None` if it has no such order."""
    return await run_read(db, order_view_in, merchant_id, order_id)


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """What GET /v1/orders may filter on; `customer` is the merchant's external id;
    `livemode` keeps one mode's orders (the API always sets it: the caller's key's mode)."""

    status: str | None = None
    livemode: bool | None = None
    customer: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def _order_page(
    session: Session,
    merchant_id: str,
    where: OrderFilter,
    limit: int,
    starting_after: str | None,
) -> OrderPage | None:
    query = select(Order).where(Order.merchant_id == merchant_id)
    if where.status:
        query = query.where(Order.status == where.status)
    if where.livemode is not None:
        query = query.where(Order.livemode == where.livemode)
    if where.customer:
        query = query.join(Customer, Customer.id == Order.customer_id).where(
            Customer.external_id == where.customer
        )
    if where.created_after:
        query = query.where(Order.created_at >= where.created_after)
    if where.created_before:
        query = query.where(Order.created_at < where.created_before)
    if starting_after:
        anchor = _merchant_order(session, merchant_id, starting_after)
        if anchor is None or (where.livemode is not None and anchor.livemode != where.livemode):
            return None
        query = query.where(
            (Order.created_at < anchor.created_at)
            | ((Order.created_at == anchor.created_at) & (Order.id < anchor.id))
        )
    rows = session.scalars(
        query.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit + 1)
    ).all()
    page = rows[:limit]
    return OrderPage(
        orders=tuple(OrderSummary.of(o) for o in page),
        has_more=len(rows) > limit,
        next_cursor=page[-1].id if len(rows) > limit else None,
    )


async def order_page(
    db: Database,
    merchant_id: str,
    where: OrderFilter,
    *,
    limit: int = 50,
    starting_after: str | None = None,
) -> OrderPage | None:
    """The merchant's orders, newest first, keyset-paged on (created_at, id); `None` when
    `starting_after` is not one of the merchant's orders."""
    return await run_read(db, _order_page, merchant_id, where, limit, starting_after)


def _payment_view(session: Session, payment_id: str) -> PaymentView | None:
    found = session.execute(
        select(Payment, Order.livemode)
        .join(Order, Order.id == Payment.order_id)
        .where(Payment.id == payment_id)
    ).first()
    return None if found is None else PaymentView.of(found[0], livemode=bool(found[1]))


async def payment_view(db: Database, payment_id: str) -> PaymentView | None:
    """A payment attempt by id, of any merchant: check `merchant_id` before showing it."""
    return await run_read(db, _payment_view, payment_id)

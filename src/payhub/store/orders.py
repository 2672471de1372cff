"""Orders, their items and their timeline: written when an order is created, read for views,
lists and the expiry sweep. Settling changes orders through store.attempts records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from payhub.store.models import Customer, Order, OrderItem, TimelineEntry
from payhub.store.tx import Reader, Tx, session_of

__all__ = [
    "add_order",
    "due_orders",
    "find_order",
    "items_of",
    "order_id_for_reference",
    "orders_page",
    "timeline_of",
]


def find_order(reader: Reader, order_id: str) -> Order | None:
    return session_of(reader).get(Order, order_id)


def order_id_for_reference(reader: Reader, merchant_id: str, reference: str) -> str | None:
    """The id of the merchant's order with this merchant reference, if there is one."""
    return session_of(reader).scalar(
        select(Order.id).where(
            Order.merchant_id == merchant_id, Order.merchant_reference == reference
        )
    )


def add_order(tx: Tx, items: list[dict[str, Any]], **fields: Any) -> None:
    """Write the order (these column values) and then its items."""
    session = tx._session
    session.add(Order(**fields))
    session.flush()
    session.add_all(OrderItem(order_id=fields["id"], **item) for item in items)
    session.flush()


def items_of(reader: Reader, order_id: str) -> list[OrderItem]:
    return list(session_of(reader).scalars(select(OrderItem).where(OrderItem.order_id == order_id)))


def timeline_of(reader: Reader, order_id: str) -> list[TimelineEntry]:
    return list(
        session_of(reader).scalars(
            select(TimelineEntry)
            .where(TimelineEntry.order_id == order_id)
            .order_by(TimelineEntry.id)
        )
    )


def orders_page(
    reader: Reader,
    merchant_id: str,
    *,
    status: str | None,
    customer_external_id: str | None,
    created_after: datetime | None,
    created_before: datetime | None,
    after: Order | None,
    limit: int,
) -> list[Order]:
    """Up to `limit` of the merchant's orders, newest first (created_at, then id), after the
    order `after` when one is given."""
    query = select(Order).where(Order.merchant_id == merchant_id)
    if status:
        query = query.where(Order.status == status)
    if customer_external_id:
        query = query.join(Customer, Customer.id == Order.customer_id).where(
            Customer.external_id == customer_external_id
        )
    if created_after:
        query = query.where(Order.created_at >= created_after)
    if created_before:
        query = query.where(Order.created_at < created_before)
    if after is not None:
        query = query.where(
            (Order.created_at < after.created_at)
            | ((Order.created_at == after.created_at) & (Order.id < after.id))
        )
    return list(
        session_of(reader).scalars(
            query.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit)
        )
    )


def due_orders(
    reader: Reader, statuses: list[str], expired_before: datetime, limit: int
) -> list[str]:
    """Ids of orders in one of `statuses` that expired before `expired_before`, oldest first."""
    return list(
        session_of(reader).scalars(
            select(Order.id)
            .where(Order.status.in_(statuses), Order.expires_at < expired_before)
            .order_by(Order.expires_at)
            .limit(limit)
        )
    )

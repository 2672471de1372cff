"""Stock: reserved when the order is created, released exactly once when it is cancelled,
expires, or (with `cancel_on_failure`) its payment fails.

Reservation is one conditional UPDATE per product (`stock_available >= qty`), so stock can
never go negative; a CHECK constraint backs that up. The unique constraint on
stock_movements (order, product, reason) makes a second release impossible.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from payhub.store.models import OrderItem, Product, StockMovement

RESERVE = "reserve"
RELEASE = "release"


def reserve_stock(
    session: Session, merchant_id: str, order_id: str, wanted: dict[str, int], now: datetime
) -> list[str]:
    """Take `wanted` (product id -> quantity) from tracked stock. Returns the ids that were
    short; the caller must then roll back. Untracked products are skipped."""
    short: list[str] = []
    for product_id, quantity in sorted(wanted.items()):
        result = session.execute(
            update(Product)
            .where(
                Product.id == product_id,
                Product.track_stock.is_(True),
                Product.stock_available >= quantity,
            )
            .values(stock_available=Product.stock_available - quantity)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            session.add(
                StockMovement(
                    merchant_id=merchant_id,
                    order_id=order_id,
                    product_id=product_id,
                    reason=RESERVE,
                    quantity=-quantity,
                    created_at=now,
                )
            )
            continue
        tracked = session.scalar(select(Product.track_stock).where(Product.id == product_id))
        if tracked:
            short.append(product_id)
    return short


def release_stock(session: Session, merchant_id: str, order_id: str, now: datetime) -> int:
    """Return an order's reserved stock, once. Returns the number of units released."""
    reserved = session.execute(
        select(StockMovement.product_id, StockMovement.quantity).where(
            StockMovement.order_id == order_id, StockMovement.reason == RESERVE
        )
    ).all()
    released_already = set(
        session.scalars(
            select(StockMovement.product_id).where(
                StockMovement.order_id == order_id, StockMovement.reason == RELEASE
            )
        )
    )
    units = 0
    for product_id, quantity in reserved:
        if product_id in released_already:
            continue
        session.add(
            StockMovement(
                merchant_id=merchant_id,
                order_id=order_id,
                product_id=product_id,
                reason=RELEASE,
                quantity=-quantity,
                created_at=now,
            )
        )
        session.execute(
            update(Product)
            .where(Product.id == product_id)
            .values(stock_available=Product.stock_available + (-quantity))
        )
        units += -quantity
    session.flush()
    return units


def quantities_by_product(items: list[OrderItem]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for item in items:
        if item.product_id is not None:
            totals[item.product_id] += item.quantity
    return dict(totals)

"""Stock of tracked products, and the movements that explain every change to it.

Taking stock is one conditional UPDATE (`stock_available >= quantity`), so stock never goes
negative (a CHECK constraint backs that up). The unique constraint on stock_movements
(order, product, reason) makes a second reservation or release for one order impossible.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from payhub.store.models import Product, StockMovement
from payhub.store.tx import Tx

__all__ = ["add_movement", "is_tracked", "movements", "put_back", "take"]


def take(tx: Tx, product_id: str, quantity: int) -> bool:
    """Take `quantity` of a tracked product if that much is available; whether it was."""
    result = tx._session.execute(
        update(Product)
        .where(
            Product.id == product_id,
            Product.track_stock.is_(True),
            Product.stock_available >= quantity,
        )
        .values(stock_available=Product.stock_available - quantity)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def put_back(tx: Tx, product_id: str, quantity: int) -> None:
    """Return `quantity` to the product's stock."""
    tx._session.execute(
        update(Product)
        .where(Product.id == product_id)
        .values(stock_available=Product.stock_available + quantity)
    )


def is_tracked(tx: Tx, product_id: str) -> bool:
    return bool(tx._session.scalar(select(Product.track_stock).where(Product.id == product_id)))


def add_movement(
    tx: Tx,
    *,
    merchant_id: str,
    order_id: str,
    product_id: str,
    reason: str,
    quantity: int,
    now: datetime,
) -> None:
    """Write one movement (`quantity` negative when taken from stock)."""
    session = tx._session
    session.add(
        StockMovement(
            merchant_id=merchant_id,
            order_id=order_id,
            product_id=product_id,
            reason=reason,
            quantity=quantity,
            created_at=now,
        )
    )
    session.flush()


def movements(tx: Tx, order_id: str, reason: str) -> list[tuple[str, int]]:
    """The order's movements for `reason`, as (product id, quantity)."""
    rows = tx._session.execute(
        select(StockMovement.product_id, StockMovement.quantity).where(
            StockMovement.order_id == order_id, StockMovement.reason == reason
        )
    )
    return [(product_id, quantity) for product_id, quantity in rows]

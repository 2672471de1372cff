"""Stock of tracked products, and the movements that explain every change to it.

Taking stock is one conditional UPDATE (`stock_available >= quantity`), so stock never goes
negative (a CHECK constraint backs that up). The unique constraint on stock_movements
(order, product, reason) makes a second reservation or release for one order impossible.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update

from payhub.store.models import Product, StockMovement
from payhub.store.tx import Tx

__all__ = [
    "add_movement",
    "is_tracked",
    "low_stock_facts",
    "mark_low_stock_crossed",
    "movements",
    "put_back",
    "rearm_low_stock",
    "take",
]


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


def mark_low_stock_crossed(tx: Tx, product_id: str) -> int | None:
    """If the product's stock is now at or below its low-stock threshold and it was not
    alerted yet, mark it alerted and count the crossing; the crossing's number, or `None`.

    One conditional UPDATE: the product row is already locked by this transaction's take,
    and a concurrent order's UPDATE re-reads the row after this one commits, finds it
    alerted and changes nothing, so each crossing is counted once."""
    result = tx._session.execute(
        update(Product)
        .where(
            Product.id == product_id,
            Product.track_stock.is_(True),
            Product.low_stock_threshold.is_not(None),
            Product.stock_available <= Product.low_stock_threshold,
            Product.low_stock_alerted.is_(False),
        )
        .values(low_stock_alerted=True, low_stock_crossings=Product.low_stock_crossings + 1)
        .returning(Product.low_stock_crossings)
    )
    row = result.first()
    return None if row is None else int(row[0])


def rearm_low_stock(tx: Tx, product_id: str) -> None:
    """Arm the low-stock alert again once the product is restocked above its threshold."""
    tx._session.execute(
        update(Product)
        .where(
            Product.id == product_id,
            Product.low_stock_alerted.is_(True),
            or_(
                Product.low_stock_threshold.is_(None),
                Product.stock_available > Product.low_stock_threshold,
            ),
        )
        .values(low_stock_alerted=False)
    )


def low_stock_facts(tx: Tx, product_id: str) -> tuple[str, str, int, int]:
    """(sku, name, stock available, threshold) of a product, for its low-stock event."""
    row = tx._session.execute(
        select(
            Product.sku, Product.name, Product.stock_available, Product.low_stock_threshold
        ).where(Product.id == product_id)
    ).one()
    return str(row[0]), str(row[1]), int(row[2]), int(row[3] or 0)

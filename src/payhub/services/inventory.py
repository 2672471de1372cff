"""Stock: reserved when the order is created, released exactly once when it is cancelled,
expires, or (with `cancel_on_failure`) its payment fails.

Reservation takes each tracked product's quantity only if that much is available, so stock
can never go negative; the store's constraints make a second release impossible
(store.stock).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from payhub.store import stock
from payhub.store.tx import Tx

RESERVE = "reserve"
RELEASE = "release"


class ItemQuantity(Protocol):
    @property
    def product_id(self) -> str | None: ...
    @property
    def quantity(self) -> int: ...


def reserve_stock(
    tx: Tx, merchant_id: str, order_id: str, wanted: dict[str, int], now: datetime
) -> list[str]:
    """Take `wanted` (product id -> quantity) from tracked stock. Returns the ids that were
    short; the caller must then roll back. Untracked products are skipped."""
    short: list[str] = []
    for product_id, quantity in sorted(wanted.items()):
        if stock.take(tx, product_id, quantity):
            stock.add_movement(
                tx,
                merchant_id=merchant_id,
                order_id=order_id,
                product_id=product_id,
                reason=RESERVE,
                quantity=-quantity,
                now=now,
            )
            continue
        if stock.is_tracked(tx, product_id):
            short.append(product_id)
    return short


def release_stock(tx: Tx, merchant_id: str, order_id: str, now: datetime) -> int:
    """Return an order's reserved stock, once. Returns the number of units released."""
    reserved = stock.movements(tx, order_id, RESERVE)
    released_already = {product_id for product_id, _ in stock.movements(tx, order_id, RELEASE)}
    units = 0
    for product_id, quantity in reserved:
        if product_id in released_already:
            continue
        stock.add_movement(
            tx,
            merchant_id=merchant_id,
            order_id=order_id,
            product_id=product_id,
            reason=RELEASE,
            quantity=-quantity,
            now=now,
        )
        stock.put_back(tx, product_id, -quantity)
        units += -quantity
    return units


def quantities_by_product(items: Iterable[ItemQuantity]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for item in items:
        if item.product_id is not None:
            totals[item.product_id] += item.quantity
    return dict(totals)

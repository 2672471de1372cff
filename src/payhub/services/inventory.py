"""Stock: reserved when the order is created, released exactly once when it is cancelled,
expires, or (with `cancel_on_failure`) its payment fails.

Reservation takes each tracked product's quantity only if that much is available, so stock
can never go negative; the store's constraints make a second release impossible
(store.stock).

Low stock: the transaction that takes a product to or below its `low_stock_threshold`
enqueues one `stock.low` event (merchant webhook) and one operator alert, exactly once per
crossing; stock put back above the threshold arms the alert again (store.stock).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from payhub.domain.errors import InvalidRequest, NotFound
from payhub.services.context import Hub
from payhub.store import catalog, stock
from payhub.store.journal import add_audit, enqueue_event
from payhub.store.tx import Tx, retry_write_conflicts

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
            note_low_stock(tx, merchant_id, product_id, now)
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
        stock.rearm_low_stock(tx, product_id)
        units += -quantity
    return units


def note_low_stock(tx: Tx, merchant_id: str, product_id: str, now: datetime) -> bool:
    """After a change to a product's stock: re-arm its alert if it is above the threshold,
    or, if this change crossed it, enqueue `stock.low` and the operator alert (once per
    crossing: the crossing number is in both events' unique keys). Whether it crossed."""
    stock.rearm_low_stock(tx, product_id)
    crossing = stock.mark_low_stock_crossed(tx, product_id)
    if crossing is None:
        return False
    sku, name, available, threshold = stock.low_stock_facts(tx, product_id)
    payload = {
        "product_id": product_id,
        "sku": sku,
        "name": name,
        "stock_available": available,
        "low_stock_threshold": threshold,
        "crossing": crossing,
    }
    enqueue_event(
        tx,
        merchant_id=merchant_id,
        event_type="stock.low",
        event_key=f"stock.low:{product_id}:{crossing}",
        payload=payload,
        now=now,
        subject=("product", product_id),
    )
    enqueue_event(
        tx,
        merchant_id=merchant_id,
        event_type="operator.alert",
        event_key=f"operator.alert:stock_low:{product_id}:{crossing}",
        payload={"kind": "stock_low", **payload},
        now=now,
    )
    return True


def quantities_by_product(items: Iterable[ItemQuantity]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for item in items:
        if item.product_id is not None:
            totals[item.product_id] += item.quantity
    return dict(totals)


MAX_RESTOCK = 1_000_000_000
MAX_REASON = 500


@retry_write_conflicts
def restock(
    hub: Hub, merchant_id: str, sku: str, quantity: int, *, reason: str, actor: str
) -> dict[str, Any]:
    """Add `quantity` units to a tracked product's stock (goods received, a count
    corrected upwards), with the operator's reason in the audit. One relative UPDATE, so a
    reservation made meanwhile is not overwritten; a restock above the low-stock threshold
    arms its alert again."""
    reason = reason.strip()
    if not 0 < quantity <= MAX_RESTOCK:
        raise InvalidRequest(f"quantity must be between 1 and {MAX_RESTOCK}")
    if not 0 < len(reason) <= MAX_REASON:
        raise InvalidRequest(f"a reason is required (at most {MAX_REASON} characters)")
    now = hub.clock.now()
    with hub.db.write() as tx:
        row = catalog.product_to_change(tx, merchant_id, sku)
        if row is None:
            raise NotFound(f"no product {sku}")
        if not row.track_stock:
            raise InvalidRequest(f"the stock of {sku} is not tracked")
        before = row.stock_available
        stock.put_back(tx, row.id, quantity)
        note_low_stock(tx, merchant_id, row.id, now)
        after = stock.low_stock_facts(tx, row.id)[2]
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="product.restocked",
            subject=row.id,
            before={"stock_available": before},
            after={"stock_available": after, "quantity": quantity, "reason": reason},
            now=now,
        )
    return {"sku": sku, "stock_available": after}

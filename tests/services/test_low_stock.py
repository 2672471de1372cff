"""Low stock: a `stock.low` event and an operator alert exactly once per crossing of the
product's `low_stock_threshold`, re-armed when stock goes back above it; concurrent orders
crossing together alert once (the crossing is counted by one conditional UPDATE on the
product row, and each crossing's event key is unique)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from payhub.domain.errors import InsufficientStock
from payhub.services.checkout import cancel_order
from payhub.services.merchants import upsert_product
from payhub.services.orders import ItemDraft
from payhub.services.webhooks import MERCHANT_EVENT_TYPES
from payhub.store.models import OutboxEvent, Product
from tests.services.conftest import Env

pytestmark = pytest.mark.anyio


def mug(env: Env, stock: int | None, threshold: int | None = 3) -> None:
    upsert_product(
        env.hub,
        env.merchant_id,
        sku="mug",
        name="Mug",
        price=50_000,
        currency="VND",
        track_stock=True,
        stock=stock,
        low_stock_threshold=threshold,
        actor="test",
    )


def low_events(env: Env) -> list[dict[str, object]]:
    """The events' own facts (`data` without the product snapshot, checked below)."""
    rows = env.rows(OutboxEvent, merchant_id=env.merchant_id, event_type="stock.low")
    facts = [{k: v for k, v in r["payload"]["data"].items() if k != "object"} for r in rows]
    return sorted(facts, key=lambda d: d["crossing"])


def low_snapshots(env: Env) -> list[dict[str, object]]:
    rows = env.rows(OutboxEvent, merchant_id=env.merchant_id, event_type="stock.low")
    return [r["payload"]["data"]["object"] for r in rows]


def alerts(env: Env) -> list[str]:
    rows = env.rows(OutboxEvent, merchant_id=env.merchant_id, event_type="operator.alert")
    return sorted(r["event_key"] for r in rows if r["payload"]["data"].get("kind") == "stock_low")


async def test_one_event_and_one_alert_per_crossing_rearmed_by_restocking(env: Env) -> None:
    assert "stock.low" in MERCHANT_EVENT_TYPES
    mug(env, stock=6)
    orders = [env.order([ItemDraft(sku="mug")]) for _ in range(3)]  # 6 → 3: crosses at 3
    assert [e["stock_available"] for e in low_events(env)] == [3]
    env.order([ItemDraft(sku="mug")])  # 3 → 2: still low, no second alert
    assert len(low_events(env)) == 1 and len(alerts(env)) == 1

    for order_id in orders:  # 2 → 5: back above the threshold, re-armed
        await cancel_order(env.hub, env.merchant_id, order_id, actor="test")
    assert env.one(Product, sku="mug")["low_stock_alerted"] is False
    assert len(low_events(env)) == 1

    env.order([ItemDraft(sku="mug", quantity=2)])  # 5 → 3: the second crossing
    [first, second] = low_events(env)
    assert (first["crossing"], second["crossing"]) == (1, 2)
    assert second == {
        "product_id": first["product_id"],
        "sku": "mug",
        "name": "Mug",
        "stock_available": 3,
        "low_stock_threshold": 3,
        "crossing": 2,
    }
    # data.object: the product as GET /v1/products showed it when the stock crossed.
    snapshots = [(p["sku"], p["stock_available"], p["low_stock"]) for p in low_snapshots(env)]
    assert snapshots == [("mug", 3, True), ("mug", 3, True)]
    assert len(alerts(env)) == 2
    env.assert_invariants()


async def test_a_restock_rearms_and_a_merchant_setting_stock_low_alerts_once(env: Env) -> None:
    mug(env, stock=10)
    mug(env, stock=2)  # set low by the merchant: a crossing
    mug(env, stock=1)  # still low
    assert len(low_events(env)) == 1
    mug(env, stock=20)  # restocked: re-armed
    mug(env, stock=20)
    assert len(low_events(env)) == 1
    env.order([ItemDraft(sku="mug", quantity=17)])
    assert len(low_events(env)) == 2


async def test_a_product_without_threshold_never_alerts(env: Env) -> None:
    mug(env, stock=2, threshold=None)
    env.order([ItemDraft(sku="mug", quantity=2)])
    assert low_events(env) == []


async def test_concurrent_orders_crossing_together_alert_once(env: Env) -> None:
    mug(env, stock=12, threshold=6)
    buyers = 10

    def buy(n: int) -> str:
        try:
            env.order([ItemDraft(sku="mug")], customer=None, merchant_reference=f"race-{n}")
        except InsufficientStock:
            return "refused"

        return "bought"

    with ThreadPoolExecutor(max_workers=buyers) as pool:
        results = list(pool.map(buy, range(buyers)))

    assert results == ["bought"] * buyers
    assert env.stock("mug") == 2
    assert [e["crossing"] for e in low_events(env)] == [1]
    assert len(alerts(env)) == 1
    env.assert_invariants()

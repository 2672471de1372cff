"""Stock: reserved when the order is created, all or nothing; released exactly once when the
order is cancelled or expires, or at once when its payment fails and the merchant asked for
`cancel_on_failure`; never negative, even under concurrent orders for the last units."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from payhub.domain.errors import Conflict, InsufficientStock
from payhub.services.checkout import cancel_order, expire_due_orders
from payhub.services.merchants import upsert_product
from payhub.services.orders import ItemDraft
from payhub.store.models import Order, OrderItem, OutboxEvent, StockMovement
from tests.services.conftest import Env

pytestmark = pytest.mark.anyio

TSHIRTS = 5  # the seeded stock of "tshirt"


def movements(env: Env, order_id: str) -> list[tuple[str, int]]:
    return sorted((m["reason"], m["quantity"]) for m in env.rows(StockMovement, order_id=order_id))


async def test_creating_an_order_reserves_tracked_stock_only(env: Env) -> None:
    order_id = env.order([ItemDraft(sku="tshirt", quantity=2), ItemDraft(sku="pack-100")])

    assert env.stock("tshirt") == TSHIRTS - 2
    assert env.stock("pack-100") == 0  # untracked: never touched
    assert movements(env, order_id) == [("reserve", -2)]
    env.assert_invariants()


async def test_insufficient_stock_refuses_the_whole_order(env: Env) -> None:
    upsert_product(
        env.hub,
        env.merchant_id,
        sku="mug",
        name="Mug",
        price=50_000,
        currency="VND",
        track_stock=True,
        stock=2,
        actor="test",
    )
    with pytest.raises(InsufficientStock) as refused:
        env.order(
            [ItemDraft(sku="tshirt", quantity=1), ItemDraft(sku="mug", quantity=3)],
            merchant_reference="too-many-mugs",
        )
    assert refused.value.extra["short_skus"] == ["mug"]
    # All or nothing: the T-shirt that was available is not held either.
    assert (env.stock("tshirt"), env.stock("mug")) == (TSHIRTS, 2)
    assert env.count(Order, merchant_reference="too-many-mugs") == 0
    assert env.count(OrderItem) == 0
    assert env.count(StockMovement) == 0

    with pytest.raises(InsufficientStock):
        env.order([ItemDraft(sku="tshirt", quantity=TSHIRTS + 1)])
    assert env.stock("tshirt") == TSHIRTS
    env.order([ItemDraft(sku="tshirt", quantity=TSHIRTS)])  # exactly what is left
    assert env.stock("tshirt") == 0
    env.assert_invariants()


async def test_cancelling_releases_the_stock_once(env: Env) -> None:
    order_id = env.order([ItemDraft(sku="tshirt", quantity=3)])
    await env.start(order_id)
    await cancel_order(env.hub, env.merchant_id, order_id, actor="test")

    assert env.order_row(order_id)["status"] == "cancelled"
    assert env.stock("tshirt") == TSHIRTS
    assert movements(env, order_id) == [("release", 3), ("reserve", -3)]
    assert env.count(OutboxEvent, event_key=f"order.cancelled:{order_id}") == 1

    with pytest.raises(Conflict):
        await cancel_order(env.hub, env.merchant_id, order_id, actor="test")
    assert env.stock("tshirt") == TSHIRTS
    assert len(movements(env, order_id)) == 2
    env.assert_invariants()


async def test_expiry_releases_the_stock_once(env: Env) -> None:
    due = env.order([ItemDraft(sku="tshirt", quantity=2)])
    not_due = env.order([ItemDraft(sku="tshirt", quantity=1)], expires_in_seconds=7_200)
    later = env.hub.clock.now() + timedelta(hours=1)

    assert await expire_due_orders(env.hub, now=later) == 1
    assert await expire_due_orders(env.hub, now=later) == 0  # the sweep runs again: no-op

    assert env.order_row(due)["status"] == "expired"
    assert env.order_row(not_due)["status"] == "awaiting_payment"
    assert env.stock("tshirt") == TSHIRTS - 1
    assert movements(env, due) == [("release", 2), ("reserve", -2)]
    assert env.count(OutboxEvent, event_key=f"order.expired:{due}") == 1
    env.assert_invariants()


async def test_expiry_spares_an_order_within_its_grace_period(env: Env) -> None:
    order_id = env.order([ItemDraft(sku="tshirt", quantity=1)], expires_in_seconds=60)
    just_after = env.hub.clock.now() + timedelta(seconds=90)  # grace is 2 minutes
    assert await expire_due_orders(env.hub, now=just_after) == 0
    assert env.order_row(order_id)["status"] == "awaiting_payment"
    assert env.stock("tshirt") == TSHIRTS - 1


async def test_a_paid_order_keeps_its_stock(env: Env) -> None:
    order_id, _ = await env.paid_order(items=[ItemDraft(sku="tshirt", quantity=2)])

    assert env.stock("tshirt") == TSHIRTS - 2
    later = env.hub.clock.now() + timedelta(hours=1)
    assert await expire_due_orders(env.hub, now=later) == 0
    with pytest.raises(Conflict):
        await cancel_order(env.hub, env.merchant_id, order_id, actor="test")
    assert env.stock("tshirt") == TSHIRTS - 2
    assert movements(env, order_id) == [("reserve", -2)]
    env.assert_invariants()


async def test_a_failed_payment_releases_at_once_with_cancel_on_failure(env: Env) -> None:
    order_id = env.order([ItemDraft(sku="tshirt", quantity=2)], cancel_on_failure=True)
    started = await env.start(order_id, "momo")
    await env.sim_pay(started.payment_id, "insufficient")

    assert env.order_row(order_id)["status"] == "cancelled"
    assert env.stock("tshirt") == TSHIRTS
    assert movements(env, order_id) == [("release", 2), ("reserve", -2)]
    [cancelled] = env.rows(OutboxEvent, event_key=f"order.cancelled:{order_id}")
    assert cancelled["payload"]["data"]["reason"] == "payment_failed"

    # Expiry later finds nothing to release.
    later = env.hub.clock.now() + timedelta(hours=1)
    assert await expire_due_orders(env.hub, now=later) == 0
    assert env.stock("tshirt") == TSHIRTS
    assert len(movements(env, order_id)) == 2
    env.assert_invariants()


async def test_a_failed_payment_keeps_the_stock_held_without_cancel_on_failure(env: Env) -> None:
    order_id = env.order([ItemDraft(sku="tshirt", quantity=2)])
    started = await env.start(order_id, "momo")
    await env.sim_pay(started.payment_id, "insufficient")

    assert env.order_row(order_id)["status"] == "payment_failed"
    assert env.stock("tshirt") == TSHIRTS - 2
    later = env.hub.clock.now() + timedelta(hours=1)
    assert await expire_due_orders(env.hub, now=later) == 1
    assert env.stock("tshirt") == TSHIRTS
    assert movements(env, order_id) == [("release", 2), ("reserve", -2)]
    env.assert_invariants()


async def test_money_after_expiry_takes_no_stock_back(env: Env) -> None:
    order_id = env.order([ItemDraft(sku="tshirt", quantity=2)])
    started = await env.start(order_id, "momo")
    assert await expire_due_orders(env.hub, now=env.hub.clock.now() + timedelta(hours=1)) == 1
    await env.sim_pay(started.payment_id)

    assert env.order_row(order_id)["status"] == "review"
    assert env.stock("tshirt") == TSHIRTS
    assert movements(env, order_id) == [("release", 2), ("reserve", -2)]
    env.assert_invariants()


async def test_concurrent_orders_for_the_last_units_never_oversell(env: Env) -> None:
    buyers = 9

    def buy(n: int) -> str:
        try:
            env.order(
                [ItemDraft(sku="tshirt", quantity=1)], merchant_reference=f"rush-{n}", customer=None
            )
        except InsufficientStock:
            return "refused"
        return "bought"

    with ThreadPoolExecutor(max_workers=buyers) as pool:
        results = list(pool.map(buy, range(buyers)))

    assert sorted(results) == ["bought"] * TSHIRTS + ["refused"] * (buyers - TSHIRTS)
    assert env.stock("tshirt") == 0
    assert env.count(StockMovement, reason="reserve") == TSHIRTS
    env.assert_invariants()

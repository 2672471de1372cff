"""Starting attempts, refreshing them by query, cancelling and expiring orders: the attempt
row exists before the gateway is called, a lost answer is `unknown` and resolved by a query,
a repeated start returns the live attempt, orders that cannot be paid are refused with no
attempt written, and expiry asks the gateway first."""

from __future__ import annotations

from datetime import timedelta

import anyio
import httpx
import pytest

from payhub.clock import FrozenClock
from payhub.domain.errors import (
    AttemptInFlight,
    GatewayNotAvailable,
    OrderAlreadyPaid,
    OrderNotPayable,
)
from payhub.errors import GatewayCallLost, GatewayCallRefused
from payhub.services.checkout import (
    StartedPayment,
    cancel_order,
    expire_due_orders,
    refresh_payment,
)
from payhub.services.orders import ItemDraft
from payhub.store.models import Payment, PaymentEvent
from tests.services.conftest import Env, Forward, answer_lost

pytestmark = pytest.mark.anyio

PAYOS_CREATE = "/v2/payment-requests"
MOMO_CREATE = "/v2/gateway/api/create"


async def test_a_repeated_start_returns_the_live_attempt(env: Env) -> None:
    order_id = env.order()
    first = await env.start(order_id)
    again = await env.start(order_id)
    assert (again.payment_id, again.reused, first.reused) == (first.payment_id, True, False)
    assert env.count(Payment, order_id=order_id) == 1
    assert env.gateway_calls.calls.count(PAYOS_CREATE) == 1

    other = await env.start(order_id, "momo")  # another gateway: its own attempt
    references = {env.payment(p)["gateway_reference"] for p in (first.payment_id, other.payment_id)}
    assert len(references) == 2
    assert env.count(Payment, order_id=order_id) == 2


async def test_each_new_attempt_gets_a_fresh_reference(env: Env) -> None:
    order_id = env.order()
    seen = set()
    for _ in range(3):
        started = await env.start(order_id, "momo")
        seen.add(env.payment(started.payment_id)["gateway_reference"])
        await env.sim_pay(started.payment_id, "insufficient")
    assert len(seen) == 3
    assert env.order_row(order_id)["status"] == "payment_failed"
    env.assert_invariants()


async def test_a_lost_create_answer_leaves_an_unknown_attempt_a_query_resolves(env: Env) -> None:
    order_id = env.order()
    env.gateway_calls.faults[PAYOS_CREATE] = answer_lost
    with pytest.raises(GatewayCallLost):
        await env.start(order_id)
    [attempt] = env.rows(Payment, order_id=order_id)
    assert attempt["status"] == "unknown"
    assert env.order_row(order_id)["status"] == "awaiting_payment"

    # The link was created at PayOS: a query finds it pending, the customer pays it.
    assert await refresh_payment(env.hub, attempt["id"]) == "pending"
    await env.sim_pay(attempt["id"])
    assert env.payment(attempt["id"])["status"] == "succeeded"
    assert env.order_row(order_id)["status"] == "paid"
    env.assert_invariants()


async def test_a_refused_create_fails_the_attempt_and_the_order_stays_payable(env: Env) -> None:
    order_id = env.order()
    env.gateway_calls.faults[PAYOS_CREATE] = httpx.Response(
        200, json={"code": "20", "desc": "Thông tin truyền lên không đúng.", "data": None}
    )
    with pytest.raises(GatewayCallRefused):
        await env.start(order_id)
    [attempt] = env.rows(Payment, order_id=order_id)
    assert attempt["status"] == "failed"
    del env.gateway_calls.faults[PAYOS_CREATE]
    started = await env.start(order_id)
    assert started.payment_id != attempt["id"] and not started.reused
    env.assert_invariants()


async def test_a_start_while_the_create_is_in_flight_is_told_to_retry(env: Env) -> None:
    order_id = env.order()
    gate = anyio.Event()

    async def slow(request: httpx.Request, forward: Forward) -> httpx.Response:
        await gate.wait()
        return await forward(request)

    env.gateway_calls.faults[PAYOS_CREATE] = slow
    results: list[StartedPayment] = []

    async def first() -> None:
        results.append(await env.start(order_id))

    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        while env.count(Payment, order_id=order_id, status="initiated") == 0:
            await anyio.sleep(0.01)
        with pytest.raises(AttemptInFlight):
            await env.start(order_id)
        gate.set()
    assert env.count(Payment, order_id=order_id) == 1
    assert env.gateway_calls.calls.count(PAYOS_CREATE) == 1
    assert env.payment(results[0].payment_id)["status"] == "pending"


async def test_orders_that_cannot_be_paid_are_refused_with_no_attempt(env: Env) -> None:
    paid, _ = await env.paid_order()
    with pytest.raises(OrderAlreadyPaid):
        await env.start(paid, "momo")

    cancelled = env.order()
    await cancel_order(env.hub, env.merchant_id, cancelled, actor="t")
    with pytest.raises(OrderNotPayable):
        await env.start(cancelled)

    ringgit = env.order([ItemDraft(sku="pack-my")], currency="MYR")
    with pytest.raises(GatewayNotAvailable):
        await env.start(ringgit, "payos")  # PayOS takes VND only
    with pytest.raises(GatewayNotAvailable):
        await env.start(ringgit, "toyyibpay")  # not enabled for this merchant

    tiny = env.order([ItemDraft(name="sticker", unit_price=500)], customer=None)
    with pytest.raises(GatewayNotAvailable):
        await env.start(tiny, "momo")  # MoMo's minimum is 1,000 VND

    for order_id in (cancelled, ringgit, tiny):
        assert env.count(Payment, order_id=order_id) == 0
    assert env.count(Payment, order_id=paid) == 1


async def test_an_order_past_its_expiry_is_not_payable(env: Env, frozen: FrozenClock) -> None:
    order_id = env.order(expires_in_seconds=60)
    frozen.advance(timedelta(seconds=61))
    with pytest.raises(OrderNotPayable):
        await env.start(order_id)
    assert env.count(Payment, order_id=order_id) == 0


async def test_the_attempt_link_never_outlives_its_order(env: Env) -> None:
    order_id = env.order(expires_in_seconds=300)
    started = await env.start(order_id)
    assert env.payment(started.payment_id)["expires_at"] <= env.order_row(order_id)["expires_at"]


async def test_a_refresh_of_a_pending_attempt_records_nothing(env: Env) -> None:
    order_id = env.order()
    started = await env.start(order_id)
    assert await refresh_payment(env.hub, started.payment_id) == "pending"
    assert env.count(PaymentEvent) == 0
    assert env.order_row(order_id)["status"] == "awaiting_payment"


async def test_cancelling_cancels_the_link_at_the_gateway_too(env: Env) -> None:
    order_id = env.order()
    started = await env.start(order_id)
    await cancel_order(env.hub, env.merchant_id, order_id, actor="t")

    assert env.payment(started.payment_id)["status"] == "cancelled"
    reference = env.payment(started.payment_id)["gateway_reference"]
    link = (await env.sims["payos"].get(f"/__sim/links/{reference}")).json()
    assert link["status"] == "CANCELLED"
    r = await env.sims["payos"].post(f"/__sim/pay/{reference}", json={"outcome": "paid"})
    assert r.status_code == 409  # the customer can no longer pay it
    env.assert_invariants()


async def test_expiry_asks_the_gateway_first_and_settles_what_was_paid(env: Env) -> None:
    order_id = env.order([ItemDraft(sku="tshirt")])
    started = await env.start(order_id, "momo")
    await env.fault("momo", "drop")
    await env.sim_pay(started.payment_id)  # paid, but the IPN never arrives
    stock = env.stock("tshirt")

    later = env.hub.clock.now() + timedelta(hours=1)
    assert await expire_due_orders(env.hub, now=later) == 0
    assert env.order_row(order_id)["status"] == "paid"
    assert env.payment(started.payment_id)["status"] == "succeeded"
    assert env.stock("tshirt") == stock  # sold, not released
    env.assert_invariants()

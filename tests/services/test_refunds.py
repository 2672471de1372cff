"""Refunds: full or partial, never beyond what was captured (a pending refund reserves its
amount), each with its own state; the order follows (partially_refunded → refunded) and the
credits are taken back on the full refund only. MoMo's simulator takes the money back."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from anyio import from_thread, to_thread
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payhub.domain.errors import InvalidRequest, RefundNotAllowed
from payhub.services.refunds import RefundsNotSupported, create_refund, list_refunds
from payhub.store.models import CreditEntry, Refund
from tests.services.conftest import Env

pytestmark = pytest.mark.anyio

REFUND_PATH = "/v2/gateway/api/refund"  # MoMo's refund API


async def refund(env: Env, payment_id: str, amount: int | None, **kw: Any) -> dict[str, Any]:
    return await create_refund(
        env.hub, env.merchant_id, payment_id, amount=amount, reason="test", actor="op", **kw
    )


async def refunded_at_momo(env: Env, payment_id: str) -> int:
    reference = env.payment(payment_id)["gateway_reference"]
    r = await env.sims["momo"].get(f"/__sim/orders/{reference}")
    assert r.status_code == 200, r.text
    return int(r.json()["refunded"])


async def test_a_partial_then_the_rest(env: Env) -> None:
    order_id, payment_id = await env.paid_order("momo")

    first = await refund(env, payment_id, 5_000)
    assert (first["status"], first["amount"], first["manual"]) == ("succeeded", 5_000, False)
    order = env.order_row(order_id)
    assert (order["status"], order["refunded_minor"]) == ("partially_refunded", 5_000)
    assert env.payment(payment_id)["refunded_minor"] == 5_000
    assert await refunded_at_momo(env, payment_id) == 5_000

    rest = await refund(env, payment_id, None)  # no amount: what is left
    assert (rest["status"], rest["amount"]) == ("succeeded", 15_000)
    order = env.order_row(order_id)
    assert (order["status"], order["refunded_minor"]) == ("refunded", 20_000)
    assert env.payment(payment_id)["refunded_minor"] == 20_000
    assert await refunded_at_momo(env, payment_id) == 20_000
    assert [r["status"] for r in list_refunds(env.hub, env.merchant_id, payment_id)] == [
        "succeeded",
        "succeeded",
    ]
    assert env.outbox_types(event_type="refund.succeeded") == ["refund.succeeded"] * 2
    env.assert_invariants()


async def test_a_refund_beyond_what_is_left_is_refused(env: Env) -> None:
    _, payment_id = await env.paid_order("momo")
    await refund(env, payment_id, 5_000)

    with pytest.raises(RefundNotAllowed) as refused:
        await refund(env, payment_id, 15_001)
    assert refused.value.extra["refundable"] == 15_000
    assert env.count(Refund, payment_id=payment_id) == 1
    assert await refunded_at_momo(env, payment_id) == 5_000

    await refund(env, payment_id, 15_000)
    with pytest.raises(RefundNotAllowed):
        await refund(env, payment_id, None)  # nothing left
    with pytest.raises(RefundNotAllowed):
        await refund(env, payment_id, 1_000)
    assert env.count(Refund, payment_id=payment_id) == 2
    env.assert_invariants()


async def test_only_a_succeeded_payment_refunds(env: Env) -> None:
    order_id = env.order()
    started = await env.start(order_id, "momo")
    with pytest.raises(RefundNotAllowed):
        await refund(env, started.payment_id, None)
    await env.sim_pay(started.payment_id, "insufficient")
    with pytest.raises(RefundNotAllowed):
        await refund(env, started.payment_id, None)
    with pytest.raises(InvalidRequest):
        await refund(env, started.payment_id, 0)
    assert env.count(Refund) == 0
    assert REFUND_PATH not in env.gateway_calls.calls


async def test_without_a_refund_api_only_a_manual_refund_is_recorded(env: Env) -> None:
    order_id, payment_id = await env.paid_order("payos")
    with pytest.raises(RefundsNotSupported):
        await refund(env, payment_id, None)
    assert env.count(Refund) == 0

    manual = await refund(env, payment_id, None, manual=True)
    assert (manual["status"], manual["manual"], manual["amount"]) == ("succeeded", True, 20_000)
    assert env.order_row(order_id)["status"] == "refunded"
    assert sorted(e["reason"] for e in env.rows(CreditEntry, order_id=order_id)) == [
        "order_paid",
        "order_refunded",
    ]
    env.assert_invariants()


async def test_a_refund_whose_answer_is_lost_stays_pending_and_reserves_its_amount(
    env: Env,
) -> None:
    order_id, payment_id = await env.paid_order("momo")
    env.gateway_calls.faults[REFUND_PATH] = httpx.ReadTimeout

    lost = await refund(env, payment_id, 8_000)
    assert lost["status"] == "pending"
    assert env.order_row(order_id)["status"] == "paid"
    assert env.payment(payment_id)["refunded_minor"] == 0
    assert "refund.succeeded" not in env.outbox_types()

    del env.gateway_calls.faults[REFUND_PATH]
    with pytest.raises(RefundNotAllowed) as refused:
        await refund(env, payment_id, 20_000)
    assert refused.value.extra["refundable"] == 12_000
    rest = await refund(env, payment_id, None)
    assert (rest["status"], rest["amount"]) == ("succeeded", 12_000)
    assert env.order_row(order_id)["status"] == "partially_refunded"
    env.assert_invariants()


async def test_a_refund_the_gateway_refuses_fails_and_frees_its_amount(env: Env) -> None:
    order_id, payment_id = await env.paid_order("momo")
    env.gateway_calls.faults[REFUND_PATH] = httpx.Response(
        200, json={"resultCode": 1088, "message": "Original transaction is not eligible."}
    )
    failed = await refund(env, payment_id, None)
    assert failed["status"] == "failed"
    assert env.order_row(order_id)["status"] == "paid"
    assert env.outbox_types(event_type="refund.failed") == ["refund.failed"]

    del env.gateway_calls.faults[REFUND_PATH]
    assert (await refund(env, payment_id, None))["amount"] == 20_000
    assert env.order_row(order_id)["status"] == "refunded"
    env.assert_invariants()


async def test_a_refund_below_the_gateway_minimum_leaves_nothing_reserved(env: Env) -> None:
    _, payment_id = await env.paid_order("momo")
    with pytest.raises(InvalidRequest):
        await refund(env, payment_id, 500)  # MoMo refunds from 1,000 VND
    assert env.count(Refund) == 0
    assert (await refund(env, payment_id, None))["amount"] == 20_000
    env.assert_invariants()


async def test_a_double_payment_in_review_is_rejected_and_refunded_at_the_gateway(
    env: Env,
) -> None:
    from payhub.services.review import reject_review

    order_id = env.order()
    first = await env.start(order_id, "payos")
    second = await env.start(order_id, "momo")
    await env.sim_pay(first.payment_id)
    await env.sim_pay(second.payment_id)
    assert env.payment(second.payment_id)["review_reason"] == "double_payment"

    with pytest.raises(RefundNotAllowed):  # money in review is rejected, not refunded
        await refund(env, second.payment_id, None)
    view = await reject_review(env.hub, env.merchant_id, second.payment_id, actor="op", note="2x")
    assert (view["status"], view["refunded"]) == ("rejected", 20_000)
    assert await refunded_at_momo(env, second.payment_id) == 20_000
    assert env.order_row(order_id)["status"] == "paid"  # paid by the first attempt
    assert env.count(CreditEntry, order_id=order_id) == 1
    env.assert_invariants()


async def test_partial_refunds_never_add_up_beyond_the_capture(env: Env) -> None:
    """Any sequence of refund requests: each is taken iff it fits what is left; the order,
    the payment, the gateway and the credits agree with the sum taken."""
    captured = 20_000

    async def check(amounts: list[int]) -> None:
        order_id, payment_id = await env.paid_order("momo")
        taken = 0
        for amount in amounts:
            if amount <= captured - taken:
                assert (await refund(env, payment_id, amount))["status"] == "succeeded"
                taken += amount
            else:
                with pytest.raises(RefundNotAllowed):
                    await refund(env, payment_id, amount)
        order = env.order_row(order_id)
        expected = {0: "paid", captured: "refunded"}.get(taken, "partially_refunded")
        assert (order["status"], order["refunded_minor"]) == (expected, taken)
        assert env.payment(payment_id)["refunded_minor"] == taken
        assert await refunded_at_momo(env, payment_id) == taken
        reversals = env.count(CreditEntry, order_id=order_id, reason="order_refunded")
        assert reversals == (1 if taken == captured else 0)
        env.assert_invariants()

    @settings(
        max_examples=6,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.lists(st.integers(min_value=1_000, max_value=22_000), min_size=1, max_size=4))
    def sequences(amounts: list[int]) -> None:
        from_thread.run(check, amounts)

    # Hypothesis drives the examples from a worker thread; each runs in this event loop.
    await to_thread.run_sync(sequences)


async def test_a_refund_event_holds_the_refund_as_its_route_answers_it(env: Env) -> None:
    """One object everywhere: `refund.succeeded`'s `data.object` is the refund with its
    order's mode, as `GET /v1/payments/{id}/refunds` lists it, and the event says the mode."""
    from payhub.services.webhooks import get_event
    from payhub.store.models import OutboxEvent

    _, payment_id = await env.paid_order("momo")
    back = await refund(env, payment_id, 5_000)
    [row] = env.rows(OutboxEvent, event_type="refund.succeeded")
    event = get_event(env.hub, env.merchant_id, row["id"])
    assert event["livemode"] is False
    assert event["data"]["object"] == {**back, "livemode": False}

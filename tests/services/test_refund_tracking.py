"""Refunds the gateway is still processing stay `pending` and are polled until final, with
the clock injected: MoMo's sandbox keeps a refund processing (7000) for a number of status
queries, then finishes it (done, or rejected). The order's refunded amount, the credit
reversal and the `refund.*` event follow only the final answer; all checked in SQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from payhub.clock import FrozenClock
from payhub.services.refunds import create_refund, track_pending_refunds
from payhub.store import refunds as refund_store
from payhub.store.models import CreditEntry, Refund
from tests.services.conftest import Env

pytestmark = pytest.mark.anyio


async def _refund_while_processing(env: Env, fault: str, queries: int) -> tuple[str, str]:
    order_id, payment_id = await env.paid_order("momo")
    await env.fault("momo", fault, queries)
    refund = await create_refund(
        env.hub, env.merchant_id, payment_id, amount=None, reason="customer asked", actor="t"
    )
    assert refund["status"] == "pending"
    return order_id, refund["id"]


def _refund_events(env: Env) -> list[str]:
    return [t for t in env.outbox_types() if t.startswith("refund.")]


async def test_a_processing_refund_is_polled_until_it_succeeds(
    env: Env, frozen: FrozenClock
) -> None:
    order_id, refund_id = await _refund_while_processing(env, "refund_processing", 2)
    assert await track_pending_refunds(env.hub, worker="w1") == 0  # just answered: not yet
    answers = []
    for _ in range(3):
        frozen.advance(timedelta(minutes=1))
        assert await track_pending_refunds(env.hub, worker="w1") == 1
        answers.append(env.one(Refund, id=refund_id)["status"])
        if answers[-1] == "pending":
            # Nothing moved while MoMo is still processing.
            assert env.order_row(order_id)["refunded_minor"] == 0
            assert env.count(CreditEntry, order_id=order_id, reason="order_refunded") == 0
            assert _refund_events(env) == []
    assert answers == ["pending", "pending", "succeeded"]
    row = env.one(Refund, id=refund_id)
    assert row["check_count"] == 3 and row["next_check_at"] is None
    order = env.order_row(order_id)
    assert order["status"] == "refunded" and order["refunded_minor"] == order["total_minor"]
    assert env.count(CreditEntry, order_id=order_id, reason="order_refunded") == 1
    assert _refund_events(env) == ["refund.succeeded"]
    frozen.advance(timedelta(hours=1))
    assert await track_pending_refunds(env.hub, worker="w1") == 0  # final: never again
    env.assert_invariants()


async def test_a_processing_refund_that_is_rejected_changes_nothing_but_itself(
    env: Env, frozen: FrozenClock
) -> None:
    order_id, refund_id = await _refund_while_processing(env, "refund_rejected", 1)
    for _ in range(2):
        frozen.advance(timedelta(minutes=1))
        assert await track_pending_refunds(env.hub, worker="w1") == 1
    row = env.one(Refund, id=refund_id)
    assert row["status"] == "failed" and row["gateway_code"] == "1080"
    order = env.order_row(order_id)
    assert order["status"] == "paid" and order["refunded_minor"] == 0
    assert env.count(CreditEntry, order_id=order_id, reason="order_refunded") == 0
    assert _refund_events(env) == ["refund.failed"]
    # What was reserved is free again: the full amount can be refunded now.
    again = await create_refund(
        env.hub,
        env.merchant_id,
        row["payment_id"],
        amount=None,
        reason="second try",
        actor="t",
    )
    assert again["status"] == "succeeded"
    env.assert_invariants()


async def test_two_workers_never_check_one_refund_at_once(env: Env, frozen: FrozenClock) -> None:
    _, refund_id = await _refund_while_processing(env, "refund_processing", 5)
    frozen.advance(timedelta(minutes=1))
    now = frozen.now()
    with env.hub.db.write() as tx:
        first = refund_store.claim_pending_refunds(
            tx,
            now,
            quiet_since=now,
            worker="w1",
            lease_until=now + timedelta(minutes=2),
            limit=10,
        )
    assert first == [refund_id]
    assert await track_pending_refunds(env.hub, worker="w2") == 0  # w1 holds it
    frozen.advance(timedelta(minutes=2, seconds=1))  # w1's lease passed (it died)
    assert await track_pending_refunds(env.hub, worker="w2") == 1
    assert env.one(Refund, id=refund_id)["check_count"] == 1
    assert _refund_events(env) == []

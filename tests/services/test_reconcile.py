"""Reconciliation on a schedule per attempt, with the clock injected: when the worker asks
the gateway again about an unsettled attempt, how it backs off, how a throttle pushes it
out, that a browser return counts as a check, and that two workers never hold one attempt."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from payhub.clock import FrozenClock, as_utc
from payhub.services import reconcile
from payhub.services.reconcile import next_check_delay
from payhub.store import attempts
from payhub.store.models import OutboxEvent
from tests.services.conftest import Env

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
def test_the_delay_grows_with_the_attempts_age(anyio_backend: str) -> None:
    minutes = [
        next_check_delay(timedelta(minutes=age)) / timedelta(minutes=1)
        for age in (1, 4, 6, 14, 30, 59, 61, 179, 181, 24 * 60)
    ]
    assert minutes == [1, 1, 2, 2, 5, 5, 10, 10, 30, 30]
    assert next_check_delay(timedelta(minutes=1), throttled=True) == timedelta(minutes=5)
    assert next_check_delay(timedelta(hours=2), throttled=True) == timedelta(minutes=20)
    assert next_check_delay(timedelta(minutes=1), retry_after=900) == timedelta(minutes=15)


async def test_a_pending_attempt_is_queried_on_its_schedule(env: Env, frozen: FrozenClock) -> None:
    started = await env.start(env.order())
    pid = started.payment_id
    assert await reconcile.reconcile_due(env.hub, worker="w1") == 0  # fresh: not yet
    frozen.advance(timedelta(seconds=61))
    calls = len(env.gateway_calls.calls)
    assert await reconcile.reconcile_due(env.hub, worker="w1") == 1
    assert len(env.gateway_calls.calls) == calls + 1
    row = env.payment(pid)
    assert row["check_count"] == 1 and row["claimed_by"] is None
    assert as_utc(row["next_check_at"]) == frozen.now() + timedelta(minutes=1)
    assert await reconcile.reconcile_due(env.hub, worker="w1") == 0  # not due again yet
    frozen.advance(timedelta(seconds=59))
    assert await reconcile.reconcile_due(env.hub, worker="w1") == 0
    frozen.advance(timedelta(seconds=1))
    assert await reconcile.reconcile_due(env.hub, worker="w1") == 1
    # Twenty minutes old: checked every five minutes now.
    frozen.advance(timedelta(minutes=18))
    assert await reconcile.reconcile_due(env.hub, worker="w1") == 1
    assert as_utc(env.payment(pid)["next_check_at"]) == frozen.now() + timedelta(minutes=5)
    assert env.payment(pid)["check_count"] == 3
    assert env.payment(pid)["status"] == "pending"


async def test_a_throttling_gateway_pushes_the_next_check_out(
    env: Env, frozen: FrozenClock
) -> None:
    started = await env.start(env.order())
    frozen.advance(timedelta(seconds=61))
    await reconcile.reconcile_due(env.hub, worker="w1")  # learn the query's path
    query_path = env.gateway_calls.calls[-1]
    env.gateway_calls.faults[query_path] = httpx.Response(429, headers={"retry-after": "600"})
    frozen.advance(timedelta(minutes=1))
    assert await reconcile.reconcile_due(env.hub, worker="w1") == 1
    row = env.payment(started.payment_id)
    assert as_utc(row["next_check_at"]) == frozen.now() + timedelta(minutes=10)
    frozen.advance(timedelta(minutes=5))
    assert await reconcile.reconcile_due(env.hub, worker="w1") == 0  # it said: not so often


async def test_a_browser_return_query_counts_as_a_check(env: Env, frozen: FrozenClock) -> None:
    started = await env.start(env.order())
    frozen.advance(timedelta(seconds=90))
    await reconcile.check_on_schedule(env.hub, started.payment_id, worker=None)
    row = env.payment(started.payment_id)
    assert row["check_count"] == 1
    assert as_utc(row["next_check_at"]) == frozen.now() + timedelta(minutes=1)
    assert await reconcile.reconcile_due(env.hub, worker="w1") == 0  # the worker waits


async def test_two_workers_never_claim_the_same_attempt(env: Env, frozen: FrozenClock) -> None:
    for _ in range(3):
        await env.start(env.order())
    frozen.advance(timedelta(seconds=61))
    now = frozen.now()
    statuses = ["pending", "unknown"]
    with env.hub.db.write() as tx:
        first = attempts.claim_due_checks(
            tx,
            now,
            statuses=statuses,
            quiet_since=now - timedelta(seconds=60),
            worker="w1",
            lease_until=now + timedelta(minutes=2),
            limit=2,
        )
    with env.hub.db.write() as tx:
        second = attempts.claim_due_checks(
            tx,
            now,
            statuses=statuses,
            quiet_since=now - timedelta(seconds=60),
            worker="w2",
            lease_until=now + timedelta(minutes=2),
            limit=10,
        )
    assert len(first) == 2 and len(second) == 1 and not set(first) & set(second)
    # w1 dies; once its lease has passed, another worker takes its attempts over.
    frozen.advance(timedelta(minutes=2, seconds=1))
    assert await reconcile.reconcile_due(env.hub, worker="w2") == 3
    assert all(env.payment(pid)["check_count"] == 1 for pid in first + second)


async def test_a_payment_settled_by_reconciliation_alerts_the_operator(
    env: Env, frozen: FrozenClock
) -> None:
    env.callbacks.hold = True  # the notification never arrives
    order_id = env.order()
    started = await env.start(order_id)
    await env.sim_pay(started.payment_id)
    frozen.advance(timedelta(seconds=61))
    assert await reconcile.reconcile_due(env.hub, worker="w1") == 1
    assert env.order_row(order_id)["status"] == "paid"
    alerts = [
        r["payload"]["data"]
        for r in env.rows(OutboxEvent, event_type="operator.alert")
        if r["payload"]["data"].get("kind") == "reconciled_without_notification"
    ]
    assert alerts == [
        {
            "kind": "reconciled_without_notification",
            "payment_id": started.payment_id,
            "order_id": order_id,
        }
    ]
    env.assert_invariants()


async def test_a_failing_gateway_alerts_the_operator_once_a_day(
    env: Env, frozen: FrozenClock
) -> None:
    first = await env.start(env.order())
    second = await env.start(env.order())
    frozen.advance(timedelta(seconds=61))
    for payment_id in (first.payment_id, second.payment_id):  # learn their query paths
        await reconcile.check_on_schedule(env.hub, payment_id, worker=None)
        env.gateway_calls.faults[env.gateway_calls.calls[-1]] = httpx.Response(500)
    frozen.advance(timedelta(minutes=2))
    assert await reconcile.reconcile_due(env.hub, worker="w1") == 2
    alerts = [
        r["payload"]["data"]
        for r in env.rows(OutboxEvent, event_type="operator.alert")
        if r["payload"]["data"].get("kind") == "gateway_error"
    ]
    assert len(alerts) == 1
    assert alerts[0]["gateway_account_id"] == env.payment(first.payment_id)["gateway_account_id"]
    assert env.payment(first.payment_id)["status"] == "pending"  # a failed query settles nothing

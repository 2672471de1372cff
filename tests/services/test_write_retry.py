"""PostgreSQL deadlocks and serialization failures on writes are re-run transparently
(store.tx.retry_write_conflicts for service transactions, store.group_commit for batched
writes), never answered 500.

The deadlock is the one an attacker's probe found: an order cancel locks the order, then its
attempts; the paid webhook locks the attempt, then its order. Here a second connection plays
one side at exactly the wrong moment, so the deadlock happens every time: it takes the lock
the real operation takes second, waits until the real operation blocks on it, then asks for
the lock the real operation holds. PostgreSQL breaks the cycle by aborting the transaction
that has waited longest (the real one: the intruder's deadlock_timeout is set far higher).
Then the intruder rolls back, and the real operation, re-run, must succeed.

A third test fires cancels, payment starts and the webhook at one order concurrently, on
both databases, and expects only the rules' refusals.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from anyio import to_thread
from sqlalchemy.engine import make_url

from payhub.domain.errors import DomainError
from payhub.gateways.base import ApplyOutcome
from payhub.services.checkout import cancel_order
from payhub.services.inbound import receive_notification
from payhub.store.models import InboundRequest as InboundRow
from tests.services.conftest import Env
from tests.support.postgres import _conninfo

pytestmark = pytest.mark.anyio

ROUNDS = 8


def _postgres_only(env: Env) -> str:
    url = make_url(env.hub.settings.database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("deadlocks are PostgreSQL's (SQLite serialises writers)")
    return _conninfo(url, url.database or "")


class Intruder:
    """A second connection that takes row locks in the opposite order."""

    def __init__(self, conninfo: str) -> None:
        self.conn = psycopg.connect(conninfo)
        self.watch = psycopg.connect(conninfo, autocommit=True)
        try:
            self.conn.execute("SET deadlock_timeout = '60s'")
        except psycopg.Error:
            pytest.skip("cannot raise deadlock_timeout (not a superuser)")

    def lock(self, table: str, row_id: str) -> None:
        self.conn.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", (row_id,))

    def wait_for_a_blocked_backend(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            blocked = self.watch.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database() AND pid <> %s",
                (self.conn.info.backend_pid,),
            ).fetchone()
            if blocked and blocked[0]:
                return
            time.sleep(0.01)
        raise AssertionError("the real operation never blocked on the intruder's lock")

    def close(self) -> None:
        self.conn.rollback()
        self.conn.close()
        self.watch.close()


@contextmanager
def intruder(conninfo: str) -> Iterator[Intruder]:
    it = Intruder(conninfo)
    try:
        yield it
    finally:
        it.close()


def _close_cycle(it: Intruder, table: str, row_id: str) -> threading.Thread:
    """Once the real operation is blocked, ask for its lock (blocking until PostgreSQL
    aborts the real transaction), then roll back so the re-run can proceed."""

    def run() -> None:
        it.wait_for_a_blocked_backend()
        it.lock(table, row_id)
        it.conn.rollback()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def test_order_cancel_deadlock_is_retried(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    conninfo = _postgres_only(env)
    order_id = env.order()
    started = await env.start(order_id)
    caplog.set_level(logging.INFO, logger="payhub.store.tx")
    with intruder(conninfo) as it:
        it.lock("payments", started.payment_id)  # the cancel's second lock
        closer = _close_cycle(it, "orders", order_id)  # the cancel's first
        await cancel_order(env.hub, env.merchant_id, order_id, actor="test")
        await to_thread.run_sync(closer.join, 30)
    assert env.order_row(order_id)["status"] == "cancelled"
    assert "write conflict 1" in caplog.text
    env.assert_invariants()


async def test_webhook_deadlock_is_retried(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    """The webhook's one statement locks the attempt and the order; PostgreSQL does not
    always take them in the same order, and when it takes the order first no cycle can
    form. So this runs until the deadlock has happened (nearly always the first round)."""
    conninfo = _postgres_only(env)
    caplog.set_level(logging.INFO, logger="payhub.store.group_commit")
    for _ in range(8):
        order_id = env.order()
        started = await env.start(order_id)
        env.callbacks.hold = True
        await env.sim_pay(started.payment_id)
        env.callbacks.hold = False
        gateway, account_id, raw = env.callbacks.held.pop()
        env.callbacks.held.clear()
        with intruder(conninfo) as it:
            it.lock("orders", order_id)  # the webhook's second lock
            closer = _close_cycle(it, "payments", started.payment_id)  # its first
            reply = await receive_notification(env.hub, gateway, account_id, raw)
            await to_thread.run_sync(closer.join, 30)
        assert reply.status_code == 200
        assert env.order_row(order_id)["status"] == "paid"
        if "write conflict 1" in caplog.text:
            break
    else:
        # Every round stayed correct (asserted above) but no cycle formed: the order-cancel
        # test proves the retry deterministically; this one cannot force PostgreSQL's order.
        pytest.skip("PostgreSQL took the order's lock first in every round: no deadlock formed")
    assert env.count(InboundRow, outcome=ApplyOutcome.ERROR.value) == 0
    env.assert_invariants()


async def test_concurrent_cancels_payments_and_webhooks_of_one_order(env: Env) -> None:
    failures: list[BaseException] = []
    for _ in range(ROUNDS):
        order_id = env.order()
        started = await env.start(order_id)
        env.callbacks.hold = True
        await env.sim_pay(started.payment_id)
        env.callbacks.hold = False
        gateway, account_id, raw = env.callbacks.held[0]
        env.callbacks.held.clear()

        async def cancel(order_id: str = order_id) -> Any:
            return await cancel_order(env.hub, env.merchant_id, order_id, actor="test")

        async def webhook(raw: Any = raw) -> Any:
            return await receive_notification(env.hub, gateway, account_id, raw)

        results = await asyncio.gather(
            cancel(),
            webhook(),
            cancel(),
            webhook(),
            env.start(order_id, "momo"),
            cancel(),
            return_exceptions=True,
        )
        failures += [
            r for r in results if isinstance(r, BaseException) and not isinstance(r, DomainError)
        ]
    assert failures == []
    assert env.count(InboundRow, outcome=ApplyOutcome.ERROR.value) == 0
    env.assert_invariants()

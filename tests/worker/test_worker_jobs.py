"""The worker's jobs run side by side: a hanging merchant endpoint delays nobody else's
events and not the expiry of orders; a job that fails leaves the others running; on SQLite
a second `payhub worker` is refused, loudly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payhub.services.orders import ItemDraft, OrderDraft, create_order
from payhub.services.webhooks import create_endpoint
from payhub.store.invariants import check_invariants
from payhub.store.journal import enqueue_event
from payhub.worker import Worker, sqlite_lock_path
from tests.support.hub import LOOPBACK, MASTER_KEY, HubUnderTest, make_hub
from tests.support.servers import serve_app

pytestmark = pytest.mark.e2e


@dataclass
class TwoEndpoints:
    """`/ok` answers at once; `/hang` holds every request until released."""

    ok: list[str] = field(default_factory=list)
    hanging: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def app(self) -> Starlette:
        async def ok(request: Request) -> Response:
            self.ok.append(request.headers["webhook-id"])
            return Response(status_code=204)

        async def hang(request: Request) -> Response:
            self.hanging.append(request.headers["webhook-id"])
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return Response(status_code=200)

        return Starlette(
            routes=[Route("/ok", ok, methods=["POST"]), Route("/hang", hang, methods=["POST"])]
        )


class ShiftedClock:
    """Real time, moved by `offset` (to put an order past its expiry)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture
def th(sqlite_url: str) -> Iterator[HubUnderTest]:
    hub = make_hub(sqlite_url)
    yield hub
    hub.hub.db.dispose()


def _events(th: HubUnderTest, count: int, prefix: str) -> list[str]:
    now = th.hub.clock.now()
    with th.hub.db.write() as tx:
        return [
            enqueue_event(
                tx,
                merchant_id=th.merchant_id,
                event_type="order.created",
                event_key=f"{prefix}:{i}",
                payload={"n": i},
                now=now,
            )
            for i in range(count)
        ]


def _order_status(th: HubUnderTest, order_id: str) -> str:
    with th.hub.db.engine.connect() as c:
        found = c.execute(text("select status from orders where id = :id"), {"id": order_id})
        return str(found.scalar_one())


def test_a_hanging_endpoint_delays_neither_a_healthy_one_nor_expiry(th: HubUnderTest) -> None:
    receiver = TwoEndpoints()
    clock = ShiftedClock()
    th.hub.clock = clock
    settings = th.hub.settings
    settings.webhook_timeout_seconds = 30.0  # longer than the test: the hang never ends
    settings.worker_deliver_interval_seconds = 0.1
    settings.worker_expire_interval_seconds = 0.2
    order_id = create_order(
        th.hub,
        th.merchant_id,
        OrderDraft(merchant_reference="exp-1", currency="VND", items=[ItemDraft(sku="tshirt")]),
    )
    clock.offset = timedelta(days=1)  # the order is long past its expiry now
    with serve_app(receiver.app()) as origin:
        create_endpoint(th.hub, th.merchant_id, f"{origin}/hang", [], actor="test")
        create_endpoint(th.hub, th.merchant_id, f"{origin}/ok", [], actor="test")
        ids = _events(th, 20, "hang")
        worker = Worker(th.hub)

        async def run() -> float:
            task = asyncio.create_task(worker.run_forever())
            started = time.monotonic()
            try:
                # Generous: sent one after another behind the hang, this is 20 × 30 s.
                while len(set(receiver.ok) & set(ids)) < 20 and time.monotonic() - started < 20:
                    await asyncio.sleep(0.05)
                return time.monotonic() - started
            finally:
                while _order_status(th, order_id) != "expired" and time.monotonic() - started < 20:
                    await asyncio.sleep(0.05)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

        try:
            took = asyncio.run(run())
        finally:
            receiver.release.set()
    print(f"\n20 events reached the healthy endpoint in {took:.2f} s beside a hanging one")
    assert set(ids) <= set(receiver.ok)
    assert len(receiver.hanging) == 1  # one in flight per endpoint: the rest wait their turn
    assert _order_status(th, order_id) == "expired"
    assert worker.stats["expire"].runs >= 1 and worker.stats["deliver"].failures == 0
    assert check_invariants(th.hub.db.engine) == {}


def test_a_failing_job_leaves_the_others_running(th: HubUnderTest) -> None:
    receiver = TwoEndpoints()
    th.hub.settings.worker_deliver_interval_seconds = 0.1
    th.hub.settings.worker_reconcile_interval_seconds = 0.05
    with serve_app(receiver.app()) as origin:
        create_endpoint(th.hub, th.merchant_id, f"{origin}/ok", [], actor="test")
        worker = Worker(th.hub)

        async def broken() -> int:
            raise RuntimeError("this job always fails")

        worker.reconcile = broken  # type: ignore[method-assign]
        ids = _events(th, 5, "fail")

        async def run() -> None:
            task = asyncio.create_task(worker.run_forever())
            deadline = time.monotonic() + 20
            while len(receiver.ok) < 5 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        asyncio.run(run())
    assert sorted(receiver.ok) == sorted(ids)
    assert worker.stats["reconcile"].failures >= 1
    assert worker.stats["reconcile"].failures == worker.stats["reconcile"].runs


def _worker_process(url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PAYHUB_DATABASE_URL": url,
        "PAYHUB_MASTER_KEY": MASTER_KEY,
        "PAYHUB_OUTBOUND_ALLOW": ",".join(LOOPBACK),
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from payhub.cli import app; app()", "worker"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _holds_lock(path: Path, pid: int, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip() == str(pid):
            return True
        time.sleep(0.1)
    return False


def test_a_second_sqlite_worker_is_refused(th: HubUnderTest, tmp_path: Path) -> None:
    url = th.hub.settings.database_url
    lock = sqlite_lock_path(url)
    assert lock is not None
    first = _worker_process(url, tmp_path / "first.log")
    try:
        assert _holds_lock(lock, first.pid)
        second = _worker_process(url, tmp_path / "second.log")
        assert second.wait(timeout=60) == 3
        said = (tmp_path / "second.log").read_text()
        assert "another payhub worker is running on this SQLite database" in said
        assert first.poll() is None  # the first one runs on
        # A crash frees the lock (the OS drops it with the process): a new worker starts.
        first.send_signal(signal.SIGKILL)
        first.wait()
        third = _worker_process(url, tmp_path / "third.log")
        try:
            assert _holds_lock(lock, third.pid)
            assert third.poll() is None
        finally:
            third.terminate()
            third.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()

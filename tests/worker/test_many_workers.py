"""Many `payhub worker` processes on one PostgreSQL: every event reaches the merchant once.

Real subprocesses (the `payhub worker` command), a real loopback receiver counting 2xx
answers per `webhook-id`, the database checked in SQL afterwards. The CI size is 300
events; `PAYHUB_PROOF=1` runs the issue's 1,000."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payhub.services.webhooks import create_endpoint
from payhub.store.invariants import check_invariants
from payhub.store.journal import enqueue_event
from tests.support.hub import LOOPBACK, MASTER_KEY, HubUnderTest, database_url, make_hub
from tests.support.servers import serve_app

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

EVENTS = 1000 if os.environ.get("PAYHUB_PROOF") == "1" else 300
LEASE_SECONDS = 9.0  # the least for a 2 s timeout: a 4 s deadline per send plus 5 s


@dataclass
class CountingReceiver:
    """Answers 200 and counts each `webhook-id` it answered."""

    delivered: Counter[str] = field(default_factory=Counter)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            await request.body()
            self.delivered[request.headers["webhook-id"]] += 1
            return Response(status_code=200)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@dataclass
class Load:
    th: HubUnderTest
    url: str
    receiver: CountingReceiver
    event_ids: list[str]
    logs: Path


@pytest.fixture
def load(tmp_path: Path) -> Iterator[Load]:
    url = database_url("postgres", tmp_path)
    th = make_hub(url)
    receiver = CountingReceiver()
    with serve_app(receiver.app()) as origin:
        create_endpoint(th.hub, th.merchant_id, f"{origin}/hook", [], actor="test")
        now = th.hub.clock.now()
        with th.hub.db.write() as tx:
            ids = [
                enqueue_event(
                    tx,
                    merchant_id=th.merchant_id,
                    event_type="order.created",
                    event_key=f"load:{i}",
                    payload={"n": i},
                    now=now,
                )
                for i in range(EVENTS)
            ]
        yield Load(th, url, receiver, ids, tmp_path)
    th.hub.db.dispose()


def start_worker(load: Load, name: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PAYHUB_DATABASE_URL": load.url,
        "PAYHUB_MASTER_KEY": MASTER_KEY,
        "PAYHUB_OUTBOUND_ALLOW": ",".join(LOOPBACK),
        "PAYHUB_WEBHOOK_RETRY_SCALE": "0.0001",
        "PAYHUB_WEBHOOK_TIMEOUT_SECONDS": "2",
        "PAYHUB_WORKER_LEASE_SECONDS": str(LEASE_SECONDS),
        "PAYHUB_WORKER_DELIVER_INTERVAL_SECONDS": "0.1",
        "PAYHUB_LOG_LEVEL": "warning",
    }
    out = (load.logs / f"{name}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-c", "from payhub.cli import app; app()", "worker"],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def delivered_in_db(load: Load) -> int:
    with load.th.hub.db.engine.connect() as c:
        return int(
            c.execute(
                text("select count(*) from deliveries where state = 'delivered'")
            ).scalar_one()
        )


def wait_until(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    for w in workers:
        try:
            w.wait(timeout=10)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait()


def sending_span(load: Load) -> str:
    """First to last attempt, and how the attempts split between the workers' lifetimes."""
    with load.th.hub.db.engine.connect() as c:
        first, last = c.execute(
            text("select min(attempted_at), max(attempted_at) from delivery_attempts")
        ).one()
    return f"{(last - first).total_seconds():.1f} s from first to last send"


def attempts_match_their_log(load: Load) -> list[tuple[int, int, int]]:
    """Deliveries whose attempt counter differs from the number of attempts logged."""
    with load.th.hub.db.engine.connect() as c:
        rows = c.execute(
            text(
                "select d.id, d.attempts, (select count(*) from delivery_attempts a "
                "where a.delivery_id = d.id) from deliveries d"
            )
        ).all()
    return [(i, a, n) for i, a, n in rows if a != n]


def test_three_workers_deliver_every_event_exactly_once(load: Load) -> None:
    started = time.monotonic()
    workers = [start_worker(load, f"w{i}") for i in range(3)]
    try:
        assert wait_until(lambda: delivered_in_db(load) == EVENTS, 180), delivered_in_db(load)
        elapsed = time.monotonic() - started
    finally:
        stop(workers)
    print(f"\n{EVENTS} events, 3 workers: {elapsed:.1f} s with start-up, {sending_span(load)}")
    counts = load.receiver.delivered
    assert set(counts) == set(load.event_ids)
    twice = {k: v for k, v in counts.items() if v != 1}
    assert twice == {}, f"{len(twice)} events answered more than once"
    assert attempts_match_their_log(load) == []
    with load.th.hub.db.engine.connect() as c:
        claimed = c.execute(text("select count(*) from deliveries where claimed_by is not null"))
        assert claimed.scalar_one() == 0
        workers_used = c.execute(text("select count(*) from delivery_attempts")).scalar_one()
        assert workers_used == EVENTS
    assert check_invariants(load.th.hub.db.engine) == {}


def test_a_worker_killed_mid_run_leaves_nothing_undelivered(load: Load) -> None:
    workers = [start_worker(load, f"w{i}") for i in range(3)]
    try:
        assert wait_until(lambda: delivered_in_db(load) >= EVENTS // 5, 120)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        at_kill = delivered_in_db(load)
        assert at_kill < EVENTS, "the run ended before the kill; nothing was tested"
        # The killed worker's claims pass after the lease; the others take them over.
        assert wait_until(lambda: delivered_in_db(load) == EVENTS, 120 + LEASE_SECONDS)
    finally:
        stop(workers)
    counts = load.receiver.delivered
    assert set(counts) == set(load.event_ids)  # every event, under its own webhook-id
    # At most the killed worker's one send in flight (one per endpoint) lands twice: it
    # reached the receiver but its outcome was never recorded.
    twice = {k: v for k, v in counts.items() if v > 1}
    assert len(twice) <= 1 and all(v == 2 for v in twice.values()), twice
    print(f"\nkilled at {at_kill}/{EVENTS} delivered; answered twice: {len(twice)}")
    assert check_invariants(load.th.hub.db.engine) == {}

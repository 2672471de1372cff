"""Crash proof: `kill -9` of the hub every few seconds under load, and on PostgreSQL one
immediate database stop, then the money invariants in SQL.

The hub runs as a real subprocess (`payhub serve`), on SQLite and on a private PostgreSQL
cluster of the proof's own (`var/pg-crash`, its own port: the cluster the other tests use
is never stopped). A load generator sends every attempt's genuine signed PayOS webhook and
retries it, as PayOS does, until the hub acknowledges it; once all are acknowledged it keeps
re-sending acknowledged ones, so that duplicates meet the crashes too. A killer sends
SIGKILL to the hub every few seconds and starts it again. On PostgreSQL, halfway through,
the database itself is stopped the way a power cut would (`pg_ctl stop -m immediate`) and
started again while the hub keeps running.

Afterwards: every acknowledged webhook's effect is there (the order paid, its credits
granted), none twice (one credit entry and one succeeded transition per order), and
`store.invariants` finds nothing.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from payhub.gateways.payos import simulator as payos_sim
from payhub.gateways.registry import entry
from payhub.store.invariants import check_invariants
from tests.proof.conftest import full_proof_only, report
from tests.support.hub import MASTER_KEY, connect_gateway, make_hub, simulator_app
from tests.support.postgres import POSTGRES_SH, ROOT, fresh_database
from tests.support.servers import free_port, serve_app

pytestmark = pytest.mark.e2e

# Full size only: a `payhub serve` start alone takes 5 to 20 s on a loaded 2-core machine,
# so even two kills are over a minute; `make test` has tests/e2e/test_concurrency.py.
ORDERS = 600
KILLS = 10
PAID_AT = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
ACK = '{"success":true}'
PG_DIR = ROOT / "var" / "pg-crash"


class HubProcess:
    """`payhub serve` as a child process that can be killed and started again."""

    def __init__(self, database_url: str, port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.env = {
            **os.environ,
            "PAYHUB_DATABASE_URL": database_url,
            "PAYHUB_MASTER_KEY": MASTER_KEY,
            "PAYHUB_PUBLIC_URL": self.url,
            "PAYHUB_CUSTOMER_JWT_SECRET": "customer-secret-for-tests-0123456789abcdef",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        payhub = Path(sys.executable).with_name("payhub")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(payhub), "serve", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3_000:]
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"payhub serve did not come up: {self.log.read_text()[-3_000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, nothing the hub can do about it."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def _pg(command: str, port: int) -> str:
    env = {**os.environ, "PAYHUB_TEST_PG_DIR": str(PG_DIR), "PAYHUB_TEST_PG_PORT": str(port)}
    run = subprocess.run(
        ["bash", str(POSTGRES_SH), command],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


@contextmanager
def private_postgres() -> Iterator[tuple[str, int]]:
    """A PostgreSQL cluster of this proof's own, on its own port; stopped afterwards."""
    port = free_port()
    base = _pg("start", port).splitlines()[-1]
    try:
        yield fresh_database(base, f"crash_{uuid.uuid4().hex[:12]}"), port
    finally:
        _pg("stop", port)


def _signed_webhooks(url: str, payments: list[dict[str, Any]]) -> dict[str, bytes]:
    key = entry("payos").sandbox_profile().credentials["checksum_key"]
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            rows = c.execute(text("select id, gateway_data from payments")).all()
    finally:
        engine.dispose()
    link_ids = {}
    for pid, data in rows:
        if isinstance(data, str):
            import json

            data = json.loads(data)
        link_ids[pid] = data["paymentLinkId"]
    hooks = {}
    for p in payments:
        data = payos_sim.paid_webhook_data(
            order_code=int(p["gateway_reference"]),
            amount=p["amount"],
            description="crash proof",
            reference=f"FT{p['gateway_reference'][-10:]}",
            paid_at=PAID_AT,
            link_id=link_ids[p["id"]],
        )
        hooks[p["id"]] = payos_sim.signed_webhook(data, key)
    return hooks


def _run_crash_proof(url: str, tmp_path: Path, pg_port: int | None) -> dict[str, Any]:
    hub_port, sim_port = free_port(), free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    th = make_hub(url, public_url=f"http://127.0.0.1:{hub_port}")
    account = connect_gateway(th, "payos", sim_url)
    api_key = th.api_key
    th.hub.db.dispose()
    hub = HubProcess(url, hub_port, tmp_path / "hub.log")
    figures: dict[str, Any] = {"kills": 0, "pg_crashes": 0, "sent": 0, "retries": 0}
    started = time.monotonic()
    with serve_app(simulator_app("payos", sim_url), sim_port):
        hub.start()
        try:
            headers = {"Authorization": f"Bearer {api_key}"}
            payments = []
            with httpx.Client(base_url=hub.url, headers=headers, timeout=30) as api:
                for i in range(ORDERS):
                    r = api.post(
                        "/v1/orders",
                        json={
                            "merchant_reference": f"crash-{i}",
                            "currency": "VND",
                            "items": [{"sku": "pack-100"}],
                            "customer": {"external_id": f"cust-{i % 23}"},
                        },
                    )
                    assert r.status_code == 201, r.text
                    p = api.post(f"/v1/orders/{r.json()['id']}/payments", json={"gateway": "payos"})
                    assert p.status_code == 200, p.text
                    payments.append(p.json())
            hooks = _signed_webhooks(url, payments)
            acked = _load_under_crashes(hub, account, hooks, figures, pg_port)
        finally:
            hub.stop()
    figures["acked"] = len(acked)
    figures["seconds"] = round(time.monotonic() - started, 1)
    _check_effects(url, set(hooks), acked)
    return figures


def _load_under_crashes(
    hub: HubProcess,
    account: str,
    hooks: dict[str, bytes],
    figures: dict[str, Any],
    pg_port: int | None,
) -> set[str]:
    """Send every webhook until acknowledged while the killer runs; the acknowledged ids."""
    acked: set[str] = set()
    done = threading.Event()
    rng = random.Random(11)

    def killer() -> None:
        pg_crash_at = KILLS // 2 if pg_port is not None else -1
        for n in range(KILLS):
            if done.wait(rng.uniform(1.5, 3.5)):
                return
            if n == pg_crash_at:
                _pg("crash", pg_port or 0)  # the database, not the hub
                figures["pg_crashes"] += 1
                time.sleep(1)
                _pg("start", pg_port or 0)
            hub.kill()
            figures["kills"] += 1
            hub.start()

    async def deliver(client: httpx.AsyncClient, pid: str, body: bytes) -> None:
        while True:
            figures["sent"] += 1
            try:
                r = await client.post(
                    f"/callbacks/payos/{account}",
                    content=body,
                    headers={"content-type": "application/json"},
                )
                if r.status_code == 200 and r.text == ACK:
                    acked.add(pid)
                    return
                # Anything else is no acknowledgement: PayOS retries, so do we.
                assert r.status_code >= 500 or r.status_code == 200, (r.status_code, r.text)
            except httpx.TransportError:
                pass  # the hub is down: retry like the gateway would
            figures["retries"] += 1
            await asyncio.sleep(0.2)

    async def load() -> None:
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=hub.url, timeout=10, limits=limits) as client:
            sem = asyncio.Semaphore(16)

            async def bounded(pid: str, body: bytes) -> None:
                async with sem:
                    await deliver(client, pid, body)

            items = list(hooks.items())
            rng.shuffle(items)
            await asyncio.gather(*(bounded(pid, body) for pid, body in items))
            # Keep the crashes meeting traffic: acknowledged webhooks again, as duplicates.
            while thread.is_alive():
                pid, body = rng.choice(items)
                await bounded(pid, body)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        asyncio.run(load())
    finally:
        done.set()
        thread.join(timeout=120)
    return acked


def _check_effects(url: str, all_payments: set[str], acked: set[str]) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            paid = {
                r[0]
                for r in c.execute(text("select id from payments where status = 'succeeded'")).all()
            }
            credits = dict(
                c.execute(
                    text("select order_id, count(*) from credit_entries group by order_id")
                ).all()
            )
            order_of = dict(c.execute(text("select id, order_id from payments")).all())
            transitions = c.execute(
                text(
                    "select payment_id, count(*) from payment_events where"
                    " payment_status_after = 'succeeded'"
                    " and payment_status_before != 'succeeded' group by payment_id"
                )
            ).all()
        assert acked == all_payments, "every webhook was acknowledged in the end"
        lost = acked - paid
        assert lost == set(), f"{len(lost)} acknowledged webhooks lost"
        assert all(credits.get(order_of[p]) == 1 for p in acked), "one credit entry per order"
        assert sum(credits.values()) == len(acked), "no credits without an acknowledged webhook"
        assert sorted(n for _, n in transitions) == [1] * len(acked), "one transition each"
        assert check_invariants(engine) == {}
    finally:
        engine.dispose()


@full_proof_only
def test_kill_9_under_load_on_sqlite(tmp_path: Path) -> None:
    figures = _run_crash_proof(f"sqlite:///{tmp_path / 'payhub.db'}", tmp_path, None)
    report("crash[sqlite]", orders=ORDERS, lost=0, doubled=0, **figures)
    assert figures["kills"] == KILLS


@full_proof_only
def test_kill_9_and_an_immediate_postgres_stop_under_load(tmp_path: Path) -> None:
    with private_postgres() as (url, port):
        figures = _run_crash_proof(url, tmp_path, port)
    report("crash[postgres]", orders=ORDERS, lost=0, doubled=0, **figures)
    assert figures["kills"] == KILLS and figures["pg_crashes"] == 1

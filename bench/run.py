"""PayOS webhook ingestion over HTTP, on SQLite and PostgreSQL (`make bench`).

For each database:

1. A hub set up as the tests do (merchant, products, a PayOS sandbox account), with N
   awaiting-payment orders each holding a pending PayOS attempt (bench.seed), and one
   signed `paid` webhook per order; 10 % of them are delivered a second time a little later
   (a gateway retry), interleaved.
2. One hub server process (bench.serve_hub: uvicorn, one worker, uvloop + httptools) and wrk
   (a separate process, 64 connections, bench/webhooks.lua) on loopback:
   a. the no-op JSON endpoint of the same app (POST /__noop, same bodies; bench.serve_hub
      adds it, the hub has none), then
   b. the webhooks (POST /callbacks/payos/{account}), each verified and durably committed
      before it is answered.
3. The same pipeline in-process, without HTTP: as many concurrent tasks as wrk has
   connections call services.inbound.receive_notification (verify + durable commit), over a
   second set of orders.
4. The money invariants (payhub.store.invariants), and credit grants == paid orders.

    uv run python -m bench.run [--orders 20000] [--duration 10] [--backends sqlite,postgres]

PostgreSQL: PAYHUB_TEST_DATABASE_URL (make bench exports it) or the project's throwaway
cluster (scripts/postgres.sh); each run gets a fresh database, dropped afterwards.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from tests.support.hub import MASTER_KEY
from tests.support.postgres import _conninfo, fresh_database, postgres_url
from tests.support.servers import free_port

from bench.seed import Seeded, seed_orders, setup_hub, with_duplicates, write_bodies
from payhub.gateways.base import InboundRequest
from payhub.services.context import Hub
from payhub.services.inbound import receive_notification
from payhub.store.invariants import check_invariants

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "bench" / "webhooks.lua"
OUT = ROOT / "var" / "bench"

WARM_ORDERS = 300

TARGET_SQLITE_RATE = 1_000.0  # verified webhooks/s
TARGET_P99_MS = 100.0
TARGET_NOOP_SHARE = 0.15


@dataclass
class WrkRun:
    requests: int
    seconds: float
    rate: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    errors: dict[str, int]
    hub_cpu_ms: float = 0.0  # hub process CPU (user + sys) per request answered

    @classmethod
    def parse(cls, stdout: str) -> WrkRun:
        line = next(x for x in stdout.splitlines() if x.startswith("BENCH_JSON "))
        doc = json.loads(line.removeprefix("BENCH_JSON "))
        lat = doc["latency_us"]
        seconds = doc["duration_us"] / 1e6
        return cls(
            requests=doc["requests"],
            seconds=seconds,
            rate=doc["requests"] / seconds if seconds else 0.0,
            p50_ms=lat["p50"] / 1000,
            p90_ms=lat["p90"] / 1000,
            p99_ms=lat["p99"] / 1000,
            p999_ms=lat["p999"] / 1000,
            max_ms=lat["max"] / 1000,
            errors=doc["errors"],
        )


@dataclass
class Result:
    backend: str
    detail: str
    orders: int
    deliveries: int
    noop: WrkRun | None = None
    webhooks: WrkRun | None = None
    inproc_rate: float = 0.0
    inproc_p50_ms: float = 0.0
    inproc_p99_ms: float = 0.0
    inproc_count: int = 0
    inproc_cpu_ms: float = 0.0  # CPU of this process per webhook (excludes PostgreSQL's)
    outcomes: dict[str, int] = field(default_factory=dict)
    http_outcomes: dict[str, int] = field(default_factory=dict)  # the measured HTTP run
    violations: dict[str, list[Any]] = field(default_factory=dict)
    credit_grants: int = 0
    paid_orders: int = 0
    paid_with_delivery: int = 0
    seed_seconds: float = 0.0
    fsync_ms: float | None = None
    loadavg: str = ""
    failures: list[str] = field(default_factory=list)  # correctness: make bench fails
    warnings: list[str] = field(default_factory=list)  # sizing: the numbers are suspect

    @property
    def verified_rate(self) -> float:
        if self.webhooks is None:
            return 0.0
        bad = sum(self.webhooks.errors.values())
        return max(self.webhooks.requests - bad, 0) / self.webhooks.seconds

    @property
    def noop_share(self) -> float:
        return self.verified_rate / self.noop.rate if self.noop and self.noop.rate else 0.0

    @property
    def inproc_share(self) -> float:
        return self.verified_rate / self.inproc_rate if self.inproc_rate else 0.0


# --------------------------------------------------------------------------- machine


def machine() -> dict[str, str]:
    model = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with open("/proc/meminfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    git = subprocess.run(
        ["git", "describe", "--always", "--dirty", "--exclude", "*"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    return {
        "commit": git.stdout.strip() or "?",
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": model,
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0].split(" [")[0].removeprefix("wrk "),
    }


def loadavg() -> str:
    """1-minute load average before a backend's runs: other work on the machine shows here."""
    with open("/proc/loadavg", encoding="utf-8") as fh:
        return fh.read().split()[0]


def fsync_latency_ms(directory: Path, rounds: int = 100) -> float:
    """Mean latency of a 4 KiB append + fsync in `directory`: the floor of one durable
    SQLite commit (WAL, synchronous=FULL) on this disk."""
    path = directory / ".fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        start = time.perf_counter()
        for _ in range(rounds):
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
        return (time.perf_counter() - start) / rounds * 1000
    finally:
        os.close(fd)
        path.unlink()


# --------------------------------------------------------------------------- hub server


class HubServer:
    def __init__(self, url: str, port: int, log: Path) -> None:
        self.url = url
        self.port = port
        self.origin = f"http://127.0.0.1:{port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> HubServer:
        env = {
            **os.environ,
            "PAYHUB_DATABASE_URL": self.url,
            "PAYHUB_MASTER_KEY": MASTER_KEY,
            "PAYHUB_PUBLIC_URL": self.origin,
            "PAYHUB_CUSTOMER_JWT_SECRET": "customer-secret-for-tests",
        }
        self._log_fh = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.serve_hub", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub server exited ({self.proc.returncode}); see {self.log}")
            try:
                if httpx.get(self.origin + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"hub server did not start; see {self.log}")
            time.sleep(0.1)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the hub process so far (all its threads)."""
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def quiesce(self, timeout: float = 60) -> float:
        """Wait until the hub has finished what is in flight; its CPU seconds then."""
        deadline = time.monotonic() + timeout
        last = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.3)
            now = self.cpu_seconds()
            if now - last < 0.02:
                return now
            last = now
        return last

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log_fh.close()


def run_wrk(
    url_origin: str,
    path: str,
    bodies: Path,
    *,
    threads: int,
    connections: int,
    duration: int,
    log: Path,
    once: bool = True,
) -> WrkRun:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url_origin + path,
        "--",
        str(bodies),
        path,
        str(threads),
        "once" if once else "cycle",
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=duration + 120, check=False, cwd=ROOT
    )
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}\n")
    if proc.returncode != 0 or "BENCH_JSON " not in proc.stdout:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return WrkRun.parse(proc.stdout)


# --------------------------------------------------------------------------- in-process


async def _drive_inprocess(
    hub: Hub, account_id: str, sequence: list[bytes], seconds: float, concurrency: int
) -> tuple[int, list[float]]:
    """`concurrency` tasks feed the bodies, in order, to services.inbound.receive_notification:
    the whole pipeline (cached account, verify over the raw bytes, the durable write), no HTTP."""
    path = f"/callbacks/payos/{account_id}"
    latencies: list[float] = []
    bodies = iter(sequence)
    deadline = time.perf_counter() + seconds

    async def feed() -> None:
        for body in bodies:
            t0 = time.perf_counter()
            raw = InboundRequest(
                method="POST",
                path=path,
                query_string=b"",
                headers={"content-type": "application/json", "content-length": str(len(body))},
                body=body,
                remote_addr="127.0.0.1",
            )
            reply = await receive_notification(hub, "payos", account_id, raw)
            if reply.status_code != 200:  # each inbound row's outcome is checked afterwards
                raise RuntimeError(
                    f"in-process webhook answered {reply.status_code} {reply.body!r}"
                )
            t1 = time.perf_counter()
            latencies.append(t1 - t0)
            if t1 > deadline:
                return

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(feed)
    return len(latencies), latencies


def run_inprocess(
    hub: Hub,
    account_id: str,
    sequence: list[bytes],
    seconds: float,
    profile: bool,
    concurrency: int,
) -> tuple[int, float, float, list[float]]:
    profiler = cProfile.Profile() if profile else None
    start = time.perf_counter()
    cpu = time.process_time()
    if profiler:
        profiler.enable()
    count, latencies = anyio.run(_drive_inprocess, hub, account_id, sequence, seconds, concurrency)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    if profiler:
        profiler.disable()
        print("\n--- in-process profile (top 30 by cumulative time)")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        print("--- (top 25 by own time)")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return count, elapsed, cpu, latencies


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


# --------------------------------------------------------------------------- checks


def db_checks(hub: Hub, http_orders: list[str], result: Result) -> None:
    engine = hub.db.engine
    result.violations = {k: [list(r) for r in v] for k, v in check_invariants(engine).items()}
    with engine.connect() as conn:
        result.outcomes = {
            str(outcome): int(n)
            for outcome, n in conn.execute(
                text(
                    "SELECT outcome, COUNT(*) FROM inbound_requests "
                    "WHERE kind = 'notification' GROUP BY outcome"
                )
            )
        }
        result.credit_grants = int(
            conn.execute(
                text("SELECT COUNT(*) FROM credit_entries WHERE reason = 'order_paid'")
            ).scalar_one()
        )
        result.paid_orders = int(
            conn.execute(
                text("SELECT COUNT(DISTINCT id) FROM orders WHERE status = 'paid'")
            ).scalar_one()
        )
        result.paid_with_delivery = int(
            conn.execute(
                text(
                    "SELECT COUNT(DISTINCT p.order_id) FROM payments p "
                    "JOIN inbound_requests i ON i.payment_id = p.id "
                    "WHERE i.outcome IN ('applied', 'duplicate')"
                )
            ).scalar_one()
        )
        events = int(
            conn.execute(
                text("SELECT COUNT(*) FROM payment_events WHERE source = 'notification'")
            ).scalar_one()
        )
    if result.violations:
        result.failures.append(f"{sum(map(len, result.violations.values()))} invariant rows")
    if result.credit_grants != result.paid_orders:
        result.failures.append(
            f"credit grants {result.credit_grants} != paid orders {result.paid_orders}"
        )
    if result.paid_with_delivery != result.paid_orders:
        result.failures.append(
            f"orders with a delivered webhook {result.paid_with_delivery} "
            f"!= paid orders {result.paid_orders}"
        )
    if events != result.paid_orders:
        result.failures.append(f"payment events {events} != paid orders {result.paid_orders}")
    odd = {k: v for k, v in result.outcomes.items() if k not in ("applied", "duplicate")}
    if odd:
        result.failures.append(f"unexpected webhook outcomes {odd}")
    if result.outcomes.get("applied", 0) != result.paid_orders:
        result.failures.append(
            f"applied webhooks {result.outcomes.get('applied', 0)} "
            f"!= paid orders {result.paid_orders}"
        )


# --------------------------------------------------------------------------- one backend


def database(kind: str, workdir: Path) -> tuple[str, str, str | None]:
    """(SQLAlchemy URL, description, PostgreSQL database name to drop afterwards)."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'payhub.db'}", "SQLite (WAL, synchronous=FULL)", None
    base = postgres_url()
    if base is None:
        raise RuntimeError("no PostgreSQL (install with scripts/bootstrap.sh --postgres)")
    name = f"bench_{uuid.uuid4().hex[:12]}"
    url = fresh_database(base, name)
    with psycopg.connect(_conninfo(make_url(url), name)) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        settings = {
            row[0]: row[1]
            for row in conn.execute(
                "SELECT name, setting FROM pg_settings "
                "WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method')"
            )
        }
    detail = (
        f"PostgreSQL {version[0] if version else '?'} (fsync={settings.get('fsync')}, "
        f"synchronous_commit={settings.get('synchronous_commit')})"
    )
    return url, detail, name


def drop_database(url: str, name: str) -> None:
    with psycopg.connect(_conninfo(make_url(url), "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_backend(kind: str, args: argparse.Namespace) -> Result:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    workdir = OUT / f"{kind}-{stamp}"
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "wrk.log"
    url, detail, pg_name = database(kind, workdir)
    print(f"\n=== {detail}", flush=True)
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    try:
        t0 = time.perf_counter()
        th, account_id = setup_hub(url, origin)
        http_set: Seeded = seed_orders(th, account_id, args.orders, "http")
        inproc_set: Seeded = seed_orders(th, account_id, args.inproc_orders, "inproc")
        warm_set: Seeded = seed_orders(th, account_id, WARM_ORDERS, "warm")
        warm_bodies = workdir / "warm.jsonl"
        write_bodies(warm_bodies, warm_set.bodies)
        sequence, copies = with_duplicates(http_set.bodies, args.duplicates)
        bodies = workdir / "webhooks.jsonl"
        write_bodies(bodies, sequence)
        th.hub.db.dispose()
        result = Result(
            backend=kind,
            detail=detail,
            orders=args.orders,
            deliveries=len(sequence),
            seed_seconds=time.perf_counter() - t0,
        )
        if kind == "sqlite":
            result.fsync_ms = fsync_latency_ms(workdir)
        result.loadavg = loadavg()
        print(
            f"seeded {args.orders} + {args.inproc_orders} orders in {result.seed_seconds:.1f}s; "
            f"{len(sequence)} deliveries ({copies} duplicates) in {bodies}",
            flush=True,
        )

        wrk = {
            "threads": args.threads,
            "connections": args.connections,
            "log": log,
        }
        hook_path = f"/callbacks/payos/{account_id}"
        read_engine = getattr(th.hub.db, "read_engine", th.hub.db.engine)
        with HubServer(url, port, workdir / "hub.log") as server:
            # Warm-up, not recorded: the app, the gateway registry and the adapter cache.
            run_wrk(origin, "/__noop", bodies, duration=2, once=False, **wrk)
            run_wrk(origin, hook_path, warm_bodies, duration=2, **wrk)
            cpu = server.quiesce()
            result.noop = run_wrk(
                origin, "/__noop", bodies, duration=args.duration, once=False, **wrk
            )
            result.noop.hub_cpu_ms = (server.quiesce() - cpu) * 1000 / result.noop.requests
            print(f"no-op:     {_fmt(result.noop)}", flush=True)
            rows = inbound_rows(read_engine)
            cpu = server.quiesce()
            result.webhooks = run_wrk(origin, hook_path, bodies, duration=args.duration, **wrk)
            cpu = server.quiesce() - cpu
            # Per webhook the hub processed: wrk stops counting with up to -c in flight.
            after = inbound_rows(read_engine)
            result.http_outcomes = {k: v - rows.get(k, 0) for k, v in after.items()}
            result.webhooks.hub_cpu_ms = cpu * 1000 / max(result.http_outcomes["all"], 1)
            print(f"webhooks:  {_fmt(result.webhooks)}", flush=True)
        if result.webhooks.requests >= len(sequence):
            result.warnings.append("wrk ran out of webhook bodies: raise --orders")

        inproc_sequence, _ = with_duplicates(inproc_set.bodies, args.duplicates, seed=3)
        count, elapsed, cpu_used, latencies = run_inprocess(
            th.hub, account_id, inproc_sequence, args.duration, args.profile, args.connections
        )
        result.inproc_count = count
        if count >= len(inproc_sequence):
            result.warnings.append("the in-process loop ran out of bodies: raise --inproc-orders")
        result.inproc_cpu_ms = cpu_used * 1000 / count if count else 0.0
        result.inproc_rate = count / elapsed if elapsed else 0.0
        result.inproc_p50_ms = percentile(latencies, 50) * 1000
        result.inproc_p99_ms = percentile(latencies, 99) * 1000
        print(
            f"in-process: {count} webhooks in {elapsed:.1f}s = {result.inproc_rate:,.0f}/s "
            f"(p50 {result.inproc_p50_ms:.2f} ms, p99 {result.inproc_p99_ms:.2f} ms, "
            f"CPU {result.inproc_cpu_ms:.2f} ms/webhook)",
            flush=True,
        )
        db_checks(th.hub, http_set.order_ids, result)
        th.hub.db.dispose()
        return result
    finally:
        if pg_name and not args.keep:
            drop_database(url, pg_name)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def inbound_rows(engine: Engine) -> dict[str, int]:
    """Inbound rows by outcome, and their total under "all"."""
    with engine.connect() as conn:
        counts = {
            str(outcome): int(n)
            for outcome, n in conn.execute(
                text("SELECT outcome, COUNT(*) FROM inbound_requests GROUP BY outcome")
            )
        }
    counts["all"] = sum(counts.values())
    return counts


def _fmt(run: WrkRun) -> str:
    return (
        f"{run.requests} requests in {run.seconds:.1f}s = {run.rate:,.0f}/s, "
        f"p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms, "
        f"hub CPU {run.hub_cpu_ms:.2f} ms/request, errors {run.errors}"
    )


# --------------------------------------------------------------------------- report


def report(results: list[Result], info: dict[str, str], args: argparse.Namespace) -> str:
    lines = [
        "",
        "PayOS webhook ingestion: one hub worker (uvicorn, uvloop + httptools), "
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
        f"{round(args.duplicates * 100)} % duplicates",
        "machine: " + ", ".join(f"{k} {v}" for k, v in info.items()),
        "",
        f"{'':22}" + "".join(f"{r.backend:>16}" for r in results),
    ]

    def row(label: str, values: list[str]) -> None:
        lines.append(f"{label:22}" + "".join(f"{v:>16}" for v in values))

    row("verified webhooks/s", [f"{r.verified_rate:,.0f}" for r in results])
    row("p50 (ms)", [f"{r.webhooks.p50_ms:.1f}" if r.webhooks else "-" for r in results])
    row("p99 (ms)", [f"{r.webhooks.p99_ms:.1f}" if r.webhooks else "-" for r in results])
    row("no-op requests/s", [f"{r.noop.rate:,.0f}" if r.noop else "-" for r in results])
    row("  share of no-op", [f"{r.noop_share:.1%}" for r in results])
    row("in-process /s", [f"{r.inproc_rate:,.0f}" for r in results])
    row("  share of in-proc", [f"{r.inproc_share:.1%}" for r in results])
    row("in-proc p50/p99 (ms)", [f"{r.inproc_p50_ms:.1f}/{r.inproc_p99_ms:.1f}" for r in results])
    row(
        "all applied/dup",
        [f"{r.outcomes.get('applied', 0)}/{r.outcomes.get('duplicate', 0)}" for r in results],
    )
    row(
        "HTTP run applied/dup",
        [
            f"{r.http_outcomes.get('applied', 0)}/{r.http_outcomes.get('duplicate', 0)}"
            for r in results
        ],
    )
    row("credit grants", [str(r.credit_grants) for r in results])
    row("paid orders", [str(r.paid_orders) for r in results])
    row("invariant violations", [str(sum(map(len, r.violations.values()))) for r in results])
    row(
        "hub CPU ms/webhook",
        [f"{r.webhooks.hub_cpu_ms:.2f}" if r.webhooks else "-" for r in results],
    )
    row("hub CPU ms/no-op", [f"{r.noop.hub_cpu_ms:.2f}" if r.noop else "-" for r in results])
    row("in-proc CPU ms/webhook", [f"{r.inproc_cpu_ms:.2f}" for r in results])
    row("load avg before", [r.loadavg for r in results])
    row("fsync (ms)", [f"{r.fsync_ms:.2f}" if r.fsync_ms else "-" for r in results])
    lines.append("")
    for r in results:
        checks = [
            (
                "rate",
                r.backend != "sqlite" or r.verified_rate >= TARGET_SQLITE_RATE,
                f">= {TARGET_SQLITE_RATE:,.0f}/s",
            ),
            ("p99", bool(r.webhooks) and r.webhooks.p99_ms <= TARGET_P99_MS, "<= 100 ms"),
            ("no-op share", r.noop_share >= TARGET_NOOP_SHARE, ">= 15 %"),
            ("invariants", not r.violations and not r.failures, "zero violations"),
        ]
        marks = ", ".join(
            f"{name} {'ok' if ok else 'MISSED'} ({want})"
            for name, ok, want in checks
            if name != "rate" or r.backend == "sqlite"
        )
        lines.append(f"{r.backend}: {marks}")
        for failure in r.failures:
            lines.append(f"  FAIL {failure}")
        for warning in r.warnings:
            lines.append(f"  WARNING {warning}")
        for name, rows in r.violations.items():
            lines.append(f"  VIOLATION {name}: {rows[:5]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--orders", type=int, default=20_000, help="orders for the HTTP run")
    parser.add_argument("--inproc-orders", type=int, default=20_000)
    parser.add_argument("--duplicates", type=float, default=0.10)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--threads",
        type=int,
        default=1 if len(os.sched_getaffinity(0)) <= 2 else 2,
        help="wrk threads (1 on a 2-CPU machine: wrk shares the CPUs with the hub)",
    )
    parser.add_argument("--keep", action="store_true", help="keep databases and files")
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process loop")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found: run scripts/bootstrap.sh --wrk", file=sys.stderr)
        return 2
    info = machine()
    started = time.perf_counter()
    results = [bench_backend(kind.strip(), args) for kind in args.backends.split(",") if kind]
    text_report = report(results, info, args)
    print(text_report)
    print(f"\ntotal {time.perf_counter() - started:.0f}s")
    OUT.mkdir(parents=True, exist_ok=True)
    summary = {
        "machine": info,
        "args": vars(args),
        "results": [
            {
                **{k: v for k, v in r.__dict__.items() if k not in ("noop", "webhooks")},
                "noop": r.noop.__dict__ if r.noop else None,
                "webhooks": r.webhooks.__dict__ if r.webhooks else None,
                "verified_rate": r.verified_rate,
                "noop_share": r.noop_share,
                "inproc_share": r.inproc_share,
            }
            for r in results
        ],
    }
    (OUT / "results.json").write_text(json.dumps(summary, indent=2, default=str))
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

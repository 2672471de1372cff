"""The worker: a small table of independent jobs, each on its own schedule, run side by side
as asyncio tasks.

| job              | what one run does                                                    |
|------------------|----------------------------------------------------------------------|
| `deliver`        | fan new outbox events out to endpoints; claim due deliveries and     |
|                  | start sending them (concurrently, one in flight per endpoint)        |
| `reconcile`      | query the attempts whose scheduled check is due (services.reconcile) |
| `track_refunds`  | re-check refunds the gateway is still processing                     |
| `expire`         | expire unpaid orders past their expiry (stock released once)         |
| `close_at_gateway` | cancel/inactivate the links and bills of attempts the hub gave up  |
|                  | on (cancel on failure, cancel, expiry) where the gateway can         |
| `notify`         | send due e-mails and Telegram messages (services.notifications)     |
| `prune`          | drop expired idempotency keys and old rows (services.retention)      |

A job's failure is logged and counted and leaves the other jobs alone; one item's failure
inside a job (a delivery, an attempt) leaves the other items alone. Every item is claimed
with a lease in the database, so many workers can run on one PostgreSQL. On SQLite a
second worker is refused (`single_worker_lock`).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO

from anyio import to_thread

from payhub.services import idempotency, reconcile, refunds, retention, webhooks
from payhub.services.checkout import close_abandoned_attempts, expire_due_orders
from payhub.services.context import Hub
from payhub.services.notifications import send_due_notifications
from payhub.store.db import sqlite_file

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    """Who holds a claim: host, process and a random tag (a restarted process differs)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class JobStats:
    runs: int = 0
    items: int = 0
    failures: int = 0


@dataclass(frozen=True, slots=True)
class Job:
    """One line of the job table: a name, an interval (seconds) and what one run does
    (returns how many items it handled)."""

    name: str
    interval: float
    run: Callable[[], Awaitable[int]]


@dataclass
class Worker:
    """The jobs of one `payhub worker` process and their counters."""

    hub: Hub
    worker_id: str = field(default_factory=new_worker_id)
    deliver_interval: float | None = None
    stats: dict[str, JobStats] = field(default_factory=dict)

    def __post_init__(self) -> None:
        s = self.hub.settings
        self.dispatcher = webhooks.DeliveryDispatcher(
            self.hub,
            worker=self.worker_id,
            concurrency=s.worker_send_concurrency,
            timeout=s.webhook_timeout_seconds,
            lease=timedelta(seconds=s.worker_lease_seconds),
            retry_scale=s.webhook_retry_scale,
        )

    def jobs(self) -> list[Job]:
        s = self.hub.settings
        table = [
            Job(
                "deliver", self.deliver_interval or s.worker_deliver_interval_seconds, self.deliver
            ),
            Job("reconcile", s.worker_reconcile_interval_seconds, self.reconcile),
            Job("expire", s.worker_expire_interval_seconds, self.expire),
            Job("track_refunds", s.worker_refund_interval_seconds, self.track_refunds),
            Job("close_at_gateway", s.worker_expire_interval_seconds, self.close_at_gateway),
            Job("prune", s.worker_prune_interval_seconds, self.prune),
        ]
        table.append(Job("notify", s.worker_notify_interval_seconds, self.notify))
        return table

    async def notify(self) -> int:
        counts = await send_due_notifications(self.hub)
        return sum(counts.values())

    async def deliver(self) -> int:
        await to_thread.run_sync(webhooks.fan_out, self.hub)
        return await self.dispatcher.dispatch()

    async def reconcile(self) -> int:
        s = self.hub.settings
        return await reconcile.reconcile_due(
            self.hub,
            worker=self.worker_id,
            concurrency=s.worker_reconcile_concurrency,
            lease=timedelta(seconds=max(s.worker_lease_seconds, s.gateway_timeout_seconds + 5)),
        )

    async def expire(self) -> int:
        return await expire_due_orders(self.hub)

    async def track_refunds(self) -> int:
        return await refunds.track_pending_refunds(self.hub, worker=self.worker_id)

    async def close_at_gateway(self) -> int:
        return await close_abandoned_attempts(self.hub, worker=self.worker_id)

    async def prune(self) -> int:
        purged = await to_thread.run_sync(idempotency.purge_expired, self.hub)
        await to_thread.run_sync(retention.prune, self.hub, self.hub.clock.now())
        return purged if isinstance(purged, int) else 0

    async def run_job(self, job: Job) -> None:
        """Run `job` every `job.interval` seconds, forever; failures are logged and counted."""
        stats = self.stats.setdefault(job.name, JobStats())
        while True:
            try:
                handled = await job.run()
                stats.items += handled
                if handled:
                    log.info("worker job %s handled %d", job.name, handled)
            except asyncio.CancelledError:
                raise
            except Exception:
                stats.failures += 1
                log.exception("worker job %s failed", job.name)
            stats.runs += 1
            await asyncio.sleep(job.interval)

    async def run_forever(self) -> None:
        log.info("worker %s starting", self.worker_id)
        try:
            async with asyncio.TaskGroup() as group:
                for job in self.jobs():
                    group.create_task(self.run_job(job), name=f"job:{job.name}")
        finally:
            await self.dispatcher.close()


async def deliver_events(hub: Hub) -> dict[str, int]:
    """One delivery pass, waiting for the sends (tests and one-shot callers)."""
    fanned = await to_thread.run_sync(webhooks.fan_out, hub)
    sent = await webhooks.deliver_due(hub, retry_scale=hub.settings.webhook_retry_scale)
    return {"fanned_out": fanned, "sent": sent}


async def run_once(hub: Hub) -> dict[str, int]:
    """One pass of the jobs, one after another, waiting for every send (tests, one-shot
    callers); a `Worker` runs them side by side instead."""
    worker_id = new_worker_id()
    delivered = await deliver_events(hub)
    delivered.update(await send_due_notifications(hub))
    reconciled = await reconcile.reconcile_due(hub, worker=worker_id)
    expired = await expire_due_orders(hub)
    closed = await close_abandoned_attempts(hub, worker=worker_id)
    tracked = await refunds.track_pending_refunds(hub, worker=worker_id)
    await to_thread.run_sync(idempotency.purge_expired, hub)
    return {
        **delivered,
        "reconciled": reconciled,
        "expired": expired,
        "closed_at_gateway": closed,
        "refunds_checked": tracked,
    }


async def run_forever(hub: Hub, interval: float | None = None) -> None:
    """Run every job until cancelled; `interval` overrides the delivery job's."""
    await Worker(hub, deliver_interval=interval).run_forever()


class SingleWorkerLock:
    """An exclusive OS file lock next to a SQLite database file: one worker per database.
    Held for the life of the process; the OS drops it when the process dies (even kill -9)."""

    def __init__(self, path: Path | None, handle: IO[str] | None) -> None:
        self.path = path
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def sqlite_lock_path(database_url: str) -> Path | None:
    """Where the worker lock of a SQLite database lives; None on other databases (and for
    an in-memory SQLite, which no second process can share)."""
    database = sqlite_file(database_url)
    if database is None:
        return None
    return database.with_name(database.name + ".worker.lock")


def single_worker_lock(database_url: str) -> SingleWorkerLock | None:
    """Take the SQLite worker lock. None when another worker holds it; a lock that does
    nothing on PostgreSQL (many workers are fine there)."""
    path = sqlite_lock_path(database_url)
    if path is None:
        return SingleWorkerLock(None, None)
    handle = open(path, "a+")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return SingleWorkerLock(path, handle)

"""Group commit: many async writers, one writer thread, one durable commit per batch.

SQLite has one writer at a time, and with `synchronous=FULL` every commit is an fsync of
the WAL; on PostgreSQL every commit waits for its WAL flush and costs round trips. Committing
each webhook on its own makes that flush, the lock hand-off and a thread hop per webhook the
ceiling. Here async callers queue their write functions; one thread takes everything queued,
runs the functions one after another inside one transaction (`BEGIN IMMEDIATE` on SQLite),
commits once, and only then answers every caller.

The write functions of a batch run one after another in one transaction, with no savepoint
between them (a savepoint per function costs more than the function's own statements).
When any of them raises, the whole batch is rolled back and each function is run again in a
transaction of its own, so one caller's failure never touches another's write. They must
therefore do nothing but database work: the rollback undoes all of it. Every write is durable
before its caller hears back; if a commit fails, its callers get that error and nothing of
theirs was written.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, TypeVarTuple

from sqlalchemy.orm import Session, sessionmaker

from payhub.errors import StoreBusy
from payhub.store.staging import write_staged
from payhub.store.tx import WRITE_ATTEMPTS, Tx, conflict_backoff, is_write_conflict

log = logging.getLogger(__name__)

Ts = TypeVarTuple("Ts")
T = TypeVar("T")

MAX_BATCH = 128


@dataclass(slots=True)
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


class GroupCommitWriter:
    """Runs `fn(tx, *args)` for async callers, batched into shared transactions.

    `write_lock` is the database's in-process writer lock: each batch holds it, so
    `Database.transaction()` users in other threads still take turns with the batches.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        write_lock: threading.Lock,
        *,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._sessions = sessions
        self._write_lock = write_lock
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.batches = 0
        self.jobs = 0

    async def run(self, fn: Callable[[Tx, *Ts], T], *args: *Ts) -> T:
        """`fn(tx, *args)` committed durably; its result once the commit is done."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._ensure_started()
        self._queue.put(_Job(fn, args, loop, future))
        return await future

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="payhub-group-writer", daemon=True
                )
                self._thread.start()

    def _serve(self) -> None:
        stopping = False
        while not stopping:
            job = self._queue.get()
            if job is None:
                return
            batch = [job]
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._commit(batch)

    def _commit(self, batch: list[_Job]) -> None:
        try:
            outcomes = self._commit_together(batch)
        except _JobFailed:
            # Rolled back: run each again alone, so only the failing ones fail.
            outcomes = [self._commit_alone(job) for job in batch]
        else:
            if any(error is not None and is_write_conflict(error) for _, error in outcomes):
                # A deadlock or serialization failure (at COMMIT, or a lone job's):
                # nothing was written; each job runs again alone.
                outcomes = [self._commit_alone(job) for job in batch]
        self.batches += 1
        self.jobs += len(batch)
        _answer(batch, outcomes)

    def _commit_alone(self, job: _Job) -> tuple[Any, BaseException | None]:
        """The job in a transaction of its own, re-run (with a small jittered wait) while
        it meets deadlocks or serialization failures; then StoreBusy."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            value, error = self._commit_together([job])[0]
            if error is None or not is_write_conflict(error):
                return value, error
            log.info("batched write: write conflict %d, re-running", attempt)
            if attempt < WRITE_ATTEMPTS:
                time.sleep(conflict_backoff(attempt))
        busy = StoreBusy(f"batched write: {WRITE_ATTEMPTS} write conflicts")
        busy.__cause__ = error
        return None, busy

    def _commit_together(self, batch: list[_Job]) -> list[tuple[Any, BaseException | None]]:
        """Run the jobs in one transaction. A lone job's error is its outcome; in a batch
        of several, an error rolls everything back and raises _JobFailed. When BEGIN or
        COMMIT fails, every job's outcome is that error: nothing of the batch was written."""
        values: list[tuple[Any, BaseException | None]] = []
        try:
            with self._write_lock, self._sessions() as session, session.begin():
                tx = Tx(session)
                for job in batch:
                    try:
                        values.append((job.fn(tx, *job.args), None))
                    except Exception as exc:
                        if len(batch) > 1:
                            raise _JobFailed from exc
                        raise
                    session.expunge_all()  # the next job must not see this one's objects
                try:
                    write_staged(session)
                except Exception as exc:
                    if len(batch) > 1:  # whose row broke a constraint? find out one by one
                        raise _JobFailed from exc
                    raise
        except _JobFailed:
            raise
        except Exception as exc:
            return [(None, exc)] * len(batch)
        return values


class _JobFailed(Exception):
    """A job in a batch of several raised; the batch was rolled back."""


def _answer(batch: list[_Job], outcomes: list[tuple[Any, BaseException | None]]) -> None:
    """Settle the callers' futures: one wake-up per event loop, not one per caller."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, Any]]] = {}
    for job, (value, error) in zip(batch, outcomes, strict=True):
        by_loop.setdefault(job.loop, []).append((job.future, value, error))
    for loop, settled in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_all, settled)
        except RuntimeError:  # that event loop is closed; nobody is waiting
            log.debug("batched writes finished after their event loop closed")


def _settle_all(settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, value, error in settled:
        if future.done():  # the caller went away (cancelled); the write stands regardless
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

"""Group commit for SQLite: many async writers, one writer thread, one fsync per batch.

SQLite has one writer at a time, and with `synchronous=FULL` every commit is an fsync of
the WAL. Committing each webhook on its own makes the fsync, the write-lock hand-off and
a thread hop per webhook the ceiling. Here async callers queue their write functions; one
thread takes everything queued, runs each function in its own SAVEPOINT inside one
`BEGIN IMMEDIATE` transaction, commits once, and only then answers every caller.

So every write is still durable before its caller hears back, and one caller's failure
(its savepoint is rolled back) never touches another's. If the commit itself fails, every
caller in the batch gets that error: nothing of the batch was written.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, TypeVarTuple

from sqlalchemy.orm import Session, sessionmaker

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


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():  # the caller went away (cancelled); the write stands regardless
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


class GroupCommitWriter:
    """Runs `fn(session, *args)` for async callers, batched into shared transactions.

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

    async def run(self, fn: Callable[[Session, *Ts], T], *args: *Ts) -> T:
        """`fn(session, *args)` committed durably; its result once the commit is done."""
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
                    target=self._serve, name="payhub-sqlite-writer", daemon=True
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
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            with self._write_lock, self._sessions() as session, session.begin():
                if len(batch) == 1:
                    # Alone in its transaction: a failure rolls back the whole of it.
                    job = batch[0]
                    outcomes.append((job.fn(session, *job.args), None))
                else:
                    for job in batch:
                        outcomes.append(_in_savepoint(session, job))
        except Exception as exc:  # BEGIN or COMMIT failed, or a lone job did: none written
            outcomes = [(None, exc)] * len(batch)
        self.batches += 1
        self.jobs += len(batch)
        for job, (value, error) in zip(batch, outcomes, strict=True):
            try:
                job.loop.call_soon_threadsafe(_settle, job.future, value, error)
            except RuntimeError:  # that event loop is closed; nobody is waiting
                log.debug("a batched write finished after its event loop closed")


def _in_savepoint(session: Session, job: _Job) -> tuple[Any, BaseException | None]:
    try:
        with session.begin_nested():
            value = job.fn(session, *job.args)
    except Exception as exc:
        return None, exc
    finally:
        session.expunge_all()  # the next job must not see this one's objects
    return value, None

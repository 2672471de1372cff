"""The handle services hold on a transaction, and the store's one constraint error.

`Database.write()` and `Database.run_write(fn, ...)` give services a `Tx`: they pass it to
store operations (store.attempts, store.journal, ...) and can do nothing else with it. The
session inside is the store's; SQLAlchemy, group commit, direct statements, staging and
Core rows stay behind the operations. A read helper that the API calls with a read session
(`Database.session()`) takes a `Reader`: either one.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import Final, ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from payhub.errors import StoreBusy

__all__ = [
    "ConstraintViolation",
    "Reader",
    "Tx",
    "flush",
    "is_write_conflict",
    "retry_write_conflicts",
    "session_of",
]

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


class Tx:
    """One write transaction, as services see it: an argument for store operations."""

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    def __repr__(self) -> str:
        return "<payhub write transaction>"


Reader = Tx | Session
"""What store reads run on: a write transaction, or a read session from
`Database.session()`."""

ConstraintViolation = IntegrityError
"""A write broke a unique (or other) constraint: the fact it would record exists already.
The transaction is rolled back; nothing of it was written."""


# PostgreSQL's deadlock_detected and serialization_failure: the server rolled the
# transaction back and says that running it again may succeed.
_WRITE_CONFLICT_STATES: Final = frozenset({"40P01", "40001"})
WRITE_ATTEMPTS: Final = 5


def is_write_conflict(exc: BaseException) -> bool:
    """Whether `exc` is a deadlock or serialization failure (the transaction is gone)."""
    if not isinstance(exc, DBAPIError):
        return False
    return getattr(exc.orig, "sqlstate", None) in _WRITE_CONFLICT_STATES


def conflict_backoff(attempt: int) -> float:
    """Seconds to wait before re-running after `attempt` conflicts (1-based): full jitter
    under 5, 10, 20, 40 ms, so two transactions that deadlocked do not meet again."""
    return random.uniform(0, 0.005 * 2 ** (attempt - 1))


def retry_write_conflicts(fn: Callable[P, T]) -> Callable[P, T]:
    """Re-run `fn` when its transaction hit a deadlock or serialization failure, a few
    times with a small jittered backoff; then `StoreBusy`.

    Only for functions whose whole work is one write transaction (`with hub.db.write()`),
    so that re-running them re-runs exactly what was rolled back: never around a gateway
    call or anything else outside the database."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                return fn(*args, **kwargs)
            except DBAPIError as exc:
                if not is_write_conflict(exc):
                    raise
                log.info("%s: write conflict %d, re-running", fn.__qualname__, attempt)
                if attempt == WRITE_ATTEMPTS:
                    raise StoreBusy(f"{fn.__qualname__}: {WRITE_ATTEMPTS} write conflicts") from exc
                time.sleep(conflict_backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    return run


def session_of(handle: Reader) -> Session:
    """The session behind a handle (for store modules only; an operation that takes a
    `Tx` reads `tx._session`: one attribute access)."""
    if isinstance(handle, Tx):
        return handle._session
    return handle


def flush(tx: Tx) -> None:
    """Write the changes made so far to objects this transaction handed out, now rather than
    at the commit (so that their generated values exist and their constraints are checked)."""
    tx._session.flush()

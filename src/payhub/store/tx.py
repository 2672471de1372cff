"""The handle services hold on a transaction, and the store's one constraint error.

`Database.write()` and `Database.run_write(fn, ...)` give services a `Tx`: they pass it to
store operations (store.attempts, store.journal, ...) and can do nothing else with it. The
session inside is the store's; SQLAlchemy, group commit, direct statements, staging and
Core rows stay behind the operations. A read helper that the API calls with a read session
(`Database.session()`) takes a `Reader`: either one.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

__all__ = ["ConstraintViolation", "Reader", "Tx", "flush", "session_of"]


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

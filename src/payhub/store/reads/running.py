"""How a read runs: its query on a read session, in a worker thread, once per call.

The interfaces are async and the database driver is not: every read helper hops to a thread
exactly once, opens a read session there (WAL lets it run beside the writer on SQLite), runs
its queries and returns frozen values, so nothing lazy-loads after the session is closed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, TypeVarTuple

from anyio import to_thread
from sqlalchemy.orm import Session

from payhub.store.db import Database

Ts = TypeVarTuple("Ts")
T = TypeVar("T")


def _in_session(db: Database, query: Callable[[Session, *Ts], T], *args: *Ts) -> T:
    with db.session() as session:
        return query(session, *args)


async def run_read(db: Database, query: Callable[[Session, *Ts], T], *args: *Ts) -> T:
    """`query(session, *args)` on a read session, in a worker thread."""
    return await to_thread.run_sync(_in_session, db, query, *args)

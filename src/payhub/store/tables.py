"""Core `Table` views of the ORM models, and Core execution through a session, for the
webhook path.

`insert(Model)` runs through the ORM's bulk-persistence machinery; `insert(table_of(Model))`
is a plain Core statement, several times cheaper per row on the webhook path.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Executable, Table, event
from sqlalchemy.orm import Session, SessionTransaction

from payhub.store.models import Base


@cache
def table_of(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


_CONNECTION = "payhub.connection"


def execute_core(
    session: Session, statement: Executable, params: Mapping[str, Any] | None = None
) -> CursorResult[Any]:
    """Run a Core statement on the session's connection, in its transaction.

    This skips the ORM's execution path, which costs about as much again as the statement
    itself; the connection is looked up once per transaction. Pending ORM changes are
    flushed first unless autoflush is off, as `session.execute` would do."""
    return cast(CursorResult[Any], session_connection(session).execute(statement, params))


def session_connection(session: Session) -> Connection:
    """The connection of the session's transaction, after flushing pending ORM changes
    (unless autoflush is off), as `session.execute` would."""
    if session.autoflush:
        session.flush()
    connection: Connection | None = session.info.get(_CONNECTION)
    if connection is None:
        connection = session.info[_CONNECTION] = session.connection()
    return connection


@event.listens_for(Session, "after_transaction_end")
def _forget_connection(session: Session, _transaction: SessionTransaction) -> None:
    session.info.pop(_CONNECTION, None)

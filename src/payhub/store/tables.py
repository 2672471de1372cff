"""Core `Table` views of the ORM models, and Core execution through a session, for the
webhook path.

`insert(Model)` runs through the ORM's bulk-persistence machinery; `insert(table_of(Model))`
is a plain Core statement, several times cheaper per row on the webhook path.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, Table
from sqlalchemy.orm import Session

from payhub.store.models import Base


@cache
def table_of(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def execute_core(
    session: Session, statement: Executable, params: Mapping[str, Any] | None = None
) -> CursorResult[Any]:
    """Run a Core statement on the session's connection, in its transaction.

    This skips the ORM's execution path, which costs about as much again as the statement
    itself. Pending ORM changes are flushed first unless autoflush is off, as
    `session.execute` would do."""
    if session.autoflush:
        session.flush()
    return cast(CursorResult[Any], session.connection().execute(statement, params))

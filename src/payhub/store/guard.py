"""A debug check: reading a table whose staged writes are not made yet is refused.

Staged writes (store.staging) reach the database only just before the commit, so inside the
transaction that staged them a read of their table does not see them: an outbox row, an
audit entry or a credit entry just "written" would look absent. Nothing in payhub reads
them back; this check keeps it so. When it is on, a SELECT on a table that has staged
writes pending in the same session (a direct statement, or any ORM read) raises
`StagedReadRefused` naming the table, instead of quietly reading without them.

It is off unless `PAYHUB_GUARD_STAGED_READS` is set to 1 (the test suite sets it, in
tests/conftest.py), and costs one flag test per direct SELECT when off.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.util import find_tables

ENV = "PAYHUB_GUARD_STAGED_READS"
STAGED_KEY = "payhub.staged_writes"  # session.info: DirectStatement -> staged parameter sets

enabled = False
_listening = False


class StagedReadRefused(RuntimeError):
    """A read of a table whose staged writes are still pending in this transaction."""


def configure_from_env() -> None:
    """Turn the check on or off from `PAYHUB_GUARD_STAGED_READS` (read at each call)."""
    set_enabled(os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on"))


def set_enabled(on: bool) -> None:
    global enabled, _listening
    enabled = on
    if on and not _listening:
        event.listen(Session, "do_orm_execute", _check_orm_read)
        _listening = True


def tables_read(statement: Any) -> frozenset[str]:
    """The names of the tables a statement reads from."""
    return frozenset(t.name for t in find_tables(statement) if isinstance(t, Table))


def check_read(session: Session, tables: Iterable[str]) -> None:
    """Refuse the read when one of `tables` has staged writes pending on `session`."""
    staged = session.info.get(STAGED_KEY)
    if not staged:
        return
    pending = {statement.table_name for statement in staged}
    hit = sorted(pending.intersection(tables))
    if hit:
        raise StagedReadRefused(
            f"reading {', '.join(hit)} before its staged writes are made (they are written "
            f"just before the commit, so this read would not see them)"
        )


def _check_orm_read(state: ORMExecuteState) -> None:
    if enabled and state.is_select and state.session.info.get(STAGED_KEY):
        check_read(state.session, tables_read(state.statement))

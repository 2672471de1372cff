"""Append-only rows written in bulk when their transaction commits.

Audit entries, timeline entries, outbox events and credit entries are never read back in
the transaction that writes them. So instead of one INSERT each, they are staged on the
session and written just before the commit with one executemany per statement: a paid
webhook stages six such rows, and a group-commit batch of fifty webhooks writes its three
hundred in four statements. They are in the same transaction as everything else, so they
commit or roll back with it; unique constraints on them (one `order.paid` event, one
credit grant per order) are checked when they are written, still before the commit.

`Database.transaction()` and `Database.run_write()` call `write_staged` before every
commit; no other code commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.orm import Session

_KEY = "payhub.staged_inserts"


def stage_insert(session: Session, statement: Insert, values: Mapping[str, Any]) -> None:
    """Queue one row of `statement` (a Core INSERT) for this session's commit. Rows of one
    statement must all carry the same keys."""
    staged: dict[Insert, list[Mapping[str, Any]]] | None = session.info.get(_KEY)
    if staged is None:
        staged = session.info[_KEY] = {}
    staged.setdefault(statement, []).append(values)


def write_staged(session: Session) -> None:
    """Flush the ORM's pending changes (staged rows may refer to them), then write the
    staged rows, each statement's in the order they were staged."""
    staged: dict[Insert, list[Mapping[str, Any]]] | None = session.info.pop(_KEY, None)
    session.flush()
    if not staged:
        return
    connection = session.connection()
    for statement, rows in staged.items():
        connection.execute(statement, rows)

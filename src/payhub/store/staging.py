"""Writes that nothing reads back before the commit, made in bulk when it comes.

Audit entries, timeline entries, outbox events and credit entries, and the outcome of an
inbound request, are never read back in the transaction that writes them. So instead of
one statement each, they are staged on the session and written just before the commit
with one executemany per statement: a paid webhook stages seven such writes, and a
group-commit batch of fifty webhooks makes its three hundred and fifty in five statements.
They are in the same transaction as everything else, so they commit or roll back with it;
unique constraints on them (one `order.paid` event, one credit grant per order) are
checked when they are written, still before the commit.

`Database.transaction()` and `Database.run_write()` call `write_staged` before every
commit; no other code commits. Reading a staged table before then would not see the staged
rows: store.guard refuses such reads when it is on (as in the tests).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from payhub.store.direct import DirectStatement
from payhub.store.guard import STAGED_KEY as _KEY

_LATE_KEY = "payhub.late_staged_writes"

# Completes a late-staged row from what the transaction wrote (e.g. an event's snapshot).
Completion = Callable[[Session, Mapping[str, Any]], Mapping[str, Any]]


def stage_write(session: Session, statement: DirectStatement, values: Mapping[str, Any]) -> None:
    """Queue one execution of `statement` (an INSERT, or an UPDATE whose effect nobody
    reads before the commit) for this session's commit. The values given to one statement
    must all carry the same keys."""
    staged: dict[DirectStatement, list[Mapping[str, Any]]] | None = session.info.get(_KEY)
    if staged is None:
        staged = session.info[_KEY] = {}
    staged.setdefault(statement, []).append(values)


def stage_late_write(
    session: Session, statement: DirectStatement, values: Mapping[str, Any], complete: Completion
) -> None:
    """Like `stage_write`, but the row is completed by `complete(session, values)` after
    every other staged write is made, just before the commit: an outbox event's snapshot
    of its object then sees the whole transaction (the timeline entries included)."""
    late: list[tuple[DirectStatement, Mapping[str, Any], Completion]] | None = session.info.get(
        _LATE_KEY
    )
    if late is None:
        late = session.info[_LATE_KEY] = []
    late.append((statement, values, complete))


def write_staged(session: Session) -> None:
    """Flush the ORM's pending changes (staged rows may refer to them), then make the
    staged writes, each statement's in the order they were staged, then the late ones."""
    staged: dict[DirectStatement, list[Mapping[str, Any]]] | None = session.info.pop(_KEY, None)
    late: list[tuple[DirectStatement, Mapping[str, Any], Completion]] | None = session.info.pop(
        _LATE_KEY, None
    )
    session.flush()
    for statement, rows in (staged or {}).items():
        statement.run_many(session, rows)
    if not late:
        return
    completed: dict[DirectStatement, list[Mapping[str, Any]]] = {}
    for statement, values, complete in late:
        completed.setdefault(statement, []).append(complete(session, values))
    for statement, rows in completed.items():
        statement.run_many(session, rows)

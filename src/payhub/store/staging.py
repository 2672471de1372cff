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

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from payhub.store.direct import DirectStatement
from payhub.store.guard import STAGED_KEY as _KEY


def stage_write(session: Session, statement: DirectStatement, values: Mapping[str, Any]) -> None:
    """Queue one execution of `statement` (an INSERT, or an UPDATE whose effect nobody
    reads before the commit) for this session's commit. The values given to one statement
    must all carry the same keys."""
    staged: dict[DirectStatement, list[Mapping[str, Any]]] | None = session.info.get(_KEY)
    if staged is None:
        staged = session.info[_KEY] = {}
    staged.setdefault(statement, []).append(values)


def write_staged(session: Session) -> None:
    """Flush the ORM's pending changes (staged rows may refer to them), then make the
    staged writes, each statement's in the order they were staged."""
    staged: dict[DirectStatement, list[Mapping[str, Any]]] | None = session.info.pop(_KEY, None)
    session.flush()
    if not staged:
        return
    for statement, rows in staged.items():
        statement.run_many(session, rows)

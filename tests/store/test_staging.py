"""Staged append-only rows: written with their transaction's commit, gone with its rollback."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from payhub.store.db import Database
from payhub.store.direct import DirectStatement
from payhub.store.models import AuditEntry
from payhub.store.staging import stage_write
from payhub.store.tables import table_of

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
_AUDIT = table_of(AuditEntry)
_INSERT = DirectStatement(insert(_AUDIT))


def _row(subject: str) -> dict[str, object]:
    return {
        "merchant_id": None,
        "actor": "test",
        "action": "test.stage",
        "subject": subject,
        "source_ip": None,
        "before": None,
        "after": {"n": subject},
        "created_at": NOW,
    }


def _count(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(_AUDIT)) or 0)


def test_staged_rows_are_written_at_commit_in_order(db: Database) -> None:
    with db.transaction() as session:
        for i in range(5):
            stage_write(session, _INSERT, _row(f"r{i}"))
        # Not yet in the table: they are written just before the commit.
        assert session.scalar(select(func.count()).select_from(_AUDIT)) == 0
    with db.engine.connect() as conn:
        rows = conn.execute(select(_AUDIT.c.subject, _AUDIT.c.after).order_by(_AUDIT.c.id)).all()
    assert [r.subject for r in rows] == [f"r{i}" for i in range(5)]
    assert rows[0].after == {"n": "r0"}


def test_staged_rows_roll_back_with_their_transaction(db: Database) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), db.transaction() as session:
        stage_write(session, _INSERT, _row("lost"))
        raise Boom
    assert _count(db) == 0
    with db.transaction() as session:  # and they do not leak into the next one
        stage_write(session, _INSERT, _row("kept"))
    assert _count(db) == 1

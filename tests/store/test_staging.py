"""Staged append-only rows: written with their transaction's commit, gone with its rollback;
reading their table before then is refused while the debug guard is on (store.guard)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from payhub.store import guard
from payhub.store.db import Database
from payhub.store.direct import DirectStatement
from payhub.store.models import AuditEntry, OutboxEvent
from payhub.store.staging import stage_write, write_staged
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


@pytest.fixture
def unguarded() -> Iterator[None]:
    """The staged-read guard off, to look at what it protects against."""
    was = guard.enabled
    guard.set_enabled(False)
    try:
        yield
    finally:
        guard.set_enabled(was)


def test_staged_rows_are_written_at_commit_in_order(db: Database, unguarded: None) -> None:
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


def test_the_suite_runs_with_the_staged_read_guard_on(db: Database) -> None:
    assert guard.enabled  # PAYHUB_GUARD_STAGED_READS=1, set in tests/conftest.py


_COUNT_AUDIT = DirectStatement(select(func.count()).select_from(_AUDIT))


def test_reading_a_table_with_staged_writes_is_refused_until_they_are_made(db: Database) -> None:
    guard.set_enabled(True)
    with db.transaction() as session:
        assert _COUNT_AUDIT.run(session, {}) == [(0,)]  # nothing staged yet: allowed
        stage_write(session, _INSERT, _row("staged"))
        with pytest.raises(guard.StagedReadRefused, match="audit_log"):
            _COUNT_AUDIT.run(session, {})  # a direct statement
        with pytest.raises(guard.StagedReadRefused, match="audit_log"):
            session.scalar(select(func.count()).select_from(_AUDIT))  # an ORM read
        with pytest.raises(guard.StagedReadRefused, match="audit_log"):
            session.scalars(select(AuditEntry)).all()
        # Other tables read as usual.
        assert session.scalar(select(func.count()).select_from(table_of(OutboxEvent))) == 0
        write_staged(session)  # what the commit does first
        assert _COUNT_AUDIT.run(session, {}) == [(1,)]
    assert _count(db) == 1


def test_with_the_guard_off_the_read_runs_and_misses_the_staged_rows(
    db: Database, unguarded: None
) -> None:
    with db.transaction() as session:
        stage_write(session, _INSERT, _row("staged"))
        assert _COUNT_AUDIT.run(session, {}) == [(0,)]
    assert _count(db) == 1

"""Database.run_write: SQLite's group commit (store.group_commit), PostgreSQL's own
transactions. Every result is checked against what the database holds afterwards."""

from __future__ import annotations

from datetime import UTC, datetime

import anyio
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from payhub.store.db import Database
from payhub.store.direct import DirectStatement
from payhub.store.models import AuditEntry, OutboxEvent
from payhub.store.staging import stage_write
from payhub.store.tables import execute_core, table_of
from payhub.store.tx import Tx, session_of

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
_AUDIT = table_of(AuditEntry)
_INSERT_AUDIT = insert(_AUDIT)
_INSERT_OUTBOX = DirectStatement(insert(table_of(OutboxEvent)))


class Refused(Exception):
    pass


def write_audit(tx: Tx, subject: str) -> str:
    execute_core(
        session_of(tx),
        _INSERT_AUDIT,
        {
            "merchant_id": None,
            "actor": "test",
            "action": "test.write",
            "subject": subject,
            "source_ip": None,
            "before": None,
            "after": None,
            "created_at": NOW,
        },
    )
    return subject


def write_then_refuse(tx: Tx, subject: str) -> str:
    write_audit(tx, subject)
    raise Refused(subject)


def stage_event(tx: Tx, event_key: str) -> str:
    stage_write(
        session_of(tx),
        _INSERT_OUTBOX,
        {
            "id": f"evt_{event_key}_{id(tx)}",
            "merchant_id": "mer_test",
            "event_type": "test",
            "event_key": event_key,
            "payload": {},
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": NOW,
            "created_at": NOW,
        },
    )
    return event_key


def subjects(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        return sorted(conn.scalars(select(_AUDIT.c.subject)))


async def test_concurrent_writes_are_all_committed_and_batched(db: Database) -> None:
    results: list[str] = []

    async def one(i: int) -> None:
        results.append(await db.run_write(write_audit, f"s{i:03}"))

    async with anyio.create_task_group() as tg:
        for i in range(200):
            tg.start_soon(one, i)

    assert sorted(results) == [f"s{i:03}" for i in range(200)]
    assert subjects(db) == [f"s{i:03}" for i in range(200)]
    writer = db._group_writer  # fewer commits than writes, on both databases
    assert writer.jobs == 200
    assert writer.batches < 200


async def test_a_failing_write_fails_alone(db: Database) -> None:
    outcomes: dict[str, str] = {}

    async def one(i: int) -> None:
        fn = write_then_refuse if i == 17 else write_audit
        try:
            await db.run_write(fn, f"s{i:02}")
            outcomes[f"s{i:02}"] = "ok"
        except Refused:
            outcomes[f"s{i:02}"] = "refused"

    async with anyio.create_task_group() as tg:
        for i in range(40):
            tg.start_soon(one, i)

    assert outcomes.pop("s17") == "refused"
    assert set(outcomes.values()) == {"ok"}
    assert subjects(db) == sorted(outcomes)  # s17's row was rolled back, nobody else's


async def test_a_staged_row_breaking_a_constraint_fails_only_its_write(db: Database) -> None:
    outcomes: list[str] = []

    async def one(key: str) -> None:
        try:
            outcomes.append(await db.run_write(stage_event, key))
        except IntegrityError:
            outcomes.append(f"refused:{key}")

    async with anyio.create_task_group() as tg:
        for key in ["a", "b", "dup", "c", "dup", "d"]:
            tg.start_soon(one, key)

    assert sorted(outcomes) == ["a", "b", "c", "d", "dup", "refused:dup"]
    with db.engine.connect() as conn:
        keys = sorted(conn.scalars(select(OutboxEvent.event_key)))
    assert keys == ["a", "b", "c", "d", "dup"]


async def test_the_result_comes_after_the_commit(db: Database) -> None:
    await db.run_write(write_audit, "visible")
    # A separate connection sees the row as soon as the caller has its answer.
    with db.engine.connect() as conn:
        count = conn.scalar(select(func.count()).where(_AUDIT.c.subject == "visible"))
    assert count == 1


async def test_a_cancelled_caller_does_not_stop_its_write_or_the_next(db: Database) -> None:
    with anyio.move_on_after(0):  # cancelled at its first await, once queued
        await db.run_write(write_audit, "cancelled-caller")
    assert await db.run_write(write_audit, "next") == "next"
    assert "next" in subjects(db)


def test_dispose_stops_the_writer_thread(sqlite_url: str) -> None:
    from payhub.store.migrate import upgrade

    upgrade(sqlite_url)
    db = Database(sqlite_url)
    anyio.run(db.run_write, write_audit, "x")
    writer = db._group_writer
    assert writer._thread is not None
    thread = writer._thread
    db.dispose()
    assert not thread.is_alive()

"""The journal: audit entries, order timeline entries and outbox events.

They are written in the transaction of the change they describe, and nothing reads them back
in it, so they are staged and written in bulk just before the commit (store.staging); the
outbox's unique event key (one `order.paid:<order>` per merchant) is still checked before
the commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from payhub.store.direct import DirectStatement
from payhub.store.ids import new_id
from payhub.store.models import AuditEntry, OutboxEvent, TimelineEntry
from payhub.store.snapshots import Subject, snapshot_completion
from payhub.store.staging import stage_late_write, stage_write
from payhub.store.tables import table_of
from payhub.store.tx import Tx

__all__ = ["add_audit", "add_timeline", "enqueue_event"]

_INSERT_AUDIT = DirectStatement(insert(table_of(AuditEntry)))
_INSERT_TIMELINE = DirectStatement(insert(table_of(TimelineEntry)))
_INSERT_OUTBOX = DirectStatement(insert(table_of(OutboxEvent)))


def add_audit(
    tx: Tx,
    *,
    merchant_id: str | None,
    actor: str,
    action: str,
    subject: str,
    now: datetime,
    source_ip: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Stage an audit entry: who did what to which subject, before → after."""
    # Values go as parameters, not .values(): the statement is then built and cached once
    # instead of a bound literal (and its cache key) being made per column per call.
    stage_write(
        tx._session,
        _INSERT_AUDIT,
        dict(
            merchant_id=merchant_id,
            actor=actor,
            action=action,
            subject=subject,
            source_ip=source_ip,
            before=before,
            after=after,
            created_at=now,
        ),
    )


def add_timeline(
    tx: Tx,
    *,
    merchant_id: str,
    order_id: str,
    kind: str,
    message: str,
    now: datetime,
    payment_id: str | None = None,
) -> None:
    """Stage an entry of the order's timeline."""
    stage_write(
        tx._session,
        _INSERT_TIMELINE,
        dict(
            merchant_id=merchant_id,
            order_id=order_id,
            payment_id=payment_id,
            kind=kind,
            message=message[:500],
            created_at=now,
        ),
    )


def enqueue_event(
    tx: Tx,
    *,
    merchant_id: str,
    event_type: str,
    event_key: str,
    payload: dict[str, Any],
    now: datetime,
    subject: Subject | None = None,
) -> str:
    """Stage an outbox event; returns its id. `event_key` is unique per merchant, so a
    once-only event (e.g. `order.paid:<order>`) can never be enqueued twice.

    A merchant event names its `subject` (`("order", order_id)`, …): its `data.object` is
    then the snapshot of that object just before the commit (store.snapshots); `payload`
    holds this event's own facts beside it (e.g. `credits_granted`)."""
    event_id = new_id("evt")
    row = dict(
        id=event_id,
        merchant_id=merchant_id,
        event_type=event_type,
        event_key=event_key,
        payload={"type": event_type, "timestamp": now.isoformat(), "data": payload},
        state="pending",
        attempts=0,
        next_attempt_at=now + timedelta(seconds=0),
        created_at=now,
    )
    if subject is None:
        stage_write(tx._session, _INSERT_OUTBOX, row)
    else:
        stage_late_write(tx._session, _INSERT_OUTBOX, row, snapshot_completion(subject))
    return event_id

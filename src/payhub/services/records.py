"""Append-only records written inside the transaction of the change they describe:
the audit log, the order timeline and the outbox. They are staged and written in bulk at
commit (store.staging)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from payhub.store.direct import DirectStatement
from payhub.store.ids import new_id
from payhub.store.models import AuditEntry, OutboxEvent, TimelineEntry
from payhub.store.staging import stage_write
from payhub.store.tables import table_of

_INSERT_AUDIT = DirectStatement(insert(table_of(AuditEntry)))
_INSERT_TIMELINE = DirectStatement(insert(table_of(TimelineEntry)))
_INSERT_OUTBOX = DirectStatement(insert(table_of(OutboxEvent)))


def add_audit(
    session: Session,
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
    # Values go as parameters, not .values(): the statement is then built and cached once
    # instead of a bound literal (and its cache key) being made per column per call.
    stage_write(
        session,
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
    session: Session,
    *,
    merchant_id: str,
    order_id: str,
    kind: str,
    message: str,
    now: datetime,
    payment_id: str | None = None,
) -> None:
    stage_write(
        session,
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
    session: Session,
    *,
    merchant_id: str,
    event_type: str,
    event_key: str,
    payload: dict[str, Any],
    now: datetime,
) -> str:
    """Add an outbox row; `event_key` is unique per merchant, so a once-only event
    (e.g. `order.paid:<order>`) can never be enqueued twice."""
    event_id = new_id("evt")
    stage_write(
        session,
        _INSERT_OUTBOX,
        dict(
            id=event_id,
            merchant_id=merchant_id,
            event_type=event_type,
            event_key=event_key,
            payload={"type": event_type, "timestamp": now.isoformat(), "data": payload},
            state="pending",
            attempts=0,
            next_attempt_at=now + timedelta(seconds=0),
            created_at=now,
        ),
    )
    return event_id

"""Read model for the worker: payment attempts still waiting for the gateway's answer."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from payhub.clock import as_utc
from payhub.domain.lifecycle import PaymentStatus
from payhub.store.db import Database
from payhub.store.models import Payment
from payhub.store.reads.running import run_read

_AWAITING = (PaymentStatus.PENDING.value, PaymentStatus.UNKNOWN.value)


def _stale_attempts(session: Session, now: datetime, quiet_for: timedelta, limit: int) -> list[str]:
    rows = session.execute(
        select(Payment.id, Payment.updated_at)
        .where(Payment.status.in_(_AWAITING), Payment.gateway_account_id.is_not(None))
        .order_by(Payment.updated_at)
        .limit(limit)
    ).all()
    return [pid for pid, updated in rows if now - as_utc(updated) >= quiet_for]


async def stale_attempts(
    db: Database, now: datetime, *, quiet_for: timedelta, limit: int = 100
) -> list[str]:
    """Ids of pending or unknown attempts at a gateway that have not changed for
    `quiet_for`, least recently updated first: the ones to ask the gateway about. At most
    `limit` attempts are looked at (the oldest), so a pass's work stays bounded."""
    return await run_read(db, _stale_attempts, now, quiet_for, limit)

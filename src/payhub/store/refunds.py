"""Refunds: their own rows with their own states. A refund a write operation hands out
(`new_refund`, `refund_to_change`) belongs to that transaction: changes to it are written
at the commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from payhub.store.models import Refund
from payhub.store.tx import Reader, Tx, session_of

__all__ = [
    "claim_pending_refunds",
    "drop_refund",
    "find_refund",
    "lock_pending_refund",
    "new_refund",
    "record_refund_check",
    "refund_count",
    "refund_to_change",
    "refunds_of",
    "reserved_amount",
]


def reserved_amount(reader: Reader, payment_id: str) -> int:
    """What the attempt's pending and succeeded refunds take from its captured amount."""
    return int(
        session_of(reader).scalar(
            select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
                Refund.payment_id == payment_id, Refund.status.in_(["pending", "succeeded"])
            )
        )
        or 0
    )


def refund_count(reader: Reader, payment_id: str) -> int:
    """How many refunds the attempt has had, in any state."""
    return int(
        session_of(reader).scalar(
            select(func.count()).select_from(Refund).where(Refund.payment_id == payment_id)
        )
        or 0
    )


def new_refund(tx: Tx, **fields: Any) -> Refund:
    """Write a refund with these column values now (its constraints are checked here)."""
    session = tx._session
    row = Refund(**fields)
    session.add(row)
    session.flush()
    return row


def find_refund(reader: Reader, refund_id: str) -> Refund | None:
    return session_of(reader).get(Refund, refund_id)


def refund_to_change(tx: Tx, refund_id: str) -> Refund | None:
    return tx._session.get(Refund, refund_id)


def drop_refund(tx: Tx, refund: Refund) -> None:
    """Delete a refund that never reached the gateway."""
    tx._session.delete(refund)


def refunds_of(reader: Reader, payment_id: str) -> list[Refund]:
    """The attempt's refunds, oldest first."""
    return list(
        session_of(reader).scalars(
            select(Refund).where(Refund.payment_id == payment_id).order_by(Refund.created_at)
        )
    )


def claim_pending_refunds(
    tx: Tx,
    now: datetime,
    *,
    quiet_since: datetime,
    worker: str,
    lease_until: datetime,
    limit: int,
) -> list[str]:
    """Claim up to `limit` gateway refunds still pending whose re-check is due (its
    `next_check_at` has come, or never scheduled and unchanged since `quiet_since`)."""
    session = tx._session
    ids = list(
        session.scalars(
            select(Refund.id)
            .where(
                Refund.status == "pending",
                Refund.manual.is_(False),
                or_(
                    Refund.next_check_at <= now,
                    and_(Refund.next_check_at.is_(None), Refund.updated_at <= quiet_since),
                ),
                or_(Refund.claimed_until.is_(None), Refund.claimed_until < now),
            )
            .order_by(Refund.next_check_at, Refund.updated_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(
            update(Refund)
            .where(Refund.id.in_(ids))
            .values(claimed_by=worker, claimed_until=lease_until)
            .execution_options(synchronize_session=False)
        )
    return ids


def record_refund_check(
    tx: Tx, refund_id: str, *, worker: str, next_check_at: datetime | None
) -> int | None:
    """Count one status query of the refund (in SQL), set the next, give up the claim.
    The count afterwards, or None when the claim was no longer `worker`'s."""
    counted = tx._session.execute(
        update(Refund)
        .where(Refund.id == refund_id, Refund.claimed_by == worker)
        .values(
            check_count=Refund.check_count + 1,
            next_check_at=next_check_at,
            claimed_by=None,
            claimed_until=None,
        )
        .returning(Refund.check_count)
        .execution_options(synchronize_session=False)
    ).scalar()
    return None if counted is None else int(counted)


def lock_pending_refund(tx: Tx, refund_id: str) -> Refund | None:
    """The refund, locked for this transaction, if it is still pending."""
    return tx._session.scalar(
        select(Refund).where(Refund.id == refund_id, Refund.status == "pending").with_for_update()
    )

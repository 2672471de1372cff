"""Refunds: their own rows with their own states. A refund a write operation hands out
(`new_refund`, `refund_to_change`) belongs to that transaction: changes to it are written
at the commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from payhub.store.models import Refund
from payhub.store.tx import Reader, Tx, session_of

__all__ = [
    "drop_refund",
    "find_refund",
    "new_refund",
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

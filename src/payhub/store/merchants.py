"""Merchants (their API keys: `store.api_keys`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from payhub.store.models import Merchant
from payhub.store.tx import Reader, Tx, session_of

__all__ = [
    "add_merchant",
    "first_merchant_id",
    "merchant_exists",
    "merchant_to_change",
]


def merchant_exists(reader: Reader, merchant_id: str) -> bool:
    return session_of(reader).get(Merchant, merchant_id) is not None


def merchant_to_change(tx: Tx, merchant_id: str) -> Merchant | None:
    return tx._session.get(Merchant, merchant_id)


def add_merchant(tx: Tx, merchant_id: str, name: str, now: datetime) -> None:
    tx._session.add(Merchant(id=merchant_id, name=name, created_at=now))


def first_merchant_id(reader: Reader) -> str | None:
    """The oldest merchant's id (where a hub admin's console session starts)."""
    return session_of(reader).scalar(
        select(Merchant.id).order_by(Merchant.created_at, Merchant.id).limit(1)
    )

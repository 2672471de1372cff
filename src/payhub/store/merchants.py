"""Merchants (their API keys: `store.api_keys`)."""

from __future__ import annotations

from datetime import datetime

from payhub.store.models import Merchant
from payhub.store.tx import Reader, Tx, session_of

__all__ = [
    "add_merchant",
    "merchant_exists",
    "merchant_to_change",
]


def merchant_exists(reader: Reader, merchant_id: str) -> bool:
    return session_of(reader).get(Merchant, merchant_id) is not None


def merchant_to_change(tx: Tx, merchant_id: str) -> Merchant | None:
    return tx._session.get(Merchant, merchant_id)


def add_merchant(tx: Tx, merchant_id: str, name: str, now: datetime) -> None:
    tx._session.add(Merchant(id=merchant_id, name=name, created_at=now))

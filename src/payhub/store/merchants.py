"""Merchants and their API keys (stored as hashes, never in plaintext)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from payhub.store.models import ApiKey, Merchant
from payhub.store.tx import Reader, Tx, session_of

__all__ = [
    "add_api_key",
    "add_merchant",
    "api_key_by_hash",
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


def add_api_key(
    tx: Tx,
    *,
    key_id: str,
    merchant_id: str,
    prefix: str,
    key_hash: str,
    mode: str,
    label: str,
    now: datetime,
) -> None:
    tx._session.add(
        ApiKey(
            id=key_id,
            merchant_id=merchant_id,
            prefix=prefix,
            key_hash=key_hash,
            mode=mode,
            label=label,
            created_at=now,
        )
    )


def api_key_by_hash(reader: Reader, key_hash: str) -> ApiKey | None:
    return session_of(reader).scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))


def first_merchant_id(reader: Reader) -> str | None:
    """The oldest merchant's id (where a hub admin's console session starts)."""
    return session_of(reader).scalar(
        select(Merchant.id).order_by(Merchant.created_at, Merchant.id).limit(1)
    )

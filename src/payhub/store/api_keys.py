"""API keys: issued, listed, revoked, rotated, and their throttled last-use stamp.

Keys are stored as the sha256 of the full key; the prefix (the first 16 characters) is what
lists and the audit show.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from payhub.store.models import ApiKey
from payhub.store.tx import Reader, Tx, session_of

__all__ = [
    "add_api_key",
    "api_key_by_hash",
    "api_key_to_change",
    "keys_of",
    "merchant_has_keys",
    "touch_last_used",
]


def add_api_key(
    tx: Tx,
    *,
    key_id: str,
    merchant_id: str,
    prefix: str,
    key_hash: str,
    mode: str,
    role: str,
    label: str,
    now: datetime,
) -> ApiKey:
    row = ApiKey(
        id=key_id,
        merchant_id=merchant_id,
        prefix=prefix,
        key_hash=key_hash,
        mode=mode,
        role=role,
        label=label,
        created_at=now,
    )
    tx._session.add(row)
    return row


def merchant_has_keys(reader: Reader, merchant_id: str) -> bool:
    found = session_of(reader).scalar(
        select(ApiKey.id).where(ApiKey.merchant_id == merchant_id).limit(1)
    )
    return found is not None


def api_key_by_hash(reader: Reader, key_hash: str) -> ApiKey | None:
    return session_of(reader).scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))


def api_key_to_change(tx: Tx, key_id: str) -> ApiKey | None:
    return tx._session.scalar(select(ApiKey).where(ApiKey.id == key_id).with_for_update())


def keys_of(reader: Reader, merchant_id: str) -> list[ApiKey]:
    return list(
        session_of(reader).scalars(
            select(ApiKey)
            .where(ApiKey.merchant_id == merchant_id)
            .order_by(ApiKey.created_at, ApiKey.id)
        )
    )


def touch_last_used(tx: Tx, key_id: str, now: datetime, stale_before: datetime) -> None:
    """Stamp the key's last use, unless another request stamped it after `stale_before`
    (two requests racing write once, or twice the same minute: harmless)."""
    tx._session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at <= stale_before),
        )
        .values(last_used_at=now)
    )

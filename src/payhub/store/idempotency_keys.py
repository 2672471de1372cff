"""Idempotency keys of merchant POSTs: claimed, finished with the response, expired.

A key (merchant, key) is unique: a second request claiming it at the same moment fails to
write (`store.tx.ConstraintViolation`). A key a write operation hands out belongs to that
transaction: changes to it are written at the commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from payhub.store.models import IdempotencyKey
from payhub.store.tx import Tx

__all__ = ["claim_key", "drop_key", "key_to_change", "lock_key", "purge_expired"]


def lock_key(tx: Tx, merchant_id: str, key: str) -> IdempotencyKey | None:
    """The merchant's stored key, locked."""
    return tx._session.scalar(
        select(IdempotencyKey)
        .where(IdempotencyKey.merchant_id == merchant_id, IdempotencyKey.key == key)
        .with_for_update()
    )


def key_to_change(tx: Tx, merchant_id: str, key: str) -> IdempotencyKey | None:
    return tx._session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.merchant_id == merchant_id, IdempotencyKey.key == key
        )
    )


def drop_key(tx: Tx, row: IdempotencyKey) -> None:
    """Delete the key now (so that it may be claimed again in this transaction)."""
    session = tx._session
    session.delete(row)
    session.flush()


def claim_key(
    tx: Tx,
    *,
    merchant_id: str,
    key: str,
    method: str,
    path: str,
    request_hash: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    """Write the key as in flight for this request."""
    tx._session.add(
        IdempotencyKey(
            merchant_id=merchant_id,
            key=key,
            method=method,
            path=path,
            request_hash=request_hash,
            state="in_flight",
            created_at=now,
            expires_at=expires_at,
        )
    )


def purge_expired(tx: Tx, now: datetime) -> int:
    """Delete the keys that expired before `now`; how many."""
    result = tx._session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at < now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

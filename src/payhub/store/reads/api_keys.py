"""Read model of a merchant's API keys: what lists show (the prefix, never the key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from payhub.clock import as_utc
from payhub.store.db import Database
from payhub.store.models import ApiKey
from payhub.store.reads.running import run_read


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


@dataclass(frozen=True, slots=True)
class ApiKeyView:
    """One API key as `payhub api-key list` and GET /v1/api_keys show it."""

    id: str
    merchant_id: str
    prefix: str
    mode: str  # test | live
    role: str  # owner | standard
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None
    replaced_by: str | None

    @classmethod
    def of(cls, k: ApiKey) -> ApiKeyView:
        return cls(
            id=k.id,
            merchant_id=k.merchant_id,
            prefix=k.prefix,
            mode=k.mode,
            role=k.role,
            label=k.label,
            created_at=as_utc(k.created_at),
            last_used_at=_utc(k.last_used_at),
            revoked_at=_utc(k.revoked_at),
            expires_at=_utc(k.expires_at),
            replaced_by=k.replaced_by,
        )

    def usable_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prefix": self.prefix,
            "mode": self.mode,
            "livemode": self.mode == "live",
            "role": self.role,
            "label": self.label,
            "created_at": self.created_at.isoformat(),
            "last_used_at": None if self.last_used_at is None else self.last_used_at.isoformat(),
            "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat(),
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
            "replaced_by": self.replaced_by,
        }


def _api_keys(session: Session, merchant_id: str) -> tuple[ApiKeyView, ...]:
    rows = session.scalars(
        select(ApiKey)
        .where(ApiKey.merchant_id == merchant_id)
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    return tuple(ApiKeyView.of(k) for k in rows)


async def api_keys(db: Database, merchant_id: str) -> tuple[ApiKeyView, ...]:
    """The merchant's keys, oldest first, revoked and expired ones included."""
    return await run_read(db, _api_keys, merchant_id)

"""Read model of merchants' gateway accounts: what an operator may see, never credentials
(the ciphertext is not even read)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from payhub.clock import as_utc
from payhub.store.db import Database
from payhub.store.models import GatewayAccount
from payhub.store.reads.running import run_read


@dataclass(frozen=True, slots=True)
class ValidationView:
    """The last credential validation of an account: `ok` None when the gateway could not
    tell; `checked_at` None when the account was never validated."""

    ok: bool | None
    code: str | None
    message: str | None
    checked_at: datetime | None


@dataclass(frozen=True, slots=True)
class GatewayAccountView:
    """A gateway account: which credential fields are set, not their values."""

    id: str
    merchant_id: str
    gateway: str
    environment: str
    base_url: str
    enabled: bool
    priority: int
    fields_set: frozenset[str]
    settings: Mapping[str, object]
    key_id: str | None
    validation: ValidationView

    @classmethod
    def of(cls, row: GatewayAccount) -> GatewayAccountView:
        return cls(
            id=row.id,
            merchant_id=row.merchant_id,
            gateway=row.gateway,
            environment=row.environment,
            base_url=row.base_url,
            enabled=row.enabled,
            priority=row.priority,
            fields_set=frozenset(k for k, v in row.credential_fields_set.items() if v),
            settings=dict(row.settings),
            key_id=row.credentials_key_id,
            validation=ValidationView(
                ok=row.validation_ok,
                code=row.validation_code,
                message=row.validation_message,
                checked_at=as_utc(row.validated_at) if row.validated_at else None,
            ),
        )

    def missing(self, required: Iterable[str]) -> list[str]:
        """The `required` credential fields this account has not set, in the given order."""
        return [name for name in required if name not in self.fields_set]


def _gateway_accounts(
    session: Session, merchant_id: str, enabled_only: bool
) -> list[GatewayAccountView]:
    query = select(GatewayAccount).where(GatewayAccount.merchant_id == merchant_id)
    if enabled_only:
        query = query.where(GatewayAccount.enabled.is_(True))
    rows = session.scalars(query.order_by(GatewayAccount.priority)).all()
    return [GatewayAccountView.of(r) for r in rows]


async def gateway_accounts(
    db: Database, merchant_id: str, *, enabled_only: bool = False
) -> list[GatewayAccountView]:
    """The merchant's gateway accounts, best priority first."""
    return await run_read(db, _gateway_accounts, merchant_id, enabled_only)

"""Gateway accounts: found, opened, and the settings a gateway taught.

An account a write operation hands out (`new_account`, `account_for`)
belongs to that transaction: the changes a service makes to it are written at the commit.
Accounts a read hands out are only read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from payhub.store.models import GatewayAccount
from payhub.store.tx import Reader, Tx, session_of

__all__ = [
    "account_for",
    "accounts_of",
    "accounts_of_gateway",
    "enabled_accounts",
    "find_account",
    "new_account",
    "record_validation",
    "remember_settings",
]


def find_account(reader: Reader, account_id: str) -> GatewayAccount | None:
    return session_of(reader).get(GatewayAccount, account_id)


def account_for(tx: Tx, merchant_id: str, gateway: str, environment: str) -> GatewayAccount | None:
    """The merchant's account for `gateway` in `environment`, to change."""
    return tx._session.scalar(
        select(GatewayAccount).where(
            GatewayAccount.merchant_id == merchant_id,
            GatewayAccount.gateway == gateway,
            GatewayAccount.environment == environment,
        )
    )


def new_account(tx: Tx, **fields: Any) -> GatewayAccount:
    """A new account with these column values, written at the commit."""
    row = GatewayAccount(**fields)
    tx._session.add(row)
    return row


def enabled_accounts(reader: Reader, merchant_id: str, gateway: str) -> list[GatewayAccount]:
    """The merchant's enabled accounts for `gateway`, best priority first."""
    return list(
        session_of(reader).scalars(
            select(GatewayAccount)
            .where(
                GatewayAccount.merchant_id == merchant_id,
                GatewayAccount.gateway == gateway,
                GatewayAccount.enabled.is_(True),
            )
            .order_by(GatewayAccount.priority)
        )
    )


def accounts_of_gateway(reader: Reader, merchant_id: str, gateway: str) -> list[GatewayAccount]:
    """Every account the merchant has for `gateway`, enabled first, then best priority."""
    return list(
        session_of(reader).scalars(
            select(GatewayAccount)
            .where(GatewayAccount.merchant_id == merchant_id, GatewayAccount.gateway == gateway)
            .order_by(GatewayAccount.enabled.desc(), GatewayAccount.priority, GatewayAccount.id)
        )
    )


def accounts_of(reader: Reader, merchant_id: str) -> list[GatewayAccount]:
    """Every account of the merchant, enabled or not, best priority first."""
    return list(
        session_of(reader).scalars(
            select(GatewayAccount)
            .where(GatewayAccount.merchant_id == merchant_id)
            .order_by(GatewayAccount.priority, GatewayAccount.id)
        )
    )


def remember_settings(tx: Tx, account_id: str, learned: Mapping[str, str], now: datetime) -> None:
    """Merge settings the gateway told us (e.g. a generated key) into the account's."""
    row = tx._session.get(GatewayAccount, account_id)
    if row is None:
        return
    row.settings = {**row.settings, **learned}
    row.updated_at = now


def record_validation(
    tx: Tx,
    account_id: str,
    *,
    ok: bool | None,
    code: str,
    message: str,
    at: datetime,
) -> GatewayAccount | None:
    """Remember what the last credential validation said (ok None: the gateway could not
    tell); the account, or None when there is no such account."""
    row = tx._session.get(GatewayAccount, account_id)
    if row is None:
        return None
    row.validated_at = at
    row.validation_ok = ok
    row.validation_code = code[:64]
    row.validation_message = message[:500]
    return row

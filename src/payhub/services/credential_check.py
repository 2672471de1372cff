"""Credential validation: ask the gateway, by one harmless call, whether an account's
credentials are good; remember the answer on the account and audit it.

The call is the adapter's `validate_credentials` (a query for a reference that cannot exist,
a category read: see docs/gateways/). Its result is three-valued: valid, invalid (the
gateway said the credentials are wrong, with its own code) or unknown (the gateway could not
be asked or its answer proves nothing); unknown is never shown as valid. The audit row holds
the result and the gateway's code and message, never a credential.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from anyio import to_thread

from payhub.domain.errors import InvalidRequest, NotFound
from payhub.gateways.base import CredentialCheck, Environment, Gateway
from payhub.gateways.registry import gateway_names
from payhub.services.accounts import build_adapter
from payhub.services.context import Hub
from payhub.store import accounts
from payhub.store.journal import add_audit


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """One validation of one gateway account, as stored."""

    account_id: str
    gateway: str
    environment: str
    valid: bool | None
    code: str
    message: str
    checked_with: str
    checked_at: datetime

    @property
    def verdict(self) -> str:
        """`valid`, `invalid` or `unknown`, for people."""
        return {True: "valid", False: "invalid", None: "unknown"}[self.valid]

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.account_id,
            "gateway": self.gateway,
            "environment": self.environment,
            "valid": self.valid,
            "code": self.code,
            "message": self.message,
            "checked_with": self.checked_with,
            "checked_at": self.checked_at.isoformat(),
        }


def _adapter_for(
    hub: Hub,
    merchant_id: str,
    gateway: str,
    environment: Environment | None,
    allowed: Collection[Environment] | None,
) -> tuple[str, str, Gateway]:
    with hub.db.session() as session:
        rows = accounts.accounts_of_gateway(session, merchant_id, gateway)
        rows = [
            r
            for r in rows
            if (environment is None or r.environment == environment.value)
            and (allowed is None or Environment(r.environment) in allowed)
        ]
        if not rows:
            where = f" in {environment.value}" if environment is not None else ""
            raise NotFound(f"no {gateway} account{where} for this merchant")
        row = rows[0]
        return row.id, row.environment, build_adapter(hub, row)


def _record(
    hub: Hub,
    merchant_id: str,
    account_id: str,
    environment: str,
    check: CredentialCheck,
    at: datetime,
    actor: str,
    source_ip: str | None,
) -> None:
    with hub.db.write() as tx:
        accounts.record_validation(
            tx, account_id, ok=check.valid, code=check.code, message=check.message, at=at
        )
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="gateway_account.validated",
            subject=account_id,
            source_ip=source_ip,
            after={
                "environment": environment,
                "valid": check.valid,
                "code": check.code,
                "message": check.message,
                "checked_with": check.checked_with,
            },
            now=at,
        )


async def validate_account(
    hub: Hub,
    merchant_id: str,
    gateway: str,
    environment: Environment | None = None,
    *,
    allowed: Collection[Environment] | None = None,
    actor: str = "api",
    source_ip: str | None = None,
) -> ValidationResult:
    """Validate the merchant's `gateway` account against the gateway and store the result.

    Which account: the one in `environment` when given, else the enabled one of best
    priority (else any), among `allowed` environments when given (an API key's mode)."""
    if gateway not in gateway_names():
        raise InvalidRequest(f"unknown gateway {gateway!r}; known: {', '.join(gateway_names())}")
    account_id, env, adapter = await to_thread.run_sync(
        _adapter_for, hub, merchant_id, gateway, environment, allowed
    )
    check = await adapter.validate_credentials()
    at = hub.clock.now()
    await to_thread.run_sync(
        _record, hub, merchant_id, account_id, env, check, at, actor, source_ip
    )
    return ValidationResult(
        account_id=account_id,
        gateway=gateway,
        environment=env,
        valid=check.valid,
        code=check.code,
        message=check.message,
        checked_with=check.checked_with,
        checked_at=at,
    )

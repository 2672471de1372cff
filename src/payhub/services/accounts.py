"""Gateway accounts: write-only credentials in the vault, and adapters built from them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from payhub.domain.errors import GatewayNotAvailable, InvalidRequest, NotFound
from payhub.gateways.base import Environment, Gateway, GatewayConfig
from payhub.gateways.registry import entry, gateway_names
from payhub.secret import Secret
from payhub.services.context import Hub
from payhub.services.modes import ensure_mode_allows
from payhub.services.vault import decrypt_credentials, encrypt_credentials
from payhub.store import accounts, gateway_health
from payhub.store.ids import new_id
from payhub.store.journal import add_audit
from payhub.store.models import GatewayAccount
from payhub.store.tx import Reader, Tx


def configure_account(
    hub: Hub,
    *,
    merchant_id: str,
    gateway: str,
    environment: Environment,
    credentials: Mapping[str, str],
    base_url: str | None = None,
    settings: Mapping[str, str] | None = None,
    enabled: bool = True,
    priority: int | None = None,
    actor: str,
    source_ip: str | None = None,
) -> str:
    """Create or update the merchant's account for `gateway` in `environment`.

    Credentials given here replace the stored ones field by field (write-only: nothing ever
    reads them back out). The audit row lists which fields were set, never their values.
    `priority` (lower is tried first by routing) is 100 for a new account and left as it
    is when None.
    """
    if gateway not in gateway_names():
        raise InvalidRequest(f"unknown gateway {gateway!r}; known: {', '.join(gateway_names())}")
    adapter_cls = entry(gateway).adapter
    known = {f.name for f in adapter_cls.credential_fields}
    unknown = sorted(set(credentials) - known)
    if unknown:
        raise InvalidRequest(f"{gateway} has no credential field(s) {', '.join(unknown)}")
    if environment == Environment.SIMULATOR and hub.settings.production:
        raise InvalidRequest("a production hub does not accept simulator accounts")
    key = hub.require_master_key()
    now = hub.clock.now()
    with hub.db.write() as tx:
        row = accounts.account_for(tx, merchant_id, gateway, environment.value)
        merged: dict[str, str] = {}
        if row is None:
            row = accounts.new_account(
                tx,
                id=new_id("ga"),
                merchant_id=merchant_id,
                gateway=gateway,
                environment=environment.value,
                base_url=base_url or adapter_cls.default_base_urls.get(environment, ""),
                enabled=enabled,
                priority=100 if priority is None else priority,
                credential_fields_set={},
                settings=dict(settings or {}),
                created_at=now,
                updated_at=now,
            )
            before = None
        else:
            before = account_status(row)
            if row.credentials_ciphertext and row.credentials_key_id:
                current = decrypt_credentials(
                    hub.keys, row.id, row.credentials_ciphertext, row.credentials_key_id
                )
                merged = {k: v.reveal() for k, v in current.items()}
            if base_url:
                row.base_url = base_url
            if settings:
                row.settings = {**row.settings, **settings}
            row.enabled = enabled
            if priority is not None:
                row.priority = priority
            row.updated_at = now
        merged.update({k: v for k, v in credentials.items() if v != ""})
        row.credentials_ciphertext, row.credentials_key_id = encrypt_credentials(
            key, row.id, merged
        )
        row.credential_fields_set = {name: True for name in sorted(merged)}
        gateway_health.ensure_health(tx, row.id, merchant_id, now)
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="gateway_account.configured",
            subject=row.id,
            source_ip=source_ip,
            before=before,
            after=account_status(row),
            now=now,
        )
        account_id = row.id
    hub.forget_adapters()
    return account_id


def account_status(row: GatewayAccount) -> dict[str, Any]:
    """What an operator may see: which fields are set, never their values."""
    fields = entry(row.gateway).adapter.credential_fields if row.gateway in gateway_names() else ()
    return {
        "id": row.id,
        "gateway": row.gateway,
        "environment": row.environment,
        "base_url": row.base_url,
        "enabled": row.enabled,
        "priority": row.priority,
        "credentials": {f.name: bool(row.credential_fields_set.get(f.name)) for f in fields},
        "missing": [
            f.name for f in fields if f.required and not row.credential_fields_set.get(f.name)
        ],
        "settings": dict(row.settings),
        "key_id": row.credentials_key_id,
    }


def build_adapter(hub: Hub, row: GatewayAccount) -> Gateway:
    """An adapter for the account, with decrypted credentials (cached for a few seconds)."""
    cached = hub.adapter_cache.get(row.id)
    if cached is not None and hub.monotonic() - cached[0] < hub.adapter_cache_ttl:
        adapter = cached[1]
        assert isinstance(adapter, Gateway)
        return adapter
    environment = Environment(row.environment)
    if environment == Environment.SIMULATOR and hub.settings.production:
        raise GatewayNotAvailable("simulator accounts are refused on a production hub")
    credentials: dict[str, Secret] = {}
    if row.credentials_ciphertext and row.credentials_key_id:
        credentials = decrypt_credentials(
            hub.keys, row.id, row.credentials_ciphertext, row.credentials_key_id
        )
    config = GatewayConfig(
        credentials=credentials,
        base_url=row.base_url,
        environment=environment,
        settings={str(k): str(v) for k, v in row.settings.items()},
    )
    adapter = entry(row.gateway).adapter(config, hub.http)
    hub.adapter_cache[row.id] = (hub.monotonic(), adapter)
    return adapter


def load_account(reader: Reader, account_id: str, gateway: str | None = None) -> GatewayAccount:
    row = accounts.find_account(reader, account_id)
    if row is None or (gateway is not None and row.gateway != gateway):
        raise NotFound(f"no gateway account {account_id}")
    return row


def enabled_account(
    reader: Reader, merchant_id: str, gateway: str, *, livemode: bool | None = None
) -> GatewayAccount:
    """The merchant's enabled, fully configured account for `gateway` (best priority);
    with `livemode`, only accounts of that mode, `ModeMismatch` when the gateway is
    enabled in the other mode only (services.modes)."""
    rows = accounts.enabled_accounts(reader, merchant_id, gateway)
    if livemode is not None and rows:
        fitting = [r for r in rows if Environment(r.environment) in Environment.for_mode(livemode)]
        if not fitting:
            ensure_mode_allows(livemode, rows[0].environment)
        rows = fitting
    for row in rows:
        if not account_status(row)["missing"]:
            return row
    if rows:
        raise GatewayNotAvailable(f"{gateway} is enabled but its credentials are incomplete")
    raise GatewayNotAvailable(f"{gateway} is not enabled for this merchant")


def remember_account_settings(
    tx: Tx, account_id: str, learned: Mapping[str, str], now: datetime
) -> None:
    if not learned:
        return
    accounts.remember_settings(tx, account_id, learned, now)

"""The credential vault: AES-256-GCM bound to its row; tampering fails loudly; secrets never
appear in logs, errors, audit rows or reprs."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from payhub.gateways.base import Environment
from payhub.secret import Secret
from payhub.services.accounts import account_status, build_adapter, configure_account
from payhub.services.keyring import rotate_keys
from payhub.services.vault import (
    MasterKey,
    VaultError,
    decrypt_credentials,
    encrypt_credentials,
    generate_master_key,
)
from payhub.store.models import AuditEntry, GatewayAccount
from tests.support.hub import make_hub

SECRET_VALUE = "sk-very-secret-checksum-7f3a9"


def test_round_trip_and_row_binding() -> None:
    key = MasterKey(generate_master_key())
    blob, key_id = encrypt_credentials(key, "ga_1", {"checksum_key": SECRET_VALUE})
    plain = decrypt_credentials({key_id: key}, "ga_1", blob, key_id)
    assert plain["checksum_key"].reveal() == SECRET_VALUE
    with pytest.raises(VaultError, match="failed authentication"):
        decrypt_credentials({key_id: key}, "ga_2", blob, key_id)  # moved to another row
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(VaultError):
        decrypt_credentials({key_id: key}, "ga_1", tampered, key_id)
    other = MasterKey(generate_master_key())
    with pytest.raises(VaultError):
        decrypt_credentials({other.key_id: other}, "ga_1", blob, key_id)


def test_bad_master_keys_are_refused() -> None:
    with pytest.raises(VaultError):
        MasterKey("not base64!")
    with pytest.raises(VaultError):
        MasterKey("c2hvcnQ=")


def test_secret_never_shows() -> None:
    s = Secret(SECRET_VALUE)
    assert SECRET_VALUE not in repr(s) and SECRET_VALUE not in str(s) and SECRET_VALUE not in f"{s}"


def test_write_only_accounts_and_no_secret_anywhere(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    th = make_hub(db_url)
    account_id = configure_account(
        th.hub,
        merchant_id=th.merchant_id,
        gateway="payos",
        environment=Environment.SIMULATOR,
        credentials={
            "client_id": "cid",
            "api_key": SECRET_VALUE + "-api",
            "checksum_key": SECRET_VALUE,
        },
        base_url="http://127.0.0.1:1",
        actor="test",
    )
    with th.hub.db.session() as s:
        row = s.scalar(select(GatewayAccount).where(GatewayAccount.id == account_id))
        assert row is not None
        status = account_status(row)
        assert status["credentials"] == {"client_id": True, "api_key": True, "checksum_key": True}
        assert SECRET_VALUE.encode() not in (row.credentials_ciphertext or b"")
        adapter = build_adapter(th.hub, row)
        assert SECRET_VALUE not in repr(adapter) and SECRET_VALUE not in repr(vars(adapter))
        audit = s.scalars(select(AuditEntry)).all()
        assert SECRET_VALUE not in repr([(a.before, a.after) for a in audit])
    with pytest.raises(Exception) as excinfo:
        configure_account(
            th.hub,
            merchant_id=th.merchant_id,
            gateway="payos",
            environment=Environment.SIMULATOR,
            credentials={"nope": SECRET_VALUE},
            actor="test",
        )
    assert SECRET_VALUE not in str(excinfo.value)
    # Rotation: a new master key re-encrypts, the old one is only needed while rotating.
    old = th.hub.master_key
    assert old is not None
    th.hub.master_key = MasterKey(generate_master_key())
    th.hub.previous_keys = [old]
    assert rotate_keys(th.hub, actor="test") == {
        "gateway_account.credentials": 1,
        "webhook_endpoint.secret": 0,
        "notification_settings.secrets": 0,
        "customer_token_issuer.secret": 0,
    }
    th.hub.previous_keys = []
    th.hub.forget_adapters()
    with th.hub.db.session() as s:
        row = s.scalar(select(GatewayAccount).where(GatewayAccount.id == account_id))
        assert row is not None and row.credentials_key_id == th.hub.master_key.key_id
        build_adapter(th.hub, row)
    assert SECRET_VALUE not in caplog.text
    assert isinstance(th.hub.settings.master_key, SecretStr)
    th.hub.db.dispose()

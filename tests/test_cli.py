"""The `payhub` command: merchants, write-only gateway credentials, key rotation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from payhub.cli import app
from payhub.services.vault import generate_master_key
from payhub.settings import get_settings

SECRET = "cli-checksum-secret-91ab"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "PAYHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "PAYHUB_MASTER_KEY": generate_master_key(),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_merchant_gateway_and_key_rotation(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run("db", "upgrade")
    out = run("merchant", "create", "Shop")
    merchant = re.search(r"merchant (mer_\w+)", out)
    assert merchant and "sk_test_" in out
    mid = merchant.group(1)
    out = run(
        "gateway",
        "set",
        mid,
        "payos",
        "--env",
        "simulator",
        "--cred",
        "client_id=cid",
        "--cred",
        f"api_key={SECRET}x",
        "--cred",
        f"checksum_key={SECRET}",
        "--base-url",
        "http://127.0.0.1:1",
    )
    assert SECRET not in out
    listing = run("gateway", "list", mid)
    assert "payos" in listing and "checksum_key" in listing and SECRET not in listing

    old_key = cli_env["PAYHUB_MASTER_KEY"]
    monkeypatch.setenv("PAYHUB_MASTER_KEY", generate_master_key())
    monkeypatch.setenv("PAYHUB_PREVIOUS_MASTER_KEYS", old_key)
    get_settings.cache_clear()
    rotated = run("keys", "rotate")
    assert "gateway_account.credentials: re-encrypted 1 row(s)" in rotated
    assert "webhook_endpoint.secret: re-encrypted 0 row(s)" in rotated
    monkeypatch.delenv("PAYHUB_PREVIOUS_MASTER_KEYS")
    assert "gateway_account.credentials: re-encrypted 0" in run("keys", "rotate")


def test_bad_credential_name_is_refused_without_echoing_the_value(cli_env: dict[str, str]) -> None:
    run("db", "upgrade")
    mid = re.search(r"merchant (mer_\w+)", run("merchant", "create", "Shop")).group(1)  # type: ignore[union-attr]
    result = CliRunner().invoke(
        app, ["gateway", "set", mid, "payos", "--env", "simulator", "--cred", f"nope={SECRET}"]
    )
    assert result.exit_code != 0
    assert SECRET not in result.output
    assert "no credential field" in str(result.exception)


def test_credits_adjust_moves_the_balance_with_a_reason(cli_env: dict[str, str]) -> None:
    from payhub.services.context import build_hub
    from payhub.services.merchants import upsert_product
    from payhub.services.orders import CustomerDraft, ItemDraft, OrderDraft, create_order
    from payhub.store.invariants import check_invariants

    run("db", "upgrade")
    merchant = re.search(r"merchant (mer_\w+)", run("merchant", "create", "Shop"))
    assert merchant
    mid = merchant.group(1)
    hub = build_hub(get_settings())
    upsert_product(hub, mid, sku="p", name="p", price=1000, currency="VND", credits=0, actor="test")
    create_order(
        hub,
        mid,
        OrderDraft(
            merchant_reference="o-1",
            currency="VND",
            items=[ItemDraft(sku="p")],
            customer=CustomerDraft(external_id="cus-1"),
        ),
    )
    out = run("credits", "adjust", mid, "cus-1", "--amount", "80", "--reason", "migration")
    assert "+80 credits, balance 80" in out
    out = run("credits", "adjust", mid, "cus-1", "--amount", "-50", "--reason", "double grant")
    assert "-50 credits, balance 30" in out
    refused = CliRunner().invoke(
        app, ["credits", "adjust", mid, "cus-1", "--amount", "-31", "--reason", "too far"]
    )
    assert refused.exit_code == 1 and "the balance is 30 credits" in refused.output
    assert check_invariants(hub.db.engine) == {}
    hub.db.dispose()

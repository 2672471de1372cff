"""The `payhub` command: merchants, write-only gateway credentials, key rotation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from payhub.cli import app
from payhub.gateways.registry import entry, gateway_names
from payhub.services.vault import generate_master_key
from payhub.settings import get_settings
from tests.support.hub import simulator_app
from tests.support.servers import free_port, serve_app

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
        "--no-validate",
    )
    assert SECRET not in out
    assert "not validated with the gateway (--no-validate)" in out
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


# ----------------------------------------------------------------- validation at `gateway set`

# gateway -> (a secret credential to get wrong, the gateway's code for it)
WRONG_SECRET = {
    "payos": ("api_key", "401"),
    "vnpay": ("hash_secret", "97"),
    "momo": ("secret_key", "20"),
    "toyyibpay": ("user_secret_key", "KEY-DID-NOT-EXIST"),
}


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[dict[str, str]]:
    """Every gateway's simulator on a loopback port, for the module."""
    urls: dict[str, str] = {}
    servers = []
    try:
        for name in gateway_names():
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            server = serve_app(simulator_app(name, url), port)
            server.__enter__()
            servers.append(server)
            urls[name] = url
        yield urls
    finally:
        for server in reversed(servers):
            server.__exit__(None, None, None)


def _set_args(mid: str, gateway: str, base_url: str, **changes: str) -> list[str]:
    """`gateway set` for the simulator's test account, with `changes` to its values."""
    gw = entry(gateway)
    profile = gw.sandbox_profile()
    names = {f.name for f in gw.adapter.credential_fields}
    values = {**profile.credentials, **profile.settings, **changes}
    args = ["gateway", "set", mid, gateway, "--env", "simulator", "--base-url", base_url]
    for key, value in values.items():
        args += ["--cred" if key in names else "--setting", f"{key}={value}"]
    return args


def _merchant() -> str:
    run("db", "upgrade")
    found = re.search(r"merchant (mer_\w+)", run("merchant", "create", "Shop"))
    assert found
    return found.group(1)


def test_every_gateway_has_a_wrong_secret_case() -> None:
    assert sorted(WRONG_SECRET) == sorted(gateway_names())


@pytest.mark.parametrize("gateway", gateway_names())
def test_gateway_set_with_a_wrong_secret_fails_clearly(
    gateway: str, cli_env: dict[str, str], sandboxes: dict[str, str]
) -> None:
    mid = _merchant()
    field, code = WRONG_SECRET[gateway]
    wrong = "wrong" + SECRET
    result = CliRunner().invoke(
        app, _set_args(mid, gateway, sandboxes[gateway], **{field: wrong}), catch_exceptions=False
    )
    assert result.exit_code == 1, result.output
    assert "credentials INVALID" in result.output
    assert f"{gateway} answered {code}:" in result.output
    assert "saved and marked invalid" in result.output
    assert wrong not in result.output and SECRET not in result.output
    listing = run("gateway", "list", mid)
    assert f"credentials INVALID ({code}:" in listing

    # Put the right secret back: valid, and `gateway check` says so by asking again.
    good = run(*_set_args(mid, gateway, sandboxes[gateway]))
    assert "credentials valid:" in good
    assert "credentials valid:" in run("gateway", "check", mid, gateway)
    assert f"{gateway}/simulator: credentials valid (" in run("gateway", "list", mid)


@pytest.mark.parametrize("gateway", gateway_names())
def test_gateway_set_no_validate_skips_the_gateway(
    gateway: str, cli_env: dict[str, str], sandboxes: dict[str, str]
) -> None:
    mid = _merchant()
    field, _ = WRONG_SECRET[gateway]
    args = _set_args(mid, gateway, sandboxes[gateway], **{field: "wrong" + SECRET})
    out = run(*args, "--no-validate")
    assert "saved" in out and "not validated with the gateway (--no-validate)" in out
    assert "credentials never validated" in run("gateway", "list", mid)
    # The wrong secret is caught when the operator checks.
    result = CliRunner().invoke(app, ["gateway", "check", mid, gateway], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "credentials INVALID" in result.output


def test_gateway_set_against_an_unreachable_gateway_is_not_called_valid(
    cli_env: dict[str, str],
) -> None:
    mid = _merchant()
    dead = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, _set_args(mid, "vnpay", dead), catch_exceptions=False)
    assert result.exit_code == 3, result.output
    assert "could not tell" in result.output and "vnpay answered connection" in result.output
    assert "credentials unknown (connection:" in run("gateway", "list", mid)


def test_gateway_check_without_an_account_says_so(cli_env: dict[str, str]) -> None:
    mid = _merchant()
    result = CliRunner().invoke(app, ["gateway", "check", mid, "momo"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "cannot validate: no momo account for this merchant" in result.output


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

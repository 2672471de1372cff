"""`payhub key` (create, list, revoke, rotate) and `payhub customer-tokens` (set, show,
remove) on a real SQLite database; the master-key rotation covers issuers' secrets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from payhub.cli import app
from payhub.services.vault import generate_master_key
from payhub.settings import get_settings

SHARED = "issuer-shared-secret-for-the-cli-test-0123456789"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    env = {
        "PAYHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "PAYHUB_MASTER_KEY": generate_master_key(),
        "PAYHUB_OUTBOUND_ALLOW": "127.0.0.0/8",
        "COLUMNS": "250",  # Rich tables at full width
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


def key_ids(listing: str) -> list[str]:
    return re.findall(r"key_\w+", listing)


def test_keys_are_created_listed_rotated_and_revoked(cli_env: dict[str, str]) -> None:
    run("db", "upgrade")
    mid = re.search(r"merchant (mer_\w+)", run("merchant", "create", "Shop")).group(1)  # type: ignore[union-attr]
    out = run("api-key", "create", mid, "--mode", "live", "--label", "backend")
    live_key = re.search(r"shown once\): (sk_live_\S+)", out)
    assert live_key and "standard" in out and "backend" in out
    listing = run("api-key", "list", mid)
    assert "owner" in listing and "standard" in listing and "live" in listing
    assert live_key.group(1) not in listing and live_key.group(1)[:16] in listing
    [owner_id, live_id] = key_ids(listing)

    rotated = run("api-key", "rotate", live_id, "--overlap", "2h")
    new_key = re.search(r"shown once\): (sk_live_\S+)", rotated)
    assert new_key and new_key.group(1) != live_key.group(1)
    assert "keeps working until" in rotated
    listing = run("api-key", "list", mid)
    assert len(key_ids(listing)) >= 3 and "expires" in listing

    revoked = run("api-key", "revoke", owner_id)
    assert "revoked" in revoked
    assert "revoked" in run("api-key", "list", mid)

    too_long = CliRunner().invoke(
        app, ["api-key", "rotate", key_ids(listing)[-1], "--overlap", "8d"]
    )
    assert too_long.exit_code != 0


def test_customer_token_issuers_from_the_cli(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run("db", "upgrade")
    mid = re.search(r"merchant (mer_\w+)", run("merchant", "create", "Flowers")).group(1)  # type: ignore[union-attr]
    out = run(
        "customer-tokens",
        "set",
        mid,
        "--issuer",
        "https://securetoken.google.com/flower-shop",
        "--audience",
        "flower-shop",
        "--jwks-url",
        "http://127.0.0.1:9/jwks.json",
    )
    assert "saved" in out
    monkeypatch.setenv("BOOKING_SECRET", SHARED)
    run(
        "customer-tokens",
        "set",
        mid,
        "--issuer",
        "https://auth.flowers.example",
        "--audience",
        "app",
        "--secret-env",
        "BOOKING_SECRET",
        "--claim",
        "user_id",
        "--live",
    )
    shown = run("customer-tokens", "show", mid)
    assert "securetoken.google.com/flower-shop" in shown and "RS256" in shown
    assert "shared secret" in shown and "user_id" in shown and "live" in shown
    assert SHARED not in shown

    old_key = cli_env["PAYHUB_MASTER_KEY"]
    monkeypatch.setenv("PAYHUB_MASTER_KEY", generate_master_key())
    monkeypatch.setenv("PAYHUB_PREVIOUS_MASTER_KEYS", old_key)
    get_settings.cache_clear()
    assert "customer_token_issuer.secret: re-encrypted 1 row(s)" in run("keys", "rotate")

    assert "1 issuer(s) removed" in run(
        "customer-tokens", "remove", mid, "--issuer", "https://auth.flowers.example"
    )
    assert "auth.flowers.example" not in run("customer-tokens", "show", mid)

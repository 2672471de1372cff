"""`payhub notify`: settings with write-only secrets, templates from files, the test command
against a real SMTP server and a local Telegram Bot API server, and key rotation re-encrypting
the notification secrets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from payhub.cli import app
from payhub.services.vault import generate_master_key
from payhub.settings import get_settings
from tests.support.servers import serve_app
from tests.support.smtp import smtp_server
from tests.support.telegram import FakeTelegram

TOKEN = "7000000002:cli-bot-token-abcdefghijklmnop"
PASSWORD = "cli-smtp-password-3b9a"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    env = {
        "PAYHUB_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "PAYHUB_MASTER_KEY": generate_master_key(),
        "PAYHUB_OUTBOUND_ALLOW": "127.0.0.0/8",  # the test's SMTP server is on loopback
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_notify_set_show_test_template_and_rotation(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    telegram = FakeTelegram(token=TOKEN, chats={"1001"})
    run("db", "upgrade")
    mid = re.search(r"merchant (mer_\w+)", run("merchant", "create", "Shop"))
    assert mid
    merchant = mid.group(1)
    with smtp_server(user="shop", password=PASSWORD) as smtp, serve_app(telegram.app()) as tg:
        monkeypatch.setenv("PAYHUB_TELEGRAM_API_URL", tg)
        get_settings.cache_clear()
        out = run(
            "notify", "set", merchant,
            "--smtp-host", smtp.host, "--smtp-port", str(smtp.port), "--smtp-security", "none",
            "--smtp-user", "shop", "--smtp-password", PASSWORD,
            "--sender", "shop@example.com", "--sender-name", "Shop",
            "--telegram-token", TOKEN, "--telegram-chat", "1001",
            "--operator-email", "ops@example.com,boss@example.com",
            "--route", "stock_low=telegram", "--locale", "vi",
        )  # fmt: skip
        shown = out + run("notify", "show", merchant)
        assert "smtp_password" in shown and "telegram_bot_token" in shown
        assert PASSWORD not in shown and TOKEN not in shown
        assert "{'stock_low': ['telegram']}" in shown

        out = run("notify", "test", "--merchant", merchant)
        assert "email     ops@example.com: sent" in out
        assert "telegram  1001: sent" in out
        assert sorted(m.rcpt_to[0] for m in smtp.messages) == [
            "boss@example.com",
            "ops@example.com",
        ]
        assert len(telegram.messages) == 1

        old_key = cli_env["PAYHUB_MASTER_KEY"]
        monkeypatch.setenv("PAYHUB_MASTER_KEY", generate_master_key())
        monkeypatch.setenv("PAYHUB_PREVIOUS_MASTER_KEYS", old_key)
        get_settings.cache_clear()
        assert "re-encrypted 1 " in run("keys", "rotate")
        monkeypatch.delenv("PAYHUB_PREVIOUS_MASTER_KEYS")
        get_settings.cache_clear()
        out = run("notify", "test", "--merchant", merchant)  # the new key alone decrypts
        assert "telegram  1001: sent" in out

        run("notify", "set", merchant, "--telegram-chat", "2002")
        out = run("notify", "test", "--merchant", merchant, code=1)
        assert "telegram  2002: failed (Telegram 400: Bad Request: chat not found)" in out

    text = tmp_path / "welcome.txt"
    text.write_text("Chào mừng {{ customer_name }}!\n", encoding="utf-8")
    out = run(
        "notify", "template", merchant, "membership_welcome",
        "--locale", "vi", "--subject", "Chào mừng", "--text", str(text),
    )  # fmt: skip
    assert "saved" in out
    text.write_text("{% if %}", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["notify", "template", merchant, "broken", "--text", str(text)]
    )
    assert result.exit_code != 0 and "does not compile" in str(result.exception)

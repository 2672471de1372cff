"""`payhub admin create-user`: the password comes from a prompt or stdin, never argv."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from payhub.cli import app
from payhub.settings import get_settings

PASSWORD = "a long console password"


@pytest.fixture
def db_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("PAYHUB_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def invoke(*args: str, stdin: str = "") -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), input=stdin, catch_exceptions=False)
    return result.exit_code, result.output


def test_create_console_users_from_stdin_and_the_prompt(db_file: Path) -> None:
    assert invoke("db", "upgrade")[0] == 0
    code, out = invoke("merchant", "create", "Shop")
    assert code == 0
    merchant = re.search(r"merchant (mer_\w+)", out)
    assert merchant
    code, out = invoke(
        "admin",
        "create-user",
        "--email",
        "Lan@Shop.vn",
        "--role",
        "operator",
        "--merchant",
        merchant[1],
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert code == 0 and "lan@shop.vn" in out and PASSWORD not in out
    code, out = invoke(
        "admin",
        "create-user",
        "--email",
        "root@hub.example",
        "--hub-admin",
        stdin=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert code == 0 and "hub admin" in out
    engine = create_engine(f"sqlite:///{db_file}")
    with engine.connect() as c:
        rows = c.execute(
            text("select email, role, merchant_id, password_hash from console_users order by email")
        ).all()
    engine.dispose()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("lan@shop.vn", "operator", merchant[1]),
        ("root@hub.example", "owner", None),
    ]
    assert all(r[3].startswith("$argon2id$") and PASSWORD not in r[3] for r in rows)


def test_refusals(db_file: Path) -> None:
    invoke("db", "upgrade")
    assert invoke("admin", "create-user", "--email", "a@b.vn", "--password-stdin")[0] != 0
    code, out = invoke(
        "admin",
        "create-user",
        "--email",
        "a@b.vn",
        "--hub-admin",
        "--password-stdin",
        stdin="short\n",
    )
    assert code == 2 and "10 to 1024" in out
    code, out = invoke(
        "admin",
        "create-user",
        "--email",
        "a@b.vn",
        "--merchant",
        "mer_none",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert code == 2 and "no merchant" in out

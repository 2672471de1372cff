"""`payhub demo` makes a console owner once and prints a login that works on every run."""

from __future__ import annotations

from pathlib import Path

import pytest

from payhub import demo
from payhub.services.console_users import verify_login
from tests.support.hub import make_hub


def test_the_demo_console_owner_is_made_once_and_its_login_works(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "VAR", tmp_path / "var")
    th = make_hub(sqlite_url)
    email, password = demo.ensure_console_owner(th.hub, th.merchant_id)
    again = demo.ensure_console_owner(th.hub, th.merchant_id)
    assert again == (email, password) and len(password) >= 12
    assert (tmp_path / "var" / "console-password").stat().st_mode & 0o077 == 0
    identity = verify_login(th.hub, email, password)
    assert (identity.role, identity.merchant_id) == ("owner", th.merchant_id)
    th.hub.db.dispose()

"""Console login, sessions, CSRF and roles over the real app (SQLite)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from payhub.clock import FrozenClock
from payhub.store.models import AuditEntry, ConsoleSession, ConsoleUser
from payhub.web.console.roles import ALLOWED, Action, can
from tests.web.console.conftest import PASSWORD, ConsoleClient, add_user

pytestmark = pytest.mark.anyio


async def test_login_sets_a_session_cookie_and_shows_the_dashboard(
    console: ConsoleClient,
) -> None:
    add_user(console.th, "owner@example.com", "owner")
    r = await console.login("Owner@Example.com")
    assert r.status_code == 303 and r.headers["location"] == "/console/"
    cookie = r.headers["set-cookie"]
    assert "payhub_console=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/console" in cookie and "Secure" not in cookie
    page = await console.client.get("/console/")
    assert page.status_code == 200 and "owner@example.com" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    token = console.client.cookies["payhub_console"]
    with console.th.hub.db.session() as s:
        [row] = s.scalars(select(ConsoleSession)).all()
        assert row.id != token and len(row.id) == 64  # only the hash is stored
        user = s.scalars(select(ConsoleUser)).one()
        assert user.password_hash.startswith("$argon2id$")
        actions = [a.action for a in s.scalars(select(AuditEntry)).all()]
    assert "console.login" in actions


async def test_a_wrong_password_is_refused_audited_and_never_logged(
    console: ConsoleClient,
) -> None:
    add_user(console.th, "owner@example.com", "owner")
    r = await console.login("owner@example.com", "wrong password 123")
    assert r.status_code == 401 and "payhub_console=" not in r.headers.get("set-cookie", "")
    r = await console.login("nobody@example.com", "wrong password 123")
    assert r.status_code == 401
    with console.th.hub.db.session() as s:
        failed = [
            a for a in s.scalars(select(AuditEntry)).all() if a.action == "console.login_failed"
        ]
    assert len(failed) == 2
    assert all("wrong password" not in repr((a.before, a.after)) for a in failed)
    assert failed[0].source_ip == "203.0.113.7"


async def test_without_a_session_pages_redirect_to_login(console: ConsoleClient) -> None:
    r = await console.client.get("/console/?period=7d")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login?next=/console/%3Fperiod%3D7d"


async def test_logout_needs_the_csrf_token_and_ends_the_session(console: ConsoleClient) -> None:
    add_user(console.th, "owner@example.com", "owner")
    await console.login("owner@example.com")
    refused = await console.client.post("/console/logout", data={})
    assert refused.status_code == 403
    refused = await console.client.post("/console/logout", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    token = await console.csrf()
    r = await console.client.post("/console/logout", data={"csrf_token": token})
    assert r.status_code == 303
    with console.th.hub.db.session() as s:
        assert s.scalars(select(ConsoleSession)).all() == []
    assert (await console.client.get("/console/")).status_code == 303


async def test_idle_and_absolute_expiry(console: ConsoleClient) -> None:
    clock = FrozenClock(console.th.hub.clock.now())
    console.th.hub.clock = clock
    add_user(console.th, "owner@example.com", "owner")
    await console.login("owner@example.com")
    clock.advance(timedelta(minutes=29))
    assert (await console.client.get("/console/")).status_code == 200
    clock.advance(timedelta(minutes=29))  # seen 29 minutes ago: still alive
    assert (await console.client.get("/console/")).status_code == 200
    clock.advance(timedelta(minutes=31))
    assert (await console.client.get("/console/")).status_code == 303
    await console.login("owner@example.com")
    # Busy all along (a request every 29 minutes): still over after 12 hours.
    alive_for = timedelta(0)
    for _ in range(30):
        clock.advance(timedelta(minutes=29))
        if (await console.client.get("/console/")).status_code != 200:
            break
        alive_for += timedelta(minutes=29)
    assert alive_for == timedelta(minutes=29 * 24)  # 696 minutes; the next, 725, is past 720
    with console.th.hub.db.session() as s:
        assert s.scalars(select(ConsoleSession)).all() == []


async def test_login_attempts_are_limited_per_account(console: ConsoleClient) -> None:
    add_user(console.th, "owner@example.com", "owner")
    for _ in range(5):
        assert (await console.login("owner@example.com", "wrong password 1")).status_code == 401
    assert (await console.login("owner@example.com")).status_code == 429


async def test_a_login_without_its_csrf_token_is_refused(console: ConsoleClient) -> None:
    add_user(console.th, "owner@example.com", "owner")
    r = await console.client.post(
        "/console/login", data={"email": "owner@example.com", "password": PASSWORD}
    )
    assert r.status_code == 403


async def test_hub_admins_switch_merchants(console: ConsoleClient) -> None:
    from payhub.services.merchants import create_merchant

    other = create_merchant(console.th.hub, "Other Shop", actor="test")
    add_user(console.th, "admin@example.com", "owner", hub_admin=True)
    await console.login("admin@example.com")
    page = await console.client.get("/console/")
    assert "Other Shop" in page.text and 'name="merchant_id"' in page.text
    token = await console.csrf()
    r = await console.client.post(
        "/console/switch-merchant",
        data={"csrf_token": token, "merchant_id": other, "next": "/console/"},
    )
    assert r.status_code == 303
    assert other in (await console.client.get("/console/")).text


def test_the_roles_table() -> None:
    assert ALLOWED["owner"] == frozenset(Action)
    assert can("operator", Action.REFUND) and not can("operator", Action.API_KEYS)
    assert not any(can("viewer", a) for a in Action)
    assert not can("nobody", Action.REFUND) and not can("owner", "no-such-action")


async def test_cookies_are_secure_when_the_public_url_is_https(sqlite_url: str) -> None:
    import httpx

    from tests.support.hub import make_hub

    th = make_hub(sqlite_url, public_url="https://pay.example")
    add_user(th, "owner@example.com", "owner")
    transport = httpx.ASGITransport(app=th.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://pay.example") as c:
        client = ConsoleClient(th, c)
        form = await c.get("/console/login")
        assert "Secure" in form.headers["set-cookie"]
        r = await client.login("owner@example.com")
        assert r.status_code == 303
        assert "Secure" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
    th.hub.db.dispose()

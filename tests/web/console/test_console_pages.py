"""The console's gateways, developers, products, customers, audit and settings pages over
the real app (SQLite): the role matrix of every POST, CSRF refusal, 4xx for bad input, and
write-only secrets that never reach the HTML."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from payhub.gateways.base import Environment
from payhub.gateways.registry import entry
from payhub.services.accounts import configure_account
from payhub.services.orders import CustomerDraft, ItemDraft, OrderDraft, create_order
from payhub.services.webhooks import create_endpoint
from payhub.store.models import AuditEntry, Product, WebhookEndpoint
from tests.web.console.conftest import ConsoleClient, add_user, csrf_of

pytestmark = pytest.mark.anyio

PAGES = (
    "/console/gateways",
    "/console/developers",
    "/console/developers/events",
    "/console/products",
    "/console/customers",
    "/console/audit",
    "/console/settings",
)
GATEWAY_SECRET = "payos-checksum-Zq8wK2mV7rT4nL9s"
SMTP_SECRET = "smtp-password-Hy6tB3xQ1pW8"
TELEGRAM_SECRET = "123456:telegram-token-Ja5Rk2Dv9"


def _payos_credentials(secret: str = GATEWAY_SECRET) -> dict[str, str]:
    fields = entry("payos").adapter.credential_fields
    return {f.name: (secret if f.secret else f"{f.name}-value") for f in fields}


async def _as(console: ConsoleClient, role: str) -> None:
    email = f"{role}@example.com"
    add_user(console.th, email, role)
    r = await console.login(email)
    assert r.status_code == 303


def _seed(console: ConsoleClient) -> dict[str, str]:
    """A gateway account, a webhook endpoint and an event with a delivery, an order."""
    th = console.th
    account = configure_account(
        th.hub,
        merchant_id=th.merchant_id,
        gateway="payos",
        environment=Environment.SANDBOX,
        credentials=_payos_credentials(),
        actor="test",
    )
    endpoint = create_endpoint(th.hub, th.merchant_id, "http://127.0.0.1:9/hooks", [], actor="test")
    order_id = create_order(
        th.hub,
        th.merchant_id,
        OrderDraft(
            merchant_reference="r-console-1",
            currency="VND",
            items=[ItemDraft(sku="pack-100")],
            customer=CustomerDraft(
                external_id="lan-42", name="Nguyễn Lan", email="lan@example.vn", phone="0901"
            ),
        ),
    )
    from payhub.services.webhooks import fan_out

    fan_out(th.hub)
    with th.hub.db.session() as s:
        from payhub.store.models import OutboxEvent

        event = s.scalars(
            select(OutboxEvent).where(OutboxEvent.event_type == "order.created")
        ).one()
    with th.hub.db.session() as s:
        from payhub.store.models import ApiKey

        key_id = s.scalars(select(ApiKey.id)).one()
    return {
        "key": key_id,
        "account": account,
        "endpoint": str(endpoint["id"]),
        "order": order_id,
        "event": event.id,
        "secret": str(endpoint["secret"]),
    }


def _post_cases(ids: dict[str, str]) -> list[tuple[str, dict[str, object], str]]:
    """(path, form, action) of every POST the pages make."""
    return [
        (
            "/console/gateways/credentials",
            {
                "gateway": "payos",
                "environment": "sandbox",
                **{f"credential.{k}": v for k, v in _payos_credentials("new-secret-1").items()},
            },
            "gateway_credentials",
        ),
        (f"/console/gateways/{ids['account']}/enabled", {"enabled": "false"}, "gateway_manage"),
        ("/console/gateways/ga_none/validate", {}, "gateway_manage"),
        (f"/console/gateways/{ids['account']}/priority", {"priority": "7"}, "gateway_manage"),
        (f"/console/gateways/{ids['account']}/switch", {}, "gateway_manage"),
        (
            "/console/developers/endpoints",
            {"url": "http://127.0.0.1:9/other"},
            "webhooks_manage",
        ),
        (f"/console/developers/endpoints/{ids['endpoint']}/rotate", {}, "webhooks_manage"),
        (
            f"/console/developers/endpoints/{ids['endpoint']}/enabled",
            {"enabled": "false"},
            "webhooks_manage",
        ),
        (
            f"/console/developers/endpoints/{ids['endpoint']}/events",
            {"event_types": ["order.paid"]},
            "webhooks_manage",
        ),
        ("/console/developers/keys", {"mode": "test", "label": "ci"}, "api_keys"),
        (f"/console/developers/keys/{ids['key']}/rotate", {"overlap": "1h"}, "api_keys"),
        (f"/console/developers/keys/{ids['key']}/revoke", {}, "api_keys"),
        (f"/console/developers/events/{ids['event']}/redeliver", {}, "redeliver"),
        ("/console/products/tshirt/restock", {"quantity": "2", "reason": "delivery"}, "products"),
        (
            "/console/products",
            {"sku": "mug", "name": "Mug", "price": "45.000", "currency": "VND"},
            "products",
        ),
        (
            "/console/customers/adjust",
            {"customer": "lan-42", "amount": "5", "reason": "goodwill"},
            "credits",
        ),
        ("/console/settings/profile", {"name": "Lan's Shop"}, "settings"),
        ("/console/settings/notifications", {"sender_address": "a@b.vn"}, "settings"),
    ]


@pytest.mark.parametrize("role", ["owner", "operator", "viewer"])
async def test_every_page_reads_for_every_role(console: ConsoleClient, role: str) -> None:
    ids = _seed(console)
    await _as(console, role)
    for path in (*PAGES, f"/console/developers/events/{ids['event']}"):
        r = await console.client.get(path)
        assert r.status_code == 200, (path, r.text[:500])
        assert r.headers["cache-control"] == "no-store"
    ledger = await console.client.get("/console/customers/ledger", params={"customer": "lan-42"})
    assert ledger.status_code == 200 and "lan-42" in ledger.text


@pytest.mark.parametrize("role", ["owner", "operator", "viewer"])
async def test_the_role_matrix_of_every_post(console: ConsoleClient, role: str) -> None:
    from payhub.web.console.roles import can

    ids = _seed(console)
    await _as(console, role)
    for path, form, action in _post_cases(ids):
        token = await console.csrf("/console/gateways")
        r = await console.client.post(path, data={**form, "csrf_token": token})
        if can(role, action):
            # (validating an account that does not exist: refused by the service, a 404)
            expected = (404,) if "ga_none" in path else (200, 303)
            assert r.status_code in expected, (path, r.status_code, r.text[:800])
        else:
            assert r.status_code == 403, (path, r.status_code)
            assert "Your role may not do this." in r.text


async def test_buttons_are_left_out_for_roles_that_may_not_use_them(
    console: ConsoleClient,
) -> None:
    ids = _seed(console)
    await _as(console, "viewer")
    pages = {p: (await console.client.get(p)).text for p in PAGES}
    event = (await console.client.get(f"/console/developers/events/{ids['event']}")).text
    assert 'action="/console/gateways/credentials"' not in pages["/console/gateways"]
    assert "/enabled" not in pages["/console/gateways"]
    assert "/validate" not in pages["/console/gateways"]
    assert "/priority" not in pages["/console/gateways"]
    assert 'action="/console/developers/endpoints"' not in pages["/console/developers"]
    assert "/rotate" not in pages["/console/developers"]
    assert 'action="/console/developers/keys"' not in pages["/console/developers"]
    assert "/revoke" not in pages["/console/developers"]
    assert "/restock" not in pages["/console/products"]
    assert "/redeliver" not in event
    assert "Send test" not in pages["/console/settings"]
    ledger = (await console.client.get("/console/customers/ledger?customer=lan-42")).text
    assert "/console/customers/adjust" not in ledger
    assert 'type="submit">Save<' not in pages["/console/settings"]


async def test_operators_redeliver_but_manage_nothing_else(console: ConsoleClient) -> None:
    ids = _seed(console)
    await _as(console, "operator")
    event = (await console.client.get(f"/console/developers/events/{ids['event']}")).text
    assert "/redeliver" in event
    assert "/restock" not in (await console.client.get("/console/products")).text
    token = csrf_of(event)
    r = await console.client.post(
        f"/console/developers/events/{ids['event']}/redeliver", data={"csrf_token": token}
    )
    assert r.status_code == 303
    with console.th.hub.db.session() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "event.redelivered")).one()
    assert audit.actor.startswith("console:")


async def test_every_post_without_its_csrf_token_is_refused(console: ConsoleClient) -> None:
    ids = _seed(console)
    await _as(console, "owner")
    for path, form, _action in _post_cases(ids):
        for token in (None, "forged-token"):
            data = dict(form) if token is None else {**form, "csrf_token": token}
            r = await console.client.post(path, data=data)
            assert r.status_code == 403, (path, token)
    with console.th.hub.db.session() as s:
        actions = {a.action for a in s.scalars(select(AuditEntry)) if a.actor.startswith("con")}
    assert actions == {"console.login"}  # nothing was changed


async def test_gateway_credentials_are_write_only(console: ConsoleClient) -> None:
    _seed(console)
    await _as(console, "owner")
    page = await console.client.get("/console/gateways")
    assert GATEWAY_SECRET not in page.text
    assert 'value=""' in page.text and ">set<" in page.text
    replacement = "replaced-checksum-4Vn8Ld2Px7"
    token = csrf_of(page.text)
    r = await console.client.post(
        "/console/gateways/credentials",
        data={
            "csrf_token": token,
            "gateway": "payos",
            "environment": "sandbox",
            "credential.checksum_key": replacement,
        },
    )
    assert r.status_code == 303, r.text
    every_page = [(await console.client.get(p)).text for p in PAGES]
    every_page.append((await console.client.get("/console/audit?action=gateway")).text)
    for html in every_page:
        assert GATEWAY_SECRET not in html and replacement not in html
    with console.th.hub.db.session() as s:
        audit = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "gateway_account.configured")
        ).all()
    assert audit[-1].actor.startswith("console:") and audit[-1].source_ip == "203.0.113.7"
    assert replacement not in repr((audit[-1].before, audit[-1].after))


async def test_gateway_account_is_enabled_and_disabled(console: ConsoleClient) -> None:
    ids = _seed(console)
    await _as(console, "owner")
    token = await console.csrf("/console/gateways")
    r = await console.client.post(
        f"/console/gateways/{ids['account']}/enabled", data={"csrf_token": token, "enabled": "0"}
    )
    assert r.status_code == 303
    page = (await console.client.get("/console/gateways")).text
    assert ">disabled<" in page and ">Enable<" in page


async def test_gateway_bad_input_is_a_4xx(console: ConsoleClient) -> None:
    ids = _seed(console)
    await _as(console, "owner")
    token = await console.csrf("/console/gateways")
    cases = [
        ("/console/gateways/credentials", {"gateway": "paypal", "environment": "sandbox"}),
        ("/console/gateways/credentials", {"gateway": "payos", "environment": "moon"}),
        ("/console/gateways/credentials", {"gateway": "payos", "environment": "production"}),
        (
            "/console/gateways/credentials",
            {"gateway": "payos", "environment": "sandbox", "credential.nope": "x"},
        ),
        (
            "/console/gateways/credentials",
            {"gateway": "payos", "environment": "sandbox", "credential.checksum_key": "x" * 5000},
        ),
        ("/console/gateways/credentials", {"environment": "sandbox"}),
        ("/console/gateways/ga_nope/enabled", {"enabled": "true"}),
        (f"/console/gateways/{ids['account']}/enabled", {"enabled": "perhaps"}),
    ]
    for path, form in cases:
        r = await console.client.post(path, data={**form, "csrf_token": token})
        assert 400 <= r.status_code < 500, (path, form, r.status_code)


async def test_a_new_webhook_secret_is_shown_once(console: ConsoleClient) -> None:
    _seed(console)
    await _as(console, "owner")
    token = await console.csrf("/console/developers")
    r = await console.client.post(
        "/console/developers/endpoints",
        data={
            "csrf_token": token,
            "url": "http://127.0.0.1:9/shop",
            "event_types": ["order.paid", "refund.succeeded"],
        },
    )
    assert r.status_code == 200
    match = re.search(r"whsec_[A-Za-z0-9+/=]+", r.text)
    assert match
    secret = match.group(0)
    page = (await console.client.get("/console/developers")).text
    assert "http://127.0.0.1:9/shop" in page and "order.paid, refund.succeeded" in page
    assert secret not in page and "whsec_" not in page
    with console.th.hub.db.session() as s:
        endpoint = s.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.url == "http://127.0.0.1:9/shop")
        ).one()
    r = await console.client.post(
        f"/console/developers/endpoints/{endpoint.id}/rotate", data={"csrf_token": token}
    )
    rotated = re.search(r"whsec_[A-Za-z0-9+/=]+", r.text)
    assert rotated and rotated.group(0) != secret


async def test_webhook_bad_input_is_a_4xx(console: ConsoleClient) -> None:
    ids = _seed(console)
    await _as(console, "owner")
    token = await console.csrf("/console/developers")
    cases = [
        ("/console/developers/endpoints", {"url": "http://10.0.0.1/internal"}),
        ("/console/developers/endpoints", {"url": "not a url at all"}),
        ("/console/developers/endpoints", {"url": "http://127.0.0.1:9/x", "event_types": "x.y"}),
        (f"/console/developers/endpoints/{ids['endpoint']}/events", {"event_types": "nope"}),
        ("/console/developers/endpoints/we_nope/rotate", {}),
        ("/console/developers/endpoints/we_nope/enabled", {"enabled": "true"}),
        ("/console/developers/keys", {"mode": "prod"}),
        ("/console/developers/events/evt_nope/redeliver", {}),
    ]
    for path, form in cases:
        r = await console.client.post(path, data={**form, "csrf_token": token})
        assert 400 <= r.status_code < 500, (path, form, r.status_code)
    for path in ("/console/developers/events/evt_nope", "/console/developers/events?cursor=%00"):
        r = await console.client.get(path)
        assert r.status_code in (200, 400, 404), path


async def test_an_api_key_is_shown_once(console: ConsoleClient) -> None:
    await _as(console, "owner")
    token = await console.csrf("/console/developers")
    r = await console.client.post(
        "/console/developers/keys", data={"csrf_token": token, "mode": "live", "label": "shop"}
    )
    key = re.search(r"sk_live_[A-Za-z0-9_-]+", r.text)
    assert r.status_code == 200 and key
    page = (await console.client.get("/console/developers")).text
    assert key.group(0) not in page and key.group(0)[:16] in page


async def test_event_log_filters_by_type(console: ConsoleClient) -> None:
    ids = _seed(console)
    await _as(console, "viewer")
    page = (await console.client.get("/console/developers/events?type=order.created")).text
    assert ids["event"] in page
    none = (await console.client.get("/console/developers/events?type=order.paid")).text
    assert ids["event"] not in none and "No events." in none


async def test_restock_adds_units_with_a_reason(console: ConsoleClient) -> None:
    await _as(console, "owner")
    token = await console.csrf("/console/products")
    r = await console.client.post(
        "/console/products/tshirt/restock",
        data={"csrf_token": token, "quantity": "7", "reason": "supplier delivery #12"},
    )
    assert r.status_code == 303
    page = (await console.client.get("/console/products")).text
    assert "Restocked: tshirt → 12" in page
    with console.th.hub.db.session() as s:
        stock = s.scalar(select(Product.stock_available).where(Product.sku == "tshirt"))
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "product.restocked")).one()
    assert stock == 12
    assert audit.after == {"stock_available": 12, "quantity": 7, "reason": "supplier delivery #12"}


async def test_low_stock_is_highlighted(console: ConsoleClient) -> None:
    from payhub.services.merchants import upsert_product

    upsert_product(
        console.th.hub,
        console.th.merchant_id,
        sku="tshirt",
        name="T-shirt",
        price=150_000,
        currency="VND",
        track_stock=True,
        stock=2,
        low_stock_threshold=3,
        actor="test",
    )
    await _as(console, "viewer")
    page = (await console.client.get("/console/products")).text
    assert 'class="low-stock" data-sku="tshirt"' in page and "Low stock:" in page
    assert 'class="low-stock" data-sku="pack-100"' not in page


async def test_products_bad_input_is_a_4xx(console: ConsoleClient) -> None:
    await _as(console, "owner")
    token = await console.csrf("/console/products")
    cases = [
        ("/console/products/tshirt/restock", {"quantity": "0", "reason": "x"}),
        ("/console/products/tshirt/restock", {"quantity": "-3", "reason": "x"}),
        ("/console/products/tshirt/restock", {"quantity": "ten", "reason": "x"}),
        ("/console/products/tshirt/restock", {"quantity": "3"}),
        ("/console/products/tshirt/restock", {"quantity": "3", "reason": "   "}),
        ("/console/products/pack-100/restock", {"quantity": "3", "reason": "x"}),  # untracked
        ("/console/products/nope/restock", {"quantity": "3", "reason": "x"}),
        ("/console/products", {"sku": "a", "name": "A", "price": "1.555", "currency": "MYR"}),
        ("/console/products", {"sku": "a", "name": "A", "price": "abc", "currency": "VND"}),
        ("/console/products", {"sku": "a", "name": "A", "price": "5", "currency": "XXX"}),
        ("/console/products", {"sku": "a b", "name": "A", "price": "5", "currency": "VND"}),
        ("/console/products", {"sku": "a", "name": "A", "price": "-5", "currency": "VND"}),
        (
            "/console/products",
            {"sku": "a", "name": "A", "price": "5", "currency": "VND", "stock": "x"},
        ),
    ]
    for path, form in cases:
        r = await console.client.post(path, data={**form, "csrf_token": token})
        assert 400 <= r.status_code < 500, (path, form, r.status_code)
    with console.th.hub.db.session() as s:
        assert s.scalar(select(Product.stock_available).where(Product.sku == "tshirt")) == 5


async def test_customers_are_searched_and_their_ledger_shown(console: ConsoleClient) -> None:
    _seed(console)
    await _as(console, "viewer")
    for q in ("lan-4", "Lan", "lan@example", "0901"):
        page = (await console.client.get("/console/customers", params={"q": q})).text
        assert "lan-42" in page, q
    page = (await console.client.get("/console/customers", params={"q": "100%_"})).text
    assert "lan-42" not in page and "No customers found." in page
    r = await console.client.get("/console/customers/ledger", params={"customer": "nobody"})
    assert r.status_code == 404


async def test_audit_log_filters_and_pages(console: ConsoleClient) -> None:
    from payhub.services.inventory import restock

    for i in range(55):
        restock(console.th.hub, console.th.merchant_id, "tshirt", 1, reason=f"r{i}", actor="cli")
    await _as(console, "viewer")
    first = (await console.client.get("/console/audit", params={"action": "restocked"})).text
    assert first.count("data-audit=") == 50
    older = re.search(r'id="older" href="([^"]+)"', first)
    assert older
    second = (await console.client.get(older.group(1).replace("&amp;", "&"))).text
    assert second.count("data-audit=") == 5 and 'id="older"' not in second
    by_actor = (await console.client.get("/console/audit", params={"actor": "console:"})).text
    assert "console.login" in by_actor and "product.restocked" not in by_actor
    future = (await console.client.get("/console/audit", params={"since": "2999-01-01"})).text
    assert "data-audit=" not in future
    today = (await console.client.get("/console/audit", params={"until": "2999-01-01"})).text
    assert today.count("data-audit=") == 50
    for bad in ({"since": "yesterday"}, {"until": "2026-13-40"}, {"cursor": "abc"}):
        r = await console.client.get("/console/audit", params=bad)
        assert 400 <= r.status_code < 500, bad


async def test_settings_change_the_merchant_profile(console: ConsoleClient) -> None:
    await _as(console, "owner")
    token = await console.csrf("/console/settings")
    r = await console.client.post(
        "/console/settings/profile",
        data={
            "csrf_token": token,
            "name": "Lan's Shop",
            "logo_url": "https://shop.example/logo.png",
            "brand_color": "#C0FFEE",
            "default_locale": "vi",
        },
    )
    assert r.status_code == 303
    page = (await console.client.get("/console/settings")).text
    assert 'value="#c0ffee"' in page and "https://shop.example/logo.png" in page
    for bad in (
        {"name": "x", "brand_color": "red"},
        {"name": "x", "logo_url": "javascript:alert(1)"},
        {"name": "x", "default_locale": "fr"},
        {"name": ""},
    ):
        r = await console.client.post(
            "/console/settings/profile", data={**bad, "csrf_token": token}
        )
        assert 400 <= r.status_code < 500, bad


async def test_notification_secrets_are_write_only(console: ConsoleClient) -> None:
    await _as(console, "owner")
    token = await console.csrf("/console/settings")
    form = {
        "csrf_token": token,
        "smtp_host": "127.0.0.1",
        "smtp_port": "2525",
        "smtp_security": "none",
        "smtp_password": SMTP_SECRET,
        "sender_address": "shop@example.vn",
        "telegram_bot_token": TELEGRAM_SECRET,
        "telegram_chat_ids": "1001, 1002",
        "operator_emails": "ops@example.vn",
    }
    assert (await console.client.post("/console/settings/notifications", data=form)).status_code
    page = (await console.client.get("/console/settings")).text
    assert SMTP_SECRET not in page and TELEGRAM_SECRET not in page
    assert page.count(">set<") == 2 and 'value="1001, 1002"' in page
    # Saved again without the secrets: they are kept; "clear" removes one.
    keep = {k: v for k, v in form.items() if k not in ("smtp_password", "telegram_bot_token")}
    await console.client.post("/console/settings/notifications", data=keep)
    assert (await console.client.get("/console/settings")).text.count(">set<") == 2
    await console.client.post(
        "/console/settings/notifications", data={**keep, "clear_telegram_bot_token": "true"}
    )
    assert (await console.client.get("/console/settings")).text.count(">set<") == 1
    audit_pages = (await console.client.get("/console/audit")).text
    assert SMTP_SECRET not in audit_pages and TELEGRAM_SECRET not in audit_pages
    for bad in ({"smtp_port": "99999"}, {"smtp_security": "ssl3"}, {"operator_emails": "nope"}):
        r = await console.client.post("/console/settings/notifications", data={**keep, **bad})
        assert 400 <= r.status_code < 500, bad


async def test_send_test_reports_each_channel(console: ConsoleClient) -> None:
    await _as(console, "owner")
    token = await console.csrf("/console/settings")
    r = await console.client.post(
        "/console/settings/notifications/test", data={"csrf_token": token}
    )
    assert r.status_code == 404  # nothing configured yet
    await console.client.post(
        "/console/settings/notifications", data={"csrf_token": token, "smtp_port": "25"}
    )
    r = await console.client.post(
        "/console/settings/notifications/test", data={"csrf_token": token}
    )
    assert r.status_code == 200
    results = re.search(r'<ul id="test-results">(.*?)</ul>', r.text, re.S)
    assert results and "email" in results.group(1) and "not configured" in results.group(1)


async def test_hostile_paths_and_queries_are_never_5xx(console: ConsoleClient) -> None:
    ids = _seed(console)
    await _as(console, "owner")
    token = await console.csrf("/console/products")
    gets = [
        "/console/customers?q=" + "%27%22%3C" * 100,
        "/console/customers/ledger?customer=%00",
        "/console/audit?subject=" + "x" * 5000,
        "/console/developers/events?type=" + "%ff" * 50,
        "/console/developers/events/" + "%2e" * 30,
    ]
    for path in gets:
        r = await console.client.get(path)
        assert r.status_code < 500, path
    posts = [
        "/console/products/%00/restock",
        f"/console/gateways/{ids['account']}x/enabled",
        "/console/developers/endpoints/%27/events",
    ]
    for path in posts:
        r = await console.client.post(
            path, data={"csrf_token": token, "quantity": "1", "reason": "x", "enabled": "true"}
        )
        assert 400 <= r.status_code < 500, path


async def test_pages_need_a_session(console: ConsoleClient) -> None:
    for path in PAGES:
        assert (await console.client.get(path)).status_code == 303
    r = await console.client.post("/console/products/tshirt/restock", data={"quantity": "1"})
    assert r.status_code == 303
    assert isinstance(console.client, httpx.AsyncClient)


async def test_validate_now_asks_the_gateway_and_shows_the_answer(console: ConsoleClient) -> None:
    from tests.support.hub import connect_gateway, simulator_app
    from tests.support.servers import free_port, serve_app

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serve_app(simulator_app("vnpay", url), port):
        account = connect_gateway(console.th, "vnpay", url)
        await _as(console, "owner")
        page = (await console.client.get("/console/gateways")).text
        assert "not validated yet" in page and f"/console/gateways/{account}/validate" in page
        r = await console.client.post(
            f"/console/gateways/{account}/validate", data={"csrf_token": csrf_of(page)}
        )
        assert r.status_code == 303
        page = (await console.client.get("/console/gateways")).text
    assert "vnpay: Credentials are valid." in page and ">valid<" in page
    with console.th.hub.db.session() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.subject == account)).all()
    assert any(a.actor.startswith("console:") for a in audit)
    r = await console.client.post(
        "/console/gateways/ga_nope/validate", data={"csrf_token": csrf_of(page)}
    )
    assert r.status_code == 404


async def test_the_pages_speak_vietnamese(console: ConsoleClient) -> None:
    await _as(console, "owner")
    console.client.cookies.set("payhub_console_lang", "vi", path="/console")
    products = (await console.client.get("/console/products")).text
    assert "Nhập hàng" in products and "150.000" in products  # Babel: 150.000 ₫
    settings = (await console.client.get("/console/settings")).text
    assert "Màu thương hiệu" in settings and "Gửi thử" not in settings  # no settings row yet


async def test_an_owner_adjusts_a_balance_with_a_reason(console: ConsoleClient) -> None:
    _seed(console)
    await _as(console, "owner")
    page = (await console.client.get("/console/customers/ledger?customer=lan-42")).text
    assert 'id="balance">0<' in page and "/console/customers/adjust" in page
    token = csrf_of(page)
    r = await console.client.post(
        "/console/customers/adjust",
        data={"csrf_token": token, "customer": "lan-42", "amount": "30", "reason": "goodwill"},
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/console/customers/ledger?customer=lan-42"
    r = await console.client.post(
        "/console/customers/adjust",
        data={"csrf_token": token, "customer": "lan-42", "amount": "-10", "reason": "typo"},
    )
    page = (await console.client.get("/console/customers/ledger?customer=lan-42")).text
    assert (
        'id="balance">20<' in page and "goodwill" in page and "Balance adjusted: -10 → 20" in page
    )
    with console.th.hub.db.session() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.actor.like("console:%"))).all()
    assert sum(1 for a in audit if "adjust" in a.action) == 2
    for bad in (
        {"customer": "lan-42", "amount": "-100", "reason": "too much"},  # below zero
        {"customer": "lan-42", "amount": "0", "reason": "nothing"},
        {"customer": "lan-42", "amount": "1.5", "reason": "x"},
        {"customer": "lan-42", "amount": "3", "reason": "   "},
        {"customer": "lan-42", "amount": "3"},
        {"customer": "nobody", "amount": "3", "reason": "x"},
    ):
        r = await console.client.post(
            "/console/customers/adjust", data={**bad, "csrf_token": token}
        )
        assert 400 <= r.status_code < 500, (bad, r.status_code)
    page = (await console.client.get("/console/customers/ledger?customer=lan-42")).text
    assert 'id="balance">20<' in page


async def test_api_keys_are_revoked_and_rotated(console: ConsoleClient) -> None:
    ids = _seed(console)
    await _as(console, "owner")
    th = console.th
    token = await console.csrf("/console/developers")
    r = await console.client.post(
        f"/console/developers/keys/{ids['key']}/rotate",
        data={"csrf_token": token, "overlap": "0s"},
    )
    new_key = re.search(r'id="shown-once">(sk_test_[A-Za-z0-9_-]{40,})<', r.text)
    assert r.status_code == 200 and new_key
    page = (await console.client.get("/console/developers")).text
    assert new_key.group(1) not in page and page.count("data-key=") == 2
    assert "never" in page  # the new key's last use
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app=th.app), base_url="http://hub")
    async with api:
        assert (await api.get("/v1/orders", headers=th.headers)).status_code == 401
        fresh = {"Authorization": f"Bearer {new_key.group(1)}"}
        assert (await api.get("/v1/orders", headers=fresh)).status_code == 200
        with th.hub.db.session() as s:
            from payhub.store.models import ApiKey

            new_id = s.scalars(select(ApiKey.id).where(ApiKey.id != ids["key"])).one()
        r = await console.client.post(
            f"/console/developers/keys/{new_id}/revoke", data={"csrf_token": token}
        )
        assert r.status_code == 303
        assert (await api.get("/v1/orders", headers=fresh)).status_code == 401
    page = (await console.client.get("/console/developers")).text
    assert "API key revoked:" in page and ">revoked<" in page
    for path, form in (
        (f"/console/developers/keys/{new_id}/rotate", {}),  # revoked: 409
        (f"/console/developers/keys/{ids['key']}/rotate", {"overlap": "9d"}),
        (f"/console/developers/keys/{ids['key']}/rotate", {"overlap": "soon"}),
        ("/console/developers/keys/key_nope/revoke", {}),
        ("/console/developers/keys", {"role": "admin"}),
    ):
        r = await console.client.post(path, data={**form, "csrf_token": token})
        assert 400 <= r.status_code < 500, (path, form, r.status_code)


async def test_a_product_is_added_with_its_price_in_major_units(console: ConsoleClient) -> None:
    await _as(console, "owner")
    token = await console.csrf("/console/products")
    for sku, price, currency in (("mug", "45.000", "VND"), ("mug-my", "10,50", "MYR")):
        r = await console.client.post(
            "/console/products",
            data={
                "csrf_token": token,
                "sku": sku,
                "name": "Mug",
                "price": price,
                "currency": currency,
                "track_stock": "true",
                "stock": "4",
                "low_stock_threshold": "5",
            },
        )
        assert r.status_code == 303, r.text
    with console.th.hub.db.session() as s:
        rows = {p.sku: p for p in s.scalars(select(Product).where(Product.sku.like("mug%")))}
    assert (rows["mug"].price_minor, rows["mug-my"].price_minor) == (45_000, 1_050)
    assert rows["mug"].stock_available == 4 and rows["mug"].track_stock
    page = (await console.client.get("/console/products")).text
    assert 'class="low-stock" data-sku="mug"' in page and "RM\xa010.50" in page


async def test_priority_switch_and_health(console: ConsoleClient) -> None:
    ids = _seed(console)
    production = configure_account(
        console.th.hub,
        merchant_id=console.th.merchant_id,
        gateway="payos",
        environment=Environment.PRODUCTION,
        credentials=_payos_credentials("live-checksum-9"),
        enabled=False,
        actor="test",
    )
    await _as(console, "owner")
    page = (await console.client.get("/console/gateways")).text
    assert f"/console/gateways/{production}/switch" in page  # the disabled one of the pair
    assert f"/console/gateways/{ids['account']}/switch" not in page
    assert ">healthy<" in page  # the circuit is closed: no failure seen
    token = csrf_of(page)
    r = await console.client.post(
        f"/console/gateways/{production}/switch", data={"csrf_token": token}
    )
    assert r.status_code == 303
    r = await console.client.post(
        f"/console/gateways/{production}/priority", data={"csrf_token": token, "priority": "3"}
    )
    assert r.status_code == 303
    page = (await console.client.get("/console/gateways")).text
    assert "Priority saved." in page
    with console.th.hub.db.session() as s:
        from payhub.store.models import GatewayAccount

        rows = {a.id: a for a in s.scalars(select(GatewayAccount))}
        actions = [a.action for a in s.scalars(select(AuditEntry)) if a.actor.startswith("cons")]
    assert rows[production].enabled and not rows[ids["account"]].enabled
    assert rows[production].priority == 3
    assert "gateway_account.switch" in actions and "gateway_account.priority" in actions
    assert f"/console/gateways/{ids['account']}/switch" in page  # now the sandbox is off
    for path, form in (
        (f"/console/gateways/{production}/priority", {"priority": "-1"}),
        (f"/console/gateways/{production}/priority", {"priority": "high"}),
        ("/console/gateways/ga_nope/priority", {"priority": "1"}),
        ("/console/gateways/ga_nope/switch", {}),
    ):
        r = await console.client.post(path, data={**form, "csrf_token": token})
        assert 400 <= r.status_code < 500, (path, form, r.status_code)

"""The console's gateways, developers, products, customers, audit and settings pages in a
real browser: Playwright drives Debian's Chromium against the hub served by uvicorn on
loopback (SQLite). An owner sets gateway credentials (the secret is nowhere in the HTML
afterwards), creates a webhook endpoint (its secret is shown once), restocks a product and
changes the brand colour (seen on the hosted checkout); every page is photographed at
desktop and phone sizes under `var/screenshots/console/`, with no Content Security Policy
violation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from payhub.services.console_users import create_user
from payhub.services.hosted import hosted_checkout_url
from payhub.services.orders import CustomerDraft, ItemDraft, OrderDraft, create_order
from payhub.store.models import Product
from tests.support.browser import CHROMIUM_ARGS, chromium_path
from tests.support.hub import HubUnderTest, connect_gateway, make_hub
from tests.support.servers import free_port, serve_app

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

TIMEOUT_MS = 15_000
PASSWORD = "correct horse battery"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "console"
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}
PAGES = {
    "gateways": "/console/gateways",
    "developers": "/console/developers",
    "events": "/console/developers/events",
    "products": "/console/products",
    "customers": "/console/customers",
    "ledger": "/console/customers/ledger?customer=lan-42",
    "audit": "/console/audit",
    "settings": "/console/settings",
}
SECRET = "checksum-e2e-Wq7Ld3Zr9Kp2"


@dataclass
class Served:
    th: HubUnderTest
    url: str


@pytest.fixture
def chromium() -> str:
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (scripts/bootstrap.sh --chromium)")
    return path


@pytest.fixture
def served(sqlite_url: str) -> Iterator[Served]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    th = make_hub(sqlite_url, public_url=url)
    connect_gateway(th, "payos", "http://127.0.0.1:9")
    create_user(
        th.hub,
        email="owner@example.com",
        password=PASSWORD,
        role="owner",
        merchant_id=th.merchant_id,
        actor="test",
    )
    create_order(
        th.hub,
        th.merchant_id,
        OrderDraft(
            merchant_reference="e2e-1",
            currency="VND",
            items=[ItemDraft(sku="pack-100")],
            customer=CustomerDraft(external_id="lan-42", name="Lan", email="lan@example.vn"),
        ),
    )
    with serve_app(th.app, port):
        yield Served(th, url)
    th.hub.db.dispose()


@pytest.fixture
def page(chromium: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            pg = context.new_page()
            pg.set_default_timeout(TIMEOUT_MS)
            yield pg
        finally:
            browser.close()


@pytest.fixture
def messages(page: object) -> list[str]:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    seen: list[str] = []
    page.on("console", lambda m: seen.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: seen.append(f"pageerror: {e}"))
    return seen


def _login(page: object, served: Served) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(f"{served.url}/console/login")
    page.fill("#email", "owner@example.com")
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{served.url}/console/")
    expect(page.locator("main")).to_be_visible()


def _csp_violations(seen: list[str]) -> list[str]:
    return [m for m in seen if "Content Security Policy" in m or "Refused to" in m]


def test_set_credentials_and_the_secret_is_nowhere_in_the_html(
    page: object, messages: list[str], served: Served
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    _login(page, served)
    page.goto(f"{served.url}/console/gateways")
    card = page.locator("section[data-account]").first
    card.locator("summary", has_text="Replace credentials").click()
    card.locator("input[name='credential.checksum_key']").fill(SECRET)
    card.get_by_role("button", name="Save credentials").click()
    expect(page.locator(".flash.ok")).to_have_text("Credentials saved.")
    assert SECRET not in page.content()
    for path in PAGES.values():
        page.goto(served.url + path)
        assert SECRET not in page.content(), path
    # The raw HTML too, as the server sent it (not only the DOM).
    raw = page.request.get(f"{served.url}/console/gateways").text()
    assert SECRET not in raw and "checksum_key" in raw
    assert _csp_violations(messages) == [], messages


def test_a_webhook_endpoint_secret_is_shown_once(
    page: object, messages: list[str], served: Served
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    _login(page, served)
    page.goto(f"{served.url}/console/developers")
    page.fill("#endpoint-url", "http://127.0.0.1:9/hooks/shop")
    page.get_by_label("order.paid").first.check()
    page.get_by_role("button", name="Create endpoint").click()
    secret = page.locator("#shown-once").inner_text()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]{40,}", secret), secret
    expect(page.get_by_role("alert")).to_contain_text("shown only once")
    page.get_by_role("link", name="Done").click()
    expect(page.locator("[data-endpoint]")).to_contain_text("http://127.0.0.1:9/hooks/shop")
    expect(page.locator("[data-endpoint]")).to_contain_text("order.paid")
    assert secret not in page.content() and "whsec_" not in page.content()
    page.reload()
    assert "whsec_" not in page.content()
    assert _csp_violations(messages) == [], messages


def test_restock_a_product(page: object, messages: list[str], served: Served) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    _login(page, served)
    page.goto(f"{served.url}/console/products")
    row = page.locator("tr[data-sku='tshirt']")
    expect(row.locator(".stock")).to_contain_text("5")
    row.get_by_placeholder("Quantity").fill("4")
    row.get_by_placeholder("Reason").fill("supplier delivery")
    row.get_by_role("button", name="Restock").click()
    expect(page.locator(".flash.ok")).to_have_text("Restocked: tshirt → 9")
    expect(page.locator("tr[data-sku='tshirt'] .stock")).to_contain_text("9")
    with served.th.hub.db.session() as s:
        assert s.scalar(select(Product.stock_available).where(Product.sku == "tshirt")) == 9
    page.goto(f"{served.url}/console/audit?action=restocked")
    expect(page.locator("[data-audit]")).to_have_count(1)
    expect(page.locator("[data-audit]")).to_contain_text("console:")
    assert _csp_violations(messages) == [], messages


def test_the_brand_colour_shows_on_the_hosted_checkout(page: object, served: Served) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    _login(page, served)
    page.goto(f"{served.url}/console/settings")
    page.fill("#s-color", "#e4007c")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash.ok")).to_have_text("Settings saved.")
    expect(page.locator("#s-color")).to_have_value("#e4007c")
    order_id = create_order(
        served.th.hub,
        served.th.merchant_id,
        OrderDraft(
            merchant_reference="e2e-brand",
            currency="VND",
            items=[ItemDraft("pack-100")],
            customer=CustomerDraft(external_id="lan-42"),
        ),
    )
    response = page.goto(hosted_checkout_url(served.th.hub, order_id))
    assert response is not None and response.status == 200
    expect(page.get_by_test_id("merchant")).to_have_text("Test Shop")
    brand = page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--brand').trim()"
    )
    assert brand == "#e4007c"
    header = page.locator("header.brand")
    assert header.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(228, 0, 124)"


def test_screenshots_of_every_page(page: object, messages: list[str], served: Served) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    _login(page, served)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    event_page = None
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        for name, path in PAGES.items():
            response = page.goto(served.url + path)
            assert response is not None and response.status == 200, path
            shot = SCREENSHOTS / f"{name}-{size}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 0
        page.goto(f"{served.url}/console/developers/events")
        link = page.locator("tbody a").first
        event_page = link.get_attribute("href")
        page.goto(served.url + str(event_page))
        page.screenshot(path=str(SCREENSHOTS / f"event-{size}.png"), full_page=True)
    assert event_page
    assert _csp_violations(messages) == [], messages

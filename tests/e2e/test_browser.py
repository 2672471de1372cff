"""The demo storefront in a real browser: Playwright drives Debian's Chromium through
/demo, payhub's hosted checkout, the PayOS sandbox page and the result page, with hub and
simulator as real uvicorn servers on loopback (as `payhub demo` runs them) and a temporary
SQLite database. The money invariants are checked in SQL after each scenario. The hub's
pages run under their Content Security Policy: the console must report no violation. The
API docs render with every request outside the hub refused."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from payhub.store.invariants import check_invariants
from payhub.store.models import CreditEntry, Order, Payment
from tests.support.browser import CHROMIUM_ARGS, chromium_path
from tests.support.hub import HubUnderTest, connect_gateway, make_hub, simulator_app
from tests.support.servers import free_port, serve_app

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

TIMEOUT_MS = 15_000


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@dataclass
class Demo:
    th: HubUnderTest
    hub_url: str
    sim_url: str


@pytest.fixture
def chromium() -> str:
    path = chromium_path()
    if path is None:
        if _in_ci():
            pytest.fail("Chromium is missing under CI=true; run `scripts/bootstrap.sh --chromium`")
        pytest.skip("Chromium is not installed (scripts/bootstrap.sh --chromium)")
    return path


@pytest.fixture
def demo(sqlite_url: str) -> Iterator[Demo]:
    hub_port, sim_port = free_port(), free_port()
    hub_url, sim_url = f"http://127.0.0.1:{hub_port}", f"http://127.0.0.1:{sim_port}"
    th = make_hub(sqlite_url, public_url=hub_url)
    account = connect_gateway(th, "payos", sim_url)
    sim = simulator_app("payos", sim_url, webhook_url=f"{hub_url}/callbacks/payos/{account}")
    th.app.state.demo_merchant_id = th.merchant_id
    with serve_app(th.app, hub_port), serve_app(sim, sim_port):
        yield Demo(th, hub_url, sim_url)
    th.hub.db.dispose()


@pytest.fixture
def page(chromium: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1000, "height": 800})
            pg = context.new_page()
            pg.set_default_timeout(TIMEOUT_MS)
            yield pg
        finally:
            browser.close()


@pytest.fixture
def console(page: object) -> list[str]:
    """Everything the page logs to its console and every uncaught error, as text."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    messages: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    return messages


def csp_violations(messages: list[str]) -> list[str]:
    return [m for m in messages if "Content Security Policy" in m or "Refused to" in m]


def _to_sandbox(page: object, demo: Demo) -> None:
    """From /demo to the PayOS sandbox page for a fresh 100-credit order."""
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(f"{demo.hub_url}/demo")
    expect(page.get_by_test_id("balance")).to_have_text("0")
    page.get_by_role("button", name="Buy 100 credits", exact=True).click()

    # payhub's hosted checkout
    page.wait_for_url(re.compile(re.escape(f"{demo.hub_url}/pay/") + r".+\?token="))
    expect(page.get_by_test_id("amount")).to_contain_text("20,000")
    page.get_by_role("button", name="Pay with PayOS").click()

    # payhub's pay step: the VietQR drawn by the hub, and PayOS's own page
    page.wait_for_url(re.compile(re.escape(f"{demo.hub_url}/pay/") + r".+/attempt/"))
    expect(page.get_by_test_id("qr").locator("svg")).to_be_visible()
    page.get_by_test_id("gateway-page").click()

    # the PayOS sandbox page, served by the simulator
    page.wait_for_url(re.compile(re.escape(f"{demo.sim_url}/web/")))
    expect(page.locator("body")).to_contain_text("sandbox", ignore_case=True)


def test_buy_credit_pack_in_browser(
    page: object, console: list[str], demo: Demo, tmp_path: Path
) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    _to_sandbox(page, demo)
    page.get_by_role("button", name="Pay in full").click()

    # Back on payhub's result page (with its token), which waits for the verified webhook.
    page.wait_for_url(re.compile(re.escape(f"{demo.hub_url}/pay/result/") + r".+\?token="))
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "succeeded")
    expect(page.locator("#balance")).to_have_text("100")
    expect(page.locator("#headline")).to_have_text("Payment received")
    expect(page.get_by_test_id("status")).to_have_attribute("data-order-status", "paid")
    shot = tmp_path / "result-paid.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0

    # The storefront shows the new balance too.
    page.goto(f"{demo.hub_url}/demo")
    expect(page.get_by_test_id("balance")).to_have_text("100")
    assert csp_violations(console) == [], console

    with demo.th.hub.db.session() as s:
        assert s.scalars(select(Order.status)).all() == ["paid"]
        assert s.scalars(select(Payment.status)).all() == ["succeeded"]
        assert s.scalar(select(func.count()).select_from(CreditEntry)) == 1
    assert check_invariants(demo.th.hub.db.engine) == {}


def test_cancel_on_sandbox_is_not_paid(page: object, demo: Demo, tmp_path: Path) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    _to_sandbox(page, demo)
    page.get_by_role("button", name="Cancel", exact=True).click()

    page.wait_for_url(re.compile(re.escape(f"{demo.hub_url}/pay/result/")))
    expect(page.locator("#headline")).not_to_have_text("Waiting for confirmation…")
    headline = page.locator("#headline").inner_text()
    status = page.get_by_test_id("status").get_attribute("data-status")
    page.screenshot(path=str(tmp_path / "result-cancelled.png"), full_page=True)
    assert headline in {"Payment cancelled", "Payment failed"}, headline
    assert status in {"cancelled", "failed"}, status
    body = page.locator("body").inner_text().lower()
    assert "payment received" not in body
    assert not re.search(r"\bpaid\b", body), body
    assert "succeeded" not in body

    with demo.th.hub.db.session() as s:
        assert s.scalars(select(Order.status)).one() != "paid"
        assert s.scalar(select(func.count()).select_from(CreditEntry)) == 0
    assert check_invariants(demo.th.hub.db.engine) == {}


def test_a_pending_result_page_polls_under_the_csp(
    page: object, console: list[str], demo: Demo
) -> None:
    """The result page opened before the webhook: without its token it shows nothing;
    with it, its poll (a static script, no inline code) turns it to paid once the
    sandbox's webhook is in."""
    import httpx
    from playwright.sync_api import Page, expect

    from payhub.services.hosted import result_path

    assert isinstance(page, Page)
    _to_sandbox(page, demo)
    with demo.th.hub.db.session() as s:
        payment_id, reference = s.execute(select(Payment.id, Payment.gateway_reference)).one()

    page.goto(f"{demo.hub_url}/pay/result/{payment_id}")
    expect(page.locator("h1")).to_have_text("Link invalid")
    assert "balance" not in page.content().lower()

    page.goto(f"{demo.hub_url}{result_path(demo.th.hub, payment_id)}")
    expect(page.locator("#headline")).to_have_text("Waiting for confirmation…")
    r = httpx.post(f"{demo.sim_url}/__sim/pay/{reference}", json={"outcome": "paid"}, timeout=10)
    assert r.status_code == 200, r.text
    expect(page.locator("#headline")).to_have_text("Payment received")
    expect(page.locator("#balance")).to_have_text("100")
    assert csp_violations(console) == [], console


def test_api_docs_render_offline_under_the_csp(
    page: object, console: list[str], demo: Demo
) -> None:
    from playwright.sync_api import Page, Route, expect

    assert isinstance(page, Page)
    refused: list[str] = []

    def only_the_hub(route: Route) -> None:
        if route.request.url.startswith(demo.hub_url + "/"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.context.route("**/*", only_the_hub)
    page.goto(f"{demo.hub_url}/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/v1/orders").first).to_be_visible()
    expect(page.locator(".info .title")).to_contain_text("payhub")
    assert page.locator(".opblock").count() >= 20
    assert refused == [], refused
    assert csp_violations(console) == [], console

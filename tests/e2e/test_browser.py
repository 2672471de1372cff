"""The demo storefront in a real browser: Playwright drives Debian's Chromium through
/demo, payhub's hosted checkout, the PayOS sandbox page and the result page, with hub and
simulator as real uvicorn servers on loopback (as `payhub demo` runs them) and a temporary
SQLite database. The money invariants are checked in SQL after each scenario."""

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

    # the PayOS sandbox page, served by the simulator
    page.wait_for_url(re.compile(re.escape(f"{demo.sim_url}/web/")))
    expect(page.locator("body")).to_contain_text("sandbox", ignore_case=True)


def test_buy_credit_pack_in_browser(page: object, demo: Demo, tmp_path: Path) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    _to_sandbox(page, demo)
    page.get_by_role("button", name="Pay in full").click()

    # Back on payhub's result page, which waits for the verified webhook.
    page.wait_for_url(re.compile(re.escape(f"{demo.hub_url}/pay/result/")))
    expect(page.get_by_test_id("status")).to_have_text("succeeded")
    expect(page.locator("#balance")).to_have_text("100")
    expect(page.locator("#headline")).to_have_text("Payment received")
    expect(page.locator("#order-status")).to_have_text("paid")
    shot = tmp_path / "result-paid.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0

    # The storefront shows the new balance too.
    page.goto(f"{demo.hub_url}/demo")
    expect(page.get_by_test_id("balance")).to_have_text("100")

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
    status = page.get_by_test_id("status").inner_text()
    page.screenshot(path=str(tmp_path / "result-cancelled.png"), full_page=True)
    assert headline == "Payment not completed", headline
    assert status in {"cancelled", "failed"}, status
    body = page.locator("body").inner_text().lower()
    assert "payment received" not in body
    assert not re.search(r"\bpaid\b", body), body
    assert "succeeded" not in body

    with demo.th.hub.db.session() as s:
        assert s.scalars(select(Order.status)).one() != "paid"
        assert s.scalar(select(func.count()).select_from(CreditEntry)) == 0
    assert check_invariants(demo.th.hub.db.engine) == {}

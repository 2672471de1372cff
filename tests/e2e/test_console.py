"""The operator console in a real browser: Playwright drives Debian's Chromium through
/console, with the hub and the PayOS and MoMo sandboxes as real uvicorn servers on
loopback and a temporary SQLite database. Payments are seeded the way a shop makes them:
through the merchant API and the sandboxes' own controls, confirmed by their signed
webhooks. Effects are checked in SQL; every page must load without a CSP violation.

Screenshots of each page at 1280×900 and 390×844 go to var/screenshots/console/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from payhub.services.console_users import create_user
from payhub.store.invariants import check_invariants
from payhub.store.models import CreditEntry, Order, Payment, Refund
from tests.support.browser import CHROMIUM_ARGS, chromium_path
from tests.support.hub import HubUnderTest, connect_gateway, make_hub, simulator_app
from tests.support.servers import free_port, serve_app

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

TIMEOUT_MS = 15_000
PASSWORD = "console password 1"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "console"
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


@dataclass
class Shop:
    th: HubUnderTest
    hub_url: str
    sims: dict[str, str]
    api: httpx.Client
    refs: int = 0
    users: dict[str, str] = field(default_factory=dict)

    def order(self, sku: str = "pack-100", **extra: Any) -> str:
        self.refs += 1
        body = {
            "merchant_reference": f"shop-{self.refs}",
            "currency": "VND",
            "items": [{"sku": sku}],
            "customer": {"external_id": f"cust-{self.refs}", "email": f"c{self.refs}@ex.vn"},
            **extra,
        }
        r = self.api.post("/v1/orders", json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def pay(self, order_id: str, gateway: str, *, fault: str | None = None) -> str:
        """Start an attempt and pay it in full at the sandbox; wait for its webhook."""
        r = self.api.post(f"/v1/orders/{order_id}/payments", json={"gateway": gateway})
        assert r.status_code in (200, 201), r.text
        payment = r.json()
        sim = httpx.Client(base_url=self.sims[gateway], timeout=10)
        if fault:
            assert sim.post("/__sim/faults", json={"fault": fault, "count": 1}).status_code == 200
        paid = sim.post(f"/__sim/pay/{payment['gateway_reference']}", json={"outcome": "paid"})
        assert paid.status_code == 200, paid.text
        sim.post("/__sim/flush")
        sim.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with self.th.hub.db.session() as s:
                status = s.scalar(select(Payment.status).where(Payment.id == payment["id"]))
            if status in ("succeeded", "review"):
                return str(payment["id"])
            time.sleep(0.05)
        raise AssertionError(f"payment {payment['id']} never settled")

    def sql(self, statement: Any) -> Any:
        with self.th.hub.db.session() as s:
            return s.execute(statement).all()


@pytest.fixture
def chromium() -> str:
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (scripts/bootstrap.sh --chromium)")
    return path


@pytest.fixture
def shop(sqlite_url: str) -> Iterator[Shop]:
    hub_port = free_port()
    hub_url = f"http://127.0.0.1:{hub_port}"
    th = make_hub(sqlite_url, public_url=hub_url)
    sims: dict[str, str] = {}
    apps = []
    for gateway in ("payos", "momo"):
        port = free_port()
        sims[gateway] = f"http://127.0.0.1:{port}"
        account = connect_gateway(th, gateway, sims[gateway])
        apps.append(
            (
                simulator_app(
                    gateway, sims[gateway], webhook_url=f"{hub_url}/callbacks/{gateway}/{account}"
                ),
                port,
            )
        )
    users = {}
    for role in ("owner", "operator", "viewer"):
        users[role] = f"{role}@shop.example"
        create_user(
            th.hub,
            email=users[role],
            password=PASSWORD,
            role=role,
            merchant_id=th.merchant_id,
            name=role.title(),
            actor="test",
        )
    with serve_app(th.app, hub_port), serve_app(*apps[0]), serve_app(*apps[1]):
        api = httpx.Client(base_url=hub_url, headers=th.headers, timeout=20)
        yield Shop(th=th, hub_url=hub_url, sims=sims, api=api, users=users)
        api.close()
    th.hub.db.dispose()


@pytest.fixture
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Session:
    page: Any
    messages: list[str]

    def csp_violations(self) -> list[str]:
        return [m for m in self.messages if "Content Security Policy" in m or "Refused to" in m]


def open_console(browser: Any, shop: Shop, role: str, size: str = "desktop") -> Session:
    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    messages: list[str] = []
    page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    page.on("dialog", lambda d: d.accept())
    page.goto(f"{shop.hub_url}/console/")
    page.wait_for_url(re.compile(r"/console/login"))
    page.get_by_label("E-mail").fill(shop.users[role])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{shop.hub_url}/console/")
    return Session(page, messages)


def shoot(page: Any, name: str, size: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{size}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0


def test_log_in_and_the_dashboard_shows_the_seeded_totals_and_a_chart(
    browser: Any, shop: Shop
) -> None:
    from playwright.sync_api import expect

    for gateway in ("payos", "payos", "momo"):
        shop.pay(shop.order(), gateway)
    shop.order()  # unpaid: not in the volume
    session = open_console(browser, shop, "owner")
    page = session.page
    tile = page.locator('.tile[data-currency="VND"]')
    expect(tile.locator(".volume")).to_have_text("₫\u00a060,000")
    expect(tile.locator(".count")).to_have_text("3")
    chart = page.locator("svg.chart").first
    expect(chart).to_be_visible()
    assert page.locator("svg.chart rect").count() >= 7  # a bar per day of the week
    expect(page.locator("#success-rate-t")).to_have_text("Success rate")
    page.get_by_role("link", name="Tiếng Việt").click()
    expect(tile.locator(".volume")).to_have_text("60.000\u00a0₫")
    expect(page.get_by_role("heading", name="Tổng quan")).to_be_visible()
    assert session.csp_violations() == [], session.messages


def test_search_finds_an_order_by_its_gateway_transaction_id(browser: Any, shop: Shop) -> None:
    from playwright.sync_api import expect

    wanted = shop.order()
    payment_id = shop.pay(wanted, "momo")
    shop.pay(shop.order(), "momo")
    [(txn,)] = shop.sql(select(Payment.gateway_txn_id).where(Payment.id == payment_id))
    assert txn
    page = open_console(browser, shop, "viewer").page
    page.get_by_role("link", name="Orders").first.click()
    expect(page.locator("tr[data-order]")).to_have_count(2)
    page.get_by_label("Search").fill(str(txn))
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tr[data-order]")).to_have_count(1)
    expect(page.locator(f'tr[data-order="{wanted}"]')).to_be_visible()
    page.locator(f'tr[data-order="{wanted}"] a').first.click()
    expect(page.locator("code.txn")).to_have_text(str(txn))


def test_accepting_a_review_pays_the_order_and_grants_credits_once(
    browser: Any, shop: Shop
) -> None:
    from playwright.sync_api import expect

    order_id = shop.order()
    payment_id = shop.pay(order_id, "payos", fault="wrong_amount")
    page = open_console(browser, shop, "operator").page
    page.get_by_role("link", name="Review queue").first.click()
    row = page.locator(f'tr[data-payment="{payment_id}"]')
    expect(row).to_contain_text("Amount differs")
    expect(row.locator(".expected")).to_have_text("₫\u00a020,000")
    expect(row.locator(".received")).to_have_text("₫\u00a021,000")
    row.get_by_role("link", name="Accept or reject").click()
    expect(page.locator("#accept-consequences")).to_contain_text("The order becomes paid")
    expect(page.locator("#accept-consequences")).to_contain_text("credits, once: 100")
    expect(page.locator("#reject-consequences")).to_contain_text("The money received goes back")
    page.get_by_label("Note (why)").fill("customer sent 1,000 too much; keep it")
    page.get_by_role("button", name="Accept payment").click()
    expect(page.locator(".flash.ok")).to_contain_text("Accepted")
    expect(page.locator(f'tr[data-payment="{payment_id}"]')).to_have_count(0)

    [(status,)] = shop.sql(select(Order.status).where(Order.id == order_id))
    assert status == "paid"
    [(grants,)] = shop.sql(
        select(func.count())
        .select_from(CreditEntry)
        .where(CreditEntry.order_id == order_id, CreditEntry.reason == "order_paid")
    )
    assert grants == 1
    assert check_invariants(shop.th.hub.db.engine) == {}


def test_a_partial_refund_from_the_order_page(browser: Any, shop: Shop) -> None:
    from playwright.sync_api import expect

    order_id = shop.order()
    payment_id = shop.pay(order_id, "momo")
    session = open_console(browser, shop, "operator")
    page = session.page
    page.goto(f"{shop.hub_url}/console/orders/{order_id}")
    form = page.locator("form.refund-form")
    form.get_by_label("Amount to refund").fill("5000")
    form.get_by_label("Reason").fill("one pack returned")
    form.get_by_role("button", name="Refund").click()
    expect(page.locator(".flash")).to_contain_text("₫\u00a05,000")
    expect(page.locator("table.refunds")).to_contain_text("one pack returned")
    expect(page.locator("#order-status")).to_have_text("partially_refunded")
    [(amount, state)] = shop.sql(
        select(Refund.amount_minor, Refund.status).where(Refund.payment_id == payment_id)
    )
    assert (amount, state) == (5_000, "succeeded")
    assert check_invariants(shop.th.hub.db.engine) == {}
    assert session.csp_violations() == [], session.messages


def test_a_viewer_cannot_refund(browser: Any, shop: Shop) -> None:
    from playwright.sync_api import expect

    order_id = shop.order()
    payment_id = shop.pay(order_id, "momo")
    page = open_console(browser, shop, "viewer").page
    page.goto(f"{shop.hub_url}/console/orders/{order_id}")
    expect(page.locator(f"#attempt-{payment_id}")).to_be_visible()
    expect(page.locator("form.refund-form")).to_have_count(0)
    expect(page.get_by_role("button", name="Refund")).to_have_count(0)
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    answer = page.request.post(
        f"{shop.hub_url}/console/payments/{payment_id}/refund",
        form={"csrf_token": token or "", "amount": "5000", "reason": "sneaky"},
        max_redirects=0,
    )
    assert answer.status == 403
    assert shop.sql(select(Refund.id).where(Refund.payment_id == payment_id)) == []


def test_a_form_without_its_csrf_token_is_refused(browser: Any, shop: Shop) -> None:
    from playwright.sync_api import expect

    order_id = shop.order()
    payment_id = shop.pay(order_id, "momo")
    page = open_console(browser, shop, "owner").page
    page.goto(f"{shop.hub_url}/console/orders/{order_id}")
    form = page.locator("form.refund-form")
    form.locator('input[name="csrf_token"]').evaluate("input => input.remove()")
    form.get_by_label("Amount to refund").fill("5000")
    form.get_by_label("Reason").fill("no token")
    form.get_by_role("button", name="Refund").click()
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    assert shop.sql(select(Refund.id).where(Refund.payment_id == payment_id)) == []


@pytest.mark.parametrize("size", list(SIZES))
def test_screenshots_of_every_console_page(browser: Any, shop: Shop, size: str) -> None:
    from playwright.sync_api import expect

    paid = shop.order()
    shop.pay(paid, "momo")
    shop.pay(shop.order(), "payos")
    review = shop.pay(shop.order(), "payos", fault="wrong_amount")
    shop.order()

    width, height = SIZES[size]
    context = browser.new_context(viewport={"width": width, "height": height})
    login = context.new_page()
    login.goto(f"{shop.hub_url}/console/login")
    shoot(login, "login", size)
    context.close()

    session = open_console(browser, shop, "owner", size)
    page = session.page
    shoot(page, "dashboard", size)
    page.goto(f"{shop.hub_url}/console/orders")
    expect(page.locator("tr[data-order]")).to_have_count(4)
    shoot(page, "orders", size)
    page.goto(f"{shop.hub_url}/console/orders/{paid}")
    shoot(page, "order", size)
    page.goto(f"{shop.hub_url}/console/review")
    shoot(page, "review", size)
    page.goto(f"{shop.hub_url}/console/review/{review}")
    shoot(page, "review-confirm", size)
    if size == "phone":
        page.get_by_role("button", name="Menu").click()
        expect(page.locator("#nav")).to_be_visible()
        shoot(page, "navigation", size)
    assert session.csp_violations() == [], session.messages

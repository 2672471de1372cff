"""The hosted checkout, its pay step and the result page in a real browser (Debian's
Chromium through Playwright), with the hub and the PayOS and MoMo sandboxes as real uvicorn
servers on loopback and a temporary SQLite database.

Each page is shot at 390×844 (a phone) and 1280×900 (a desktop) in Vietnamese, English and
Malay, the language negotiated from the browser's Accept-Language; the screenshots are kept
under `var/screenshots/checkout/`. The QR codes the pages draw are decoded from the rendered
pixels (zxing-cpp) and must give back the gateway's QR content. A failed MoMo payment is
tried again through the checkout and ends with the order paid once, checked in SQL.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from payhub.services.merchants import update_merchant_profile
from payhub.store.invariants import check_invariants
from payhub.store.models import CreditEntry, Order, Payment
from tests.e2e.test_browser import chromium, csp_violations  # noqa: F401 - the fixture
from tests.support.browser import CHROMIUM_ARGS
from tests.support.hub import HubUnderTest, connect_gateway, make_hub, simulator_app
from tests.support.servers import free_port, serve_app

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

TIMEOUT_MS = 15_000
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "checkout"
VIEWPORTS = {"phone": (390, 844), "desktop": (1280, 900)}
BROWSER_LOCALES = {"vi": "vi-VN", "en": "en-US", "ms": "ms-MY"}
# 20,000 VND as Babel writes it in each language
AMOUNTS = {"vi": "20.000\xa0₫", "en": "₫20,000", "ms": "₫20,000"}
HEADLINE_PAID = {"vi": "Đã nhận thanh toán", "en": "Payment received", "ms": "Pembayaran diterima"}
HEADLINE_FAILED = "Payment failed"
PAY_WITH = {"vi": "Thanh toán bằng {}", "en": "Pay with {}", "ms": "Bayar dengan {}"}
RETURN_URL = "https://shop.example/thanks"


@dataclass
class Shop:
    th: HubUnderTest
    hub_url: str
    sims: dict[str, str]


@pytest.fixture
def shop(sqlite_url: str) -> Iterator[Shop]:
    hub_port, payos_port, momo_port = free_port(), free_port(), free_port()
    hub_url = f"http://127.0.0.1:{hub_port}"
    sims = {"payos": f"http://127.0.0.1:{payos_port}", "momo": f"http://127.0.0.1:{momo_port}"}
    th = make_hub(sqlite_url, public_url=hub_url)
    update_merchant_profile(
        th.hub,
        th.merchant_id,
        name="Cà phê Sáng",
        logo_url="/static/swagger/favicon-32x32.png",
        brand_color="#ffd43b",  # light: the pages must put dark text on it
        actor="test",
    )
    payos = connect_gateway(th, "payos", sims["payos"])
    connect_gateway(th, "momo", sims["momo"])
    payos_sim = simulator_app(
        "payos", sims["payos"], webhook_url=f"{hub_url}/callbacks/payos/{payos}"
    )
    momo_sim = simulator_app("momo", sims["momo"])
    with (
        serve_app(th.app, hub_port),
        serve_app(payos_sim, payos_port),
        serve_app(momo_sim, momo_port),
    ):
        yield Shop(th, hub_url, sims)
    th.hub.db.dispose()


@pytest.fixture
def browser(chromium: str) -> Iterator[Any]:  # noqa: F811 - the fixture imported above
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _page(browser: Any, viewport: str, lang: str, console: list[str]) -> Any:
    width, height = VIEWPORTS[viewport]
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale=BROWSER_LOCALES[lang]
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    return page


def _order(shop: Shop, ref: str, return_url: str | None = None) -> dict[str, Any]:
    """A 20,000 VND order for 100 credits. With a `return_url` the gateway's browser return
    goes back to the shop; without one it lands on payhub's result page."""
    body: dict[str, Any] = {
        "merchant_reference": ref,
        "currency": "VND",
        "items": [{"sku": "pack-100"}],
        "customer": {"external_id": f"cust-{ref}"},
    }
    if return_url:
        body["return_url"] = return_url
    r = httpx.post(f"{shop.hub_url}/v1/orders", json=body, headers=shop.th.headers, timeout=10)
    assert r.status_code == 201, r.text
    order: dict[str, Any] = r.json()
    return order


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0


def _decode_qr(element: Any) -> str:
    """The text of the QR code as the browser drew it (decoded from the element's pixels)."""
    import zxingcpp
    from PIL import Image

    image = Image.open(io.BytesIO(element.screenshot()))
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, found
    return str(found[0].text)


def _payments(shop: Shop, order_id: str) -> list[tuple[str, str, str | None]]:
    with shop.th.hub.db.session() as s:
        rows = s.execute(
            select(Payment.gateway, Payment.status, Payment.qr_content)
            .where(Payment.order_id == order_id)
            .order_by(Payment.serial)
        ).all()
    return [(g, st, qr) for g, st, qr in rows]


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("lang", list(BROWSER_LOCALES))
def test_checkout_pay_step_and_result_in_each_language(
    browser: Any, shop: Shop, lang: str, viewport: str
) -> None:
    from playwright.sync_api import expect

    console: list[str] = []
    page = _page(browser, viewport, lang, console)
    order = _order(shop, f"pages-{lang}-{viewport}")
    page.goto(order["hosted_checkout_url"])

    # The checkout: in the browser's language, branded, amounts as that language writes them.
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.get_by_test_id("merchant")).to_have_text("Cà phê Sáng")
    expect(page.get_by_test_id("test-mode")).to_be_visible()
    expect(page.get_by_test_id("amount")).to_have_text(AMOUNTS[lang])
    expect(page.locator("table.items")).to_contain_text("100 credits")
    expect(page.locator("#countdown")).to_have_text(re.compile(r"^\d+:\d\d$"))
    expect(page.locator(".langs a[aria-current]")).to_have_attribute("hreflang", lang)
    pay_payos = page.get_by_role("button", name=PAY_WITH[lang].format("PayOS"))
    expect(pay_payos).to_contain_text({"vi": "VietQR", "en": "VietQR", "ms": "VietQR"}[lang])
    # Dark text on the light brand colour (computed by the hub, not left to chance).
    assert pay_payos.evaluate("b => getComputedStyle(b).color") == "rgb(0, 0, 0)"
    _shot(page, f"checkout-{lang}-{viewport}")

    # The pay step: the hub's own QR of PayOS's VietQR string.
    pay_payos.click()
    page.wait_for_url(re.compile(r"/attempt/"))
    qr = page.get_by_test_id("qr").locator("svg")
    expect(qr).to_be_visible()
    [(_, _, qr_content)] = _payments(shop, order["id"])
    assert qr_content and qr_content.startswith("000201")
    assert _decode_qr(qr) == qr_content
    _shot(page, f"pay-step-payos-{lang}-{viewport}")

    # PayOS's sandbox page shows the same VietQR.
    page.get_by_test_id("gateway-page").click()
    page.wait_for_url(re.compile(re.escape(shop.sims["payos"])))
    sandbox_qr = page.get_by_test_id("vietqr").locator("svg")
    expect(sandbox_qr).to_be_visible()
    assert _decode_qr(sandbox_qr) == qr_content
    if viewport == "desktop" and lang == "en":
        _shot(page, "payos-sandbox-vietqr")
    page.get_by_role("button", name="Pay in full").click()

    # The result page: paid, in the same language, polling stopped, balance shown (token).
    page.wait_for_url(re.compile(r"/pay/result/.+\?token="))
    expect(page.locator("#headline")).to_have_text(HEADLINE_PAID[lang])
    expect(page.get_by_test_id("status")).to_have_attribute("data-status", "succeeded")
    expect(page.locator("#result")).to_have_attribute("data-final", "true")
    expect(page.locator("#balance")).to_have_text("100")
    expect(page.get_by_test_id("back-to-shop")).to_have_count(0)  # the order has no shop URL
    expect(page.get_by_test_id("try-again")).to_have_count(0)
    assert page.locator("script[src='/static/result.js']").count() == 0  # no more polling
    _shot(page, f"result-paid-{lang}-{viewport}")
    assert csp_violations(console) == [], console


def test_momo_qr_on_desktop_deeplink_on_phones(browser: Any, shop: Shop) -> None:
    from playwright.sync_api import expect

    order = _order(shop, "momo-devices")
    console: list[str] = []
    desktop = _page(browser, "desktop", "vi", console)
    desktop.goto(order["hosted_checkout_url"])
    desktop.get_by_role("button", name="Thanh toán bằng MoMo").click()
    desktop.wait_for_url(re.compile(r"/attempt/"))
    [(_, _, qr_content)] = _payments(shop, order["id"])
    assert qr_content
    qr = desktop.get_by_test_id("qr").locator("svg")
    expect(qr).to_be_visible()
    assert _decode_qr(qr) == qr_content
    expect(desktop.get_by_test_id("deeplink")).to_be_hidden()
    _shot(desktop, "pay-step-momo-vi-desktop")

    phone = _page(browser, "phone", "vi", console)
    phone.goto(desktop.url)  # the same attempt, seen on a phone
    deeplink = phone.get_by_test_id("deeplink")
    expect(deeplink).to_be_visible()
    assert (deeplink.get_attribute("href") or "").startswith("momo://")
    expect(phone.get_by_test_id("qr")).to_be_hidden()
    _shot(phone, "pay-step-momo-vi-phone")
    assert csp_violations(console) == [], console


def test_try_again_after_a_failed_momo_payment_pays_the_order_once(
    browser: Any, shop: Shop
) -> None:
    from playwright.sync_api import expect

    console: list[str] = []
    page = _page(browser, "desktop", "en", console)
    order = _order(shop, "momo-retry")
    page.goto(order["hosted_checkout_url"])

    page.get_by_role("button", name="Pay with MoMo").click()
    page.wait_for_url(re.compile(r"/attempt/"))
    page.get_by_test_id("gateway-page").click()
    page.wait_for_url(re.compile(re.escape(shop.sims["momo"])))
    page.get_by_role("button", name="Insufficient balance (1001)").click()

    page.wait_for_url(re.compile(r"/pay/result/.+\?token="))
    expect(page.locator("#headline")).to_have_text(HEADLINE_FAILED)
    expect(page.locator("#result")).to_have_attribute("data-final", "true")
    try_again = page.get_by_test_id("try-again")
    expect(try_again).to_be_visible()
    _shot(page, "result-failed-en-desktop")
    try_again.click()

    # Back through the checkout: a new attempt.
    page.wait_for_url(re.compile(re.escape(f"{shop.hub_url}/pay/{order['id']}?token=")))
    page.get_by_role("button", name="Pay with MoMo").click()
    page.wait_for_url(re.compile(r"/attempt/"))
    page.get_by_test_id("gateway-page").click()
    page.wait_for_url(re.compile(re.escape(shop.sims["momo"])))
    page.get_by_role("button", name="Pay", exact=True).click()

    page.wait_for_url(re.compile(r"/pay/result/.+\?token="))
    expect(page.locator("#headline")).to_have_text("Payment received")
    expect(page.locator("#balance")).to_have_text("100")
    assert csp_violations(console) == [], console

    assert [(g, s) for g, s, _ in _payments(shop, order["id"])] == [
        ("momo", "failed"),
        ("momo", "succeeded"),
    ]
    with shop.th.hub.db.session() as s:
        assert s.scalar(select(Order.status).where(Order.id == order["id"])) == "paid"
        assert s.scalar(select(func.count()).select_from(CreditEntry)) == 1
    assert check_invariants(shop.th.hub.db.engine) == {}


def test_the_result_page_shows_no_balance_without_its_token(browser: Any, shop: Shop) -> None:
    from playwright.sync_api import expect

    from payhub.services.hosted import result_path

    console: list[str] = []
    page = _page(browser, "phone", "en", console)
    order = _order(shop, "no-token", return_url=RETURN_URL)
    r = httpx.post(
        f"{shop.hub_url}/v1/orders/{order['id']}/payments",
        json={"gateway": "payos"},
        headers=shop.th.headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    payment_id = r.json()["id"]
    for url in (
        f"{shop.hub_url}/pay/result/{payment_id}",
        f"{shop.hub_url}/pay/result/{payment_id}?token={'0' * 32}",
        f"{shop.hub_url}/pay/status/{payment_id}",
    ):
        response = page.goto(url)
        assert response is not None and response.status == 403, url
        assert "balance" not in page.content().lower()
    page.goto(f"{shop.hub_url}{result_path(shop.th.hub, payment_id)}")
    expect(page.locator("#headline")).to_have_text("Waiting for confirmation…")
    expect(page.locator("#balance")).to_have_text("0")
    expect(page.get_by_test_id("back-to-shop")).to_have_attribute("href", RETURN_URL)
    _shot(page, "result-pending-en-phone")

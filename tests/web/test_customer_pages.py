"""The customer pages in-process over ASGI on SQLite: the language each one picks (query,
order, merchant, Accept-Language), the brand stylesheet, the merchant logo's CSP, the pay
step's links checked against its order, and hostile parameters never making a 5xx."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payhub.services.hosted import checkout_token, result_token
from payhub.services.merchants import update_merchant_profile
from tests.support.hub import HubUnderTest, connect_gateway, make_hub

pytestmark = pytest.mark.anyio

ORDER = {"currency": "VND", "items": [{"sku": "pack-100"}], "customer": {"external_id": "bob"}}


@pytest.fixture
async def client(sqlite_url: str) -> AsyncIterator[tuple[HubUnderTest, httpx.AsyncClient]]:
    th = make_hub(sqlite_url)
    connect_gateway(th, "vnpay", "http://127.0.0.1:18102")
    transport = httpx.ASGITransport(app=th.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://hub", headers=th.headers
    ) as c:
        yield th, c
    th.hub.db.dispose()


async def _order(c: httpx.AsyncClient, ref: str, **extra: object) -> str:
    r = await c.post("/v1/orders", json={**ORDER, "merchant_reference": ref, **extra})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _lang(html: str) -> str:
    found = re.search(r'<html lang="([a-z]+)"', html)
    assert found, html[:200]
    return found.group(1)


async def test_the_checkout_picks_its_language_in_order(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    th, c = client
    plain = await _order(c, "lang-1")
    with_locale = await _order(c, "lang-2", locale="ms")

    async def page(order_id: str, lang: str | None = None, accept: str = "") -> str:
        params = {"token": checkout_token(th.hub, order_id), **({"lang": lang} if lang else {})}
        r = await c.get(f"/pay/{order_id}", params=params, headers={"accept-language": accept})
        assert r.status_code == 200, r.text
        return r.text

    assert _lang(await page(plain)) == "en"
    assert _lang(await page(plain, accept="vi-VN,vi;q=0.9")) == "vi"
    vi = await page(plain, lang="vi", accept="en")
    assert _lang(vi) == "vi" and "20.000\xa0₫" in vi and "Thanh toán bằng VNPay" in vi
    assert _lang(await page(with_locale, accept="vi")) == "ms"
    update_merchant_profile(th.hub, th.merchant_id, default_locale="vi", actor="test")
    assert _lang(await page(plain, accept="ms")) == "vi"  # the merchant's before the browser
    assert _lang(await page(with_locale)) == "ms"  # the order's before the merchant's
    assert 'hreflang="ms"' in vi and 'aria-current="true"' in vi
    assert "Test mode" not in vi and "Chế độ thử" in vi  # a test order, in Vietnamese


async def test_the_brand_stylesheet_and_an_off_hub_logo(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    th, c = client
    update_merchant_profile(
        th.hub,
        th.merchant_id,
        brand_color="#FFD43B",
        logo_url="https://cdn.shop.example/logo.png",
        actor="test",
    )
    order_id = await _order(c, "brand-1")
    r = await c.get(f"/pay/{order_id}", params={"token": checkout_token(th.hub, order_id)})
    assert r.status_code == 200
    assert 'href="/theme/ffd43b.css"' in r.text
    assert 'src="https://cdn.shop.example/logo.png"' in r.text
    csp = r.headers["content-security-policy"]
    assert "img-src 'self' data: https://cdn.shop.example;" in csp
    assert "script-src 'self';" in csp and "'unsafe-inline'" not in csp
    css = await c.get("/theme/ffd43b.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert css.text == ":root{--brand:#ffd43b;--brand-text:#000000}\n"
    for bad in ("zzzzzz", "fff", "ffd43b00", "..%2f"):
        assert (await c.get(f"/theme/{bad}.css")).status_code == 404, bad


async def test_the_pay_step_belongs_to_its_order(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    th, c = client
    first, second = await _order(c, "step-1"), await _order(c, "step-2")
    r = await c.post(f"/v1/orders/{first}/payments", json={"gateway": "vnpay"})
    payment_id = r.json()["id"]
    token2 = checkout_token(th.hub, second)
    other = await c.get(f"/pay/{second}/attempt/{payment_id}", params={"token": token2})
    assert other.status_code == 404
    forged = await c.get(f"/pay/{first}/attempt/{payment_id}", params={"token": token2})
    assert forged.status_code == 403
    own = await c.get(
        f"/pay/{first}/attempt/{payment_id}", params={"token": checkout_token(th.hub, first)}
    )
    assert own.status_code == 200 and "Open VNPay&#39;s payment page" in own.text


async def test_a_pending_result_page_polls_and_links_back_to_the_shop(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    th, c = client
    order_id = await _order(c, "retry-1", return_url="https://shop.example/back")
    r = await c.post(f"/v1/orders/{order_id}/payments", json={"gateway": "vnpay"})
    payment_id = r.json()["id"]
    token = result_token(th.hub, payment_id)
    pending = await c.get(f"/pay/result/{payment_id}", params={"token": token})
    assert 'data-final="false"' in pending.text and "/static/result.js" in pending.text
    assert '<meta http-equiv="refresh"' in pending.text  # the no-JS fallback, while pending
    assert 'data-testid="try-again"' not in pending.text
    assert 'href="https://shop.example/back"' in pending.text


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lang=st.text(max_size=40),
    token=st.text(max_size=80),
    accept=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200),
)
async def test_hostile_page_parameters_never_make_a_5xx(
    client: tuple[HubUnderTest, httpx.AsyncClient], lang: str, token: str, accept: str
) -> None:
    _, c = client
    headers = {"accept-language": accept}
    for path in ("/pay/ord_nothing", "/pay/ord_x/attempt/pay_y", "/pay/result/pay_y"):
        r = await c.get(path, params={"lang": lang, "token": token}, headers=headers)
        assert r.status_code < 500, (path, r.text)
    r = await c.post(
        "/pay/ord_x", data={"gateway": "vnpay", "token": token, "lang": lang}, headers=headers
    )
    assert r.status_code < 500, r.text


async def test_the_language_chosen_on_the_checkout_follows_to_the_result_page(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    th, c = client
    order_id = await _order(c, "lang-follow")
    r = await c.post(
        f"/pay/{order_id}",
        data={"gateway": "vnpay", "token": checkout_token(th.hub, order_id), "lang": "ms"},
    )
    assert r.status_code == 303, r.text
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("payhub_lang=ms;") and "HttpOnly" in cookie and "Path=/pay/" in cookie
    payment_id = (await c.get(f"/v1/orders/{order_id}")).json()["payments"][0]["id"]
    result = await c.get(
        f"/pay/result/{payment_id}",
        params={"token": result_token(th.hub, payment_id)},
        headers={"accept-language": "vi", "cookie": "payhub_lang=ms"},
    )
    assert _lang(result.text) == "ms" and "Menunggu pengesahan" in result.text
    ignored = await c.get(
        f"/pay/result/{payment_id}",
        params={"token": result_token(th.hub, payment_id)},
        headers={"accept-language": "vi", "cookie": "payhub_lang=<x>"},
    )
    assert _lang(ignored.text) == "vi"

"""The customer's context on start-payment: `customer_ip` (parsed as an IP address),
`locale` (vi | en | ms) and `user_agent` (bounded) reach the gateway that takes them. VNPay's
pay URL is built by the adapter without a call, so its `vnp_IpAddr` and `vnp_Locale` show
what the hub sent. The hosted checkout passes the browser's address (through a trusted
proxy's X-Forwarded-For), the page's language and the browser's User-Agent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from payhub.services.hosted import checkout_token
from tests.support.hub import HubUnderTest, connect_gateway, make_hub

pytestmark = pytest.mark.anyio

ORDER = {"currency": "VND", "items": [{"sku": "tshirt"}]}


@pytest.fixture
async def client(sqlite_url: str) -> AsyncIterator[tuple[HubUnderTest, httpx.AsyncClient]]:
    th = make_hub(sqlite_url, trusted_proxies="127.0.0.1")
    connect_gateway(th, "vnpay", "http://127.0.0.1:18102")  # never called on create
    transport = httpx.ASGITransport(app=th.app, client=("127.0.0.1", 4321))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://hub", headers=th.headers
    ) as c:
        yield th, c
    th.hub.db.dispose()


async def _order(c: httpx.AsyncClient, ref: str, **extra: Any) -> str:
    r = await c.post("/v1/orders", json={**ORDER, "merchant_reference": ref, **extra})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _vnp(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize(
    ("given", "ip", "locale"),
    [
        ({"customer_ip": "2001:DB8::1", "locale": "en"}, "2001:db8::1", "en"),
        ({"customer_ip": " 203.0.113.5 ", "locale": "vi"}, "203.0.113.5", "vn"),
        (
            {"customer_ip": "198.51.100.7", "locale": "ms", "user_agent": "UA/1"},
            "198.51.100.7",
            "en",
        ),
    ],
)
async def test_start_payment_sends_the_customer_context_to_vnpay(
    client: tuple[HubUnderTest, httpx.AsyncClient], given: dict[str, str], ip: str, locale: str
) -> None:
    _, c = client
    order_id = await _order(c, f"ctx-{ip}")
    r = await c.post(f"/v1/orders/{order_id}/payments", json={"gateway": "vnpay", **given})
    assert r.status_code == 200, r.text
    sent = _vnp(r.json()["checkout_url"])
    assert (sent["vnp_IpAddr"], sent["vnp_Locale"]) == (ip, locale)


async def test_without_context_the_order_locale_and_the_callers_address_are_used(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    _, c = client
    order_id = await _order(c, "ctx-default", locale="en")
    r = await c.post(
        f"/v1/orders/{order_id}/payments",
        json={"gateway": "vnpay"},
        headers={"x-forwarded-for": "192.0.2.44"},
    )
    assert r.status_code == 200, r.text
    sent = _vnp(r.json()["checkout_url"])
    assert (sent["vnp_IpAddr"], sent["vnp_Locale"]) == ("192.0.2.44", "en")


@pytest.mark.parametrize(
    "bad",
    [
        {"customer_ip": "not-an-ip"},
        {"customer_ip": "999.1.1.1"},
        {"customer_ip": "1" * 46},
        {"locale": "fr"},
        {"user_agent": "x" * 513},
    ],
)
async def test_bad_customer_context_is_a_422(
    client: tuple[HubUnderTest, httpx.AsyncClient], bad: dict[str, str]
) -> None:
    _, c = client
    order_id = await _order(c, f"ctx-bad-{len(str(bad))}-{next(iter(bad))}")
    r = await c.post(f"/v1/orders/{order_id}/payments", json={"gateway": "vnpay", **bad})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_the_hosted_checkout_passes_the_browsers_address_and_language(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    th, c = client
    order_id = await _order(c, "ctx-hosted")
    r = await c.post(
        f"/pay/{order_id}",
        data={"gateway": "vnpay", "token": checkout_token(th.hub, order_id), "lang": "en"},
        headers={"x-forwarded-for": "203.0.113.99", "user-agent": "Mozilla/5.0 (iPhone)"},
    )
    assert r.status_code == 303, r.text
    sent = _vnp(r.headers["location"])  # VNPay gives no QR: straight to its page
    assert (sent["vnp_IpAddr"], sent["vnp_Locale"]) == ("203.0.113.99", "en")

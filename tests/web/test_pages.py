"""The hosted pages' hardening, in-process over ASGI on SQLite: security headers on every
page, capability tokens on the result and status pages (a payment id alone shows nothing,
least of all the credit balance), and `return_url` restricted to absolute http(s) URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payhub.services.hosted import checkout_token, result_token
from payhub.web.headers import PAGE_CSP
from tests.support.hub import HubUnderTest, make_hub

pytestmark = pytest.mark.anyio

ORDER = {
    "merchant_reference": "pages-1",
    "currency": "VND",
    "items": [{"sku": "pack-100"}],
    "customer": {"external_id": "bob"},
}


@pytest.fixture
async def client(sqlite_url: str) -> AsyncIterator[tuple[HubUnderTest, httpx.AsyncClient]]:
    th = make_hub(sqlite_url)
    th.app.state.demo_merchant_id = th.merchant_id
    transport = httpx.ASGITransport(app=th.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://hub", headers=th.headers
    ) as c:
        yield th, c
    th.hub.db.dispose()


async def paid_payment(c: httpx.AsyncClient, ref: str = "pages-1") -> tuple[str, str]:
    order = (await c.post("/v1/orders", json={**ORDER, "merchant_reference": ref})).json()
    r = await c.post(
        f"/v1/orders/{order['id']}/manual-payments", json={"amount": 20_000, "reference": ref}
    )
    assert r.status_code == 201, r.text
    detail = (await c.get(f"/v1/orders/{order['id']}")).json()
    return order["id"], detail["payments"][0]["id"]


def assert_page_headers(r: httpx.Response) -> None:
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert csp == PAGE_CSP
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


async def test_every_page_has_the_security_headers(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    th, c = client
    order_id, payment_id = await paid_payment(c)
    open_order = (await c.post("/v1/orders", json={**ORDER, "merchant_reference": "p-2"})).json()
    checkout = await c.get(
        f"/pay/{open_order['id']}", params={"token": checkout_token(th.hub, open_order["id"])}
    )
    assert checkout.status_code == 200
    result = await c.get(
        f"/pay/result/{payment_id}", params={"token": result_token(th.hub, payment_id)}
    )
    assert result.status_code == 200
    refused = await c.get(f"/pay/{order_id}", params={"token": "0" * 32})
    assert refused.status_code == 403
    demo = await c.get("/demo")
    assert demo.status_code == 200
    docs = await c.get("/docs")
    assert docs.status_code == 200
    for page in (checkout, result, refused, demo):
        assert_page_headers(page)
        assert "<script>" not in page.text and "<style>" not in page.text
        assert "style=" not in page.text
    assert docs.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    # Pages whose URL carries a capability token are never cached.
    for page in (checkout, result, refused):
        assert page.headers["cache-control"] == "no-store"


async def test_every_response_is_nosniff(client: tuple[HubUnderTest, httpx.AsyncClient]) -> None:
    _, c = client
    for path in ("/v1/orders", "/healthz", "/static/result.js", "/static/payhub.css"):
        r = await c.get(path)
        assert r.status_code == 200, path
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert "content-security-policy" not in r.headers, path
    problem = await c.get("/v1/orders/ord_missing")
    assert problem.status_code == 404
    assert problem.headers["x-content-type-options"] == "nosniff"
    script = await c.get("/static/result.js")
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))


async def test_status_and_result_need_the_payment_token(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    th, c = client
    _, payment_id = await paid_payment(c)
    _, other_payment = await paid_payment(c, "pages-other")
    token = result_token(th.hub, payment_id)
    wrong = (
        "",
        "0" * 32,
        result_token(th.hub, other_payment),  # another payment's token
        checkout_token(th.hub, payment_id),  # a checkout token is not a result token
        token[:-1],
        token + "0",
        "é" * 32,
    )
    for bad in wrong:
        for path in (f"/pay/status/{payment_id}", f"/pay/result/{payment_id}"):
            r = await c.get(path, params={"token": bad} if bad else None)
            assert r.status_code == 403, (path, bad)
            assert "balance" not in r.text and "100" not in r.text
            assert r.headers["cache-control"] == "no-store"

    status = await c.get(f"/pay/status/{payment_id}", params={"token": token})
    assert status.status_code == 200 and status.json()["credit_balance"] == 200
    assert status.headers["cache-control"] == "no-store"
    result = await c.get(f"/pay/result/{payment_id}", params={"token": token})
    assert result.status_code == 200 and "Payment received" in result.text
    assert 'id="balance">200<' in result.text
    # The page polls with its own token; nothing else in it grants anything.
    assert f'data-status-url="/pay/status/{payment_id}?token={token}"' in result.text

    # A token never reveals whether some other id exists: unknown ids are 403 too.
    assert (await c.get("/pay/status/pay_missing", params={"token": token})).status_code == 403
    unknown_token = result_token(th.hub, "pay_missing")
    missing = await c.get("/pay/status/pay_missing", params={"token": unknown_token})
    assert missing.status_code == 404


async def test_tokens_under_a_previous_key_still_open_the_page(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    from payhub.services.vault import MasterKey, generate_master_key

    th, c = client
    _, payment_id = await paid_payment(c)
    old_token = result_token(th.hub, payment_id)
    old = th.hub.master_key
    assert old is not None
    th.hub.master_key, th.hub.previous_keys = MasterKey(generate_master_key()), [old]
    assert result_token(th.hub, payment_id) != old_token
    r = await c.get(f"/pay/status/{payment_id}", params={"token": old_token})
    assert r.status_code == 200
    th.hub.previous_keys = []  # the old key dropped: its links with it
    r = await c.get(f"/pay/status/{payment_id}", params={"token": old_token})
    assert r.status_code == 403


async def test_a_browser_return_with_a_wrong_token_is_refused(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    th, c = client
    _, payment_id = await paid_payment(c)
    r = await c.get(f"/return/payos/{payment_id}/{'0' * 32}?code=00&status=PAID")
    assert r.status_code == 403
    assert r.headers["cache-control"] == "no-store"
    token = result_token(th.hub, "pay_missing")
    r = await c.get(f"/return/payos/pay_missing/{token}")
    assert r.status_code == 404


REFUSED_RETURN_URLS = [
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/steal",
    "///evil.example",
    "/relative/path",
    "relative",
    "evil.example/x",
    "https://",
    "https:///nohost",
    "https:evil.example",
    "ftp://shop.example/x",
    "file:///etc/passwd",
    "https://shop.example\\@evil.example",
    "https:\\\\evil.example",
    "https://shop.example/\nSet-Cookie:x",
    "https://shop.example/a b",
    "https://[::1",
    "",
]
ACCEPTED_RETURN_URLS = [
    "https://shop.example/done",
    "https://shop.example:8443/done?order=1#top",
    "http://127.0.0.1:3000/back",
    "HTTPS://SHOP.EXAMPLE/done",
]


async def test_return_url_must_be_an_absolute_http_url(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    _, c = client
    for i, url in enumerate(REFUSED_RETURN_URLS):
        body = {**ORDER, "merchant_reference": f"ru-bad-{i}", "return_url": url}
        r = await c.post("/v1/orders", json=body)
        assert r.status_code == 422, (url, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    for i, url in enumerate(ACCEPTED_RETURN_URLS):
        body = {**ORDER, "merchant_reference": f"ru-ok-{i}", "return_url": url}
        r = await c.post("/v1/orders", json=body)
        assert r.status_code == 201, (url, r.text)
        assert r.json()["return_url"] == url


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(url=st.one_of(st.text(max_size=60), st.from_regex(r"\A[a-zA-Z]{0,6}:[/\\]{0,3}.{0,20}\Z")))
async def test_hostile_return_urls_never_make_a_5xx(
    client: tuple[HubUnderTest, httpx.AsyncClient], url: str
) -> None:
    _, c = client
    body = {**ORDER, "merchant_reference": "ru-fuzz", "return_url": url}
    r = await c.post("/v1/orders", json=body)
    assert r.status_code in (201, 400, 409, 422), r.text  # 400: a NUL in the body
    if r.status_code == 201:
        assert url.lower().startswith(("http://", "https://"))

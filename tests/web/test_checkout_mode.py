"""The hosted checkout shows an order's mode: a test order has a visible "Test mode"
banner and offers only the merchant's simulator/sandbox accounts; a live order has no
banner and offers only production accounts. In-process over ASGI on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from payhub.gateways.base import Environment
from payhub.gateways.registry import entry
from payhub.services import api_keys
from payhub.services.accounts import configure_account
from payhub.services.hosted import checkout_token
from tests.support.hub import HubUnderTest, connect_gateway, make_hub

pytestmark = pytest.mark.anyio

ORDER = {"currency": "VND", "items": [{"sku": "pack-100"}], "customer": {"external_id": "bob"}}


def production_account(th: HubUnderTest, gateway: str) -> None:
    gw = entry(gateway)
    profile = gw.sandbox_profile()
    names = {f.name for f in gw.adapter.credential_fields}
    configure_account(
        th.hub,
        merchant_id=th.merchant_id,
        gateway=gateway,
        environment=Environment.PRODUCTION,
        credentials={k: v for k, v in profile.credentials.items() if k in names},
        settings={
            **{k: v for k, v in profile.credentials.items() if k not in names},
            **profile.settings,
        },
        base_url="http://127.0.0.1:9",
        actor="test",
    )


@pytest.fixture
async def client(sqlite_url: str) -> AsyncIterator[tuple[HubUnderTest, httpx.AsyncClient]]:
    th = make_hub(sqlite_url)
    connect_gateway(th, "payos", "http://127.0.0.1:9")  # simulator
    production_account(th, "momo")
    transport = httpx.ASGITransport(app=th.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
        yield th, c
    th.hub.db.dispose()


async def checkout_page(
    th: HubUnderTest, c: httpx.AsyncClient, key: str, ref: str
) -> httpx.Response:
    r = await c.post(
        "/v1/orders",
        headers={"Authorization": f"Bearer {key}"},
        json={**ORDER, "merchant_reference": ref},
    )
    assert r.status_code == 201, r.text
    order_id = r.json()["id"]
    page = await c.get(f"/pay/{order_id}", params={"token": checkout_token(th.hub, order_id)})
    assert page.status_code == 200
    return page


async def test_the_checkout_shows_the_mode_and_only_its_accounts(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    th, c = client
    live_key = api_keys.create_api_key(th.hub, th.merchant_id, mode="live", actor="test").key
    test_page = await checkout_page(th, c, th.api_key, "t-1")
    assert 'data-testid="test-mode"' in test_page.text and "Test mode" in test_page.text
    assert "Pay with PayOS" in test_page.text and "Pay with MoMo" not in test_page.text
    live_page = await checkout_page(th, c, live_key, "l-1")
    assert "Test mode" not in live_page.text
    assert "Pay with MoMo" in live_page.text and "Pay with PayOS" not in live_page.text

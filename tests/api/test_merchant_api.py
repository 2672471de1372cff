"""Merchant API contract, in-process over ASGI on a real database: auth, problem+json,
idempotency, stock reservation, customer tokens."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest

from tests.support.hub import HubUnderTest, make_hub

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[tuple[HubUnderTest, httpx.AsyncClient]]:
    th = make_hub(db_url)
    transport = httpx.ASGITransport(app=th.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://hub", headers=th.headers
    ) as c:
        yield th, c
    th.hub.db.dispose()


ORDER = {
    "merchant_reference": "r-1",
    "currency": "VND",
    "items": [{"sku": "pack-100"}],
    "customer": {"external_id": "bob"},
}


async def test_auth_is_required(client: tuple[HubUnderTest, httpx.AsyncClient]) -> None:
    _, c = client
    r = await c.get("/v1/orders", headers={"Authorization": "Bearer sk_test_wrong"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/unauthorized")


async def test_idempotency_key_semantics(client: tuple[HubUnderTest, httpx.AsyncClient]) -> None:
    _, c = client
    first = await c.post("/v1/orders", json=ORDER, headers={"Idempotency-Key": "abc"})
    assert first.status_code == 201
    replay = await c.post("/v1/orders", json=ORDER, headers={"Idempotency-Key": "abc"})
    assert replay.status_code == 201 and replay.json()["id"] == first.json()["id"]
    assert replay.headers.get("idempotent-replayed") == "true"
    other = await c.post(
        "/v1/orders",
        json={**ORDER, "merchant_reference": "r-2"},
        headers={"Idempotency-Key": "abc"},
    )
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-key-reused")
    listing = (await c.get("/v1/orders")).json()
    assert len(listing["data"]) == 1


async def test_validation_and_duplicate_reference(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    _, c = client
    bad = await c.post("/v1/orders", json={**ORDER, "currency": "USD"})
    assert bad.status_code == 422 and bad.json()["type"].endswith("/validation-error")
    assert (await c.post("/v1/orders", json=ORDER)).status_code == 201
    dup = await c.post("/v1/orders", json=ORDER)
    assert dup.status_code == 409


async def test_stock_is_reserved_atomically(client: tuple[HubUnderTest, httpx.AsyncClient]) -> None:
    _, c = client
    body = {
        "merchant_reference": "s-1",
        "currency": "VND",
        "items": [{"sku": "tshirt", "quantity": 4}],
    }
    assert (await c.post("/v1/orders", json=body)).status_code == 201
    short = await c.post("/v1/orders", json={**body, "merchant_reference": "s-2"})
    assert short.status_code == 409
    assert short.json()["short_skus"] == ["tshirt"]
    products = {p["sku"]: p for p in (await c.get("/v1/products")).json()["data"]}
    assert products["tshirt"]["stock_available"] == 1


async def test_unconfigured_gateway_is_a_clear_422(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    _, c = client
    order = (await c.post("/v1/orders", json=ORDER)).json()
    r = await c.post(f"/v1/orders/{order['id']}/payments", json={"gateway": "payos"})
    assert r.status_code == 422
    assert r.json()["type"].endswith("/gateway-not-available")


async def test_customer_token_sees_only_own_orders(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    th, c = client
    order = (await c.post("/v1/orders", json=ORDER)).json()

    def token(sub: str) -> str:
        return jwt.encode(
            {
                "sub": sub,
                "mid": th.merchant_id,
                "iat": int(time.time()),
                "exp": int(time.time()) + 60,
            },
            "customer-secret-for-tests-0123456789abcdef",
            algorithm="HS256",
        )

    own = await c.get(
        f"/v1/orders/{order['id']}", headers={"Authorization": f"Bearer {token('bob')}"}
    )
    assert own.status_code == 200
    other = await c.get(
        f"/v1/orders/{order['id']}", headers={"Authorization": f"Bearer {token('eve')}"}
    )
    assert other.status_code == 403
    forged = jwt.encode(
        {
            "sub": "bob",
            "mid": th.merchant_id,
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        },
        "wrong-secret-0123456789abcdef0123456789",
        algorithm="HS256",
    )
    r = await c.get(f"/v1/orders/{order['id']}", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401
    cancel = await c.post(
        f"/v1/orders/{order['id']}/cancel", headers={"Authorization": f"Bearer {token('bob')}"}
    )
    assert cancel.status_code == 401  # merchant-only


async def test_openapi_is_served(client: tuple[HubUnderTest, httpx.AsyncClient]) -> None:
    _, c = client
    spec = (await c.get("/openapi.json")).json()
    assert "/v1/orders" in spec["paths"]
    assert (await c.get("/docs")).status_code == 200


async def test_customer_token_verified_against_a_jwks(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    import json

    from cryptography.hazmat.primitives.asymmetric import rsa
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from tests.support.servers import serve_app

    th, c = client
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]})

    async def keys(_: object) -> Response:
        return Response(jwks, media_type="application/json")

    order = (await c.post("/v1/orders", json=ORDER)).json()
    now = int(time.time())
    claims = {"sub": "bob", "mid": th.merchant_id, "iat": now, "exp": now + 60}
    with serve_app(Starlette(routes=[Route("/jwks.json", keys)])) as origin:
        th.hub.settings.customer_jwks_url = f"{origin}/jwks.json"
        good = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
        r = await c.get(f"/v1/orders/{order['id']}", headers={"Authorization": f"Bearer {good}"})
        assert r.status_code == 200, r.text
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = jwt.encode(claims, other, algorithm="RS256", headers={"kid": "k1"})
        r = await c.get(f"/v1/orders/{order['id']}", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401


async def test_orders_list_filters_and_pages(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    _, c = client
    for i in range(5):
        body = {
            **ORDER,
            "merchant_reference": f"p-{i}",
            "customer": {"external_id": "carol" if i % 2 else "dave"},
        }
        assert (await c.post("/v1/orders", json=body)).status_code == 201
    page1 = (await c.get("/v1/orders", params={"limit": 2})).json()
    assert len(page1["data"]) == 2 and page1["has_more"] is True
    page2 = (
        await c.get("/v1/orders", params={"limit": 2, "starting_after": page1["next_cursor"]})
    ).json()
    page3 = (
        await c.get("/v1/orders", params={"limit": 2, "starting_after": page2["next_cursor"]})
    ).json()
    refs = [o["merchant_reference"] for p in (page1, page2, page3) for o in p["data"]]
    assert sorted(refs) == [f"p-{i}" for i in range(5)] and len(set(refs)) == 5
    assert page3["has_more"] is False
    carol = (await c.get("/v1/orders", params={"customer": "carol"})).json()["data"]
    assert sorted(o["merchant_reference"] for o in carol) == ["p-1", "p-3"]
    paid = (await c.get("/v1/orders", params={"status": "paid"})).json()["data"]
    assert paid == []
    bad = await c.get("/v1/orders", params={"starting_after": "ord_nope"})
    assert bad.status_code == 422

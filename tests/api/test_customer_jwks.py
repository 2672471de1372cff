"""The customer JWKS is fetched through the outbound policy, cached, and refetched when an
issuer rotates its keys; a refused or redirecting JWKS URL verifies no token. The JWKS
server is a real loopback server that counts its requests."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from payhub.services import jwks
from tests.support.hub import HubUnderTest, make_hub
from tests.support.servers import serve_app

pytestmark = pytest.mark.anyio


@dataclass
class Issuer:
    """A JWKS at `/jwks.json` serving `kids`; `/moved` redirects to it."""

    origin: str = ""
    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    served: list[str] = field(default_factory=list)  # the kids that are published
    hits: dict[str, int] = field(default_factory=lambda: {"/jwks.json": 0, "/moved": 0})

    def key(self, kid: str) -> rsa.RSAPrivateKey:
        return self.keys.setdefault(
            kid, rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )

    def app(self) -> Starlette:
        async def keys(request: Request) -> Response:
            self.hits[request.url.path] += 1
            published = []
            for kid in self.served:
                jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key(kid).public_key()))
                published.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
            return Response(json.dumps({"keys": published}), media_type="application/json")

        async def moved(request: Request) -> Response:
            self.hits[request.url.path] += 1
            return RedirectResponse(f"{self.origin}/jwks.json", status_code=302)

        return Starlette(routes=[Route("/jwks.json", keys), Route("/moved", moved)])

    def token(self, kid: str, merchant_id: str) -> str:
        now = int(time.time())
        claims = {"sub": "bob", "mid": merchant_id, "iat": now, "exp": now + 60}
        return jwt.encode(claims, self.key(kid), algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    jwks.forget()
    found = Issuer(served=["k1"])
    with serve_app(found.app()) as origin:
        found.origin = origin
        yield found
    jwks.forget()


@pytest.fixture
async def client(sqlite_url: str) -> AsyncIterator[tuple[HubUnderTest, httpx.AsyncClient]]:
    th = make_hub(sqlite_url)
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


async def orders_as(c: httpx.AsyncClient, token: str) -> int:
    """GET bob's order as the bearer of `token` (customer tokens may read their orders)."""
    found = (await c.get("/v1/orders", params={"customer": "bob"})).json()["data"]
    order_id = found[0]["id"] if found else (await c.post("/v1/orders", json=ORDER)).json()["id"]
    r = await c.get(f"/v1/orders/{order_id}", headers={"Authorization": f"Bearer {token}"})
    return r.status_code


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_key_set_is_cached_and_refetched_for_a_new_key_id(
    client: tuple[HubUnderTest, httpx.AsyncClient], issuer: Issuer
) -> None:
    th, c = client
    clock = Clock()
    th.hub.monotonic = clock  # type: ignore[method-assign]
    th.hub.settings.customer_jwks_url = f"{issuer.origin}/jwks.json"
    assert await orders_as(c, issuer.token("k1", th.merchant_id)) == 200
    assert await orders_as(c, issuer.token("k1", th.merchant_id)) == 200
    assert issuer.hits["/jwks.json"] == 1  # cached

    issuer.served = ["k1", "k2"]  # the issuer rotates
    clock.now += 5
    assert await orders_as(c, issuer.token("k2", th.merchant_id)) == 401
    assert issuer.hits["/jwks.json"] == 1  # fetched a moment ago: not again yet
    clock.now += jwks.REFETCH_SECONDS
    assert await orders_as(c, issuer.token("k2", th.merchant_id)) == 200
    assert issuer.hits["/jwks.json"] == 2

    issuer.served = []  # the JWKS breaks: the keys held go on verifying
    clock.now += jwks.CACHE_SECONDS
    assert await orders_as(c, issuer.token("k1", th.merchant_id)) == 200
    assert issuer.hits["/jwks.json"] == 3
    forged = jwt.encode(
        {"sub": "bob", "mid": th.merchant_id, "exp": int(time.time()) + 60},
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    assert await orders_as(c, forged) == 401


@pytest.mark.parametrize("allow", [[], ["10.0.0.0/8"]])
async def test_a_jwks_url_the_policy_refuses_is_never_fetched(
    client: tuple[HubUnderTest, httpx.AsyncClient], issuer: Issuer, allow: list[str]
) -> None:
    th, c = client
    th.hub.settings.outbound_allow = allow
    th.hub.settings.customer_jwks_url = f"{issuer.origin}/jwks.json"
    order_id = (await c.post("/v1/orders", json=ORDER)).json()["id"]
    token = issuer.token("k1", th.merchant_id)
    r = await c.get(f"/v1/orders/{order_id}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert issuer.hits == {"/jwks.json": 0, "/moved": 0}


async def test_a_redirecting_jwks_url_is_not_followed(
    client: tuple[HubUnderTest, httpx.AsyncClient], issuer: Issuer
) -> None:
    th, c = client
    th.hub.settings.customer_jwks_url = f"{issuer.origin}/moved"
    assert await orders_as(c, issuer.token("k1", th.merchant_id)) == 401
    assert issuer.hits == {"/jwks.json": 0, "/moved": 1}


def test_the_jwks_module_holds_no_client_of_its_own() -> None:
    # Every fetch goes through payhub.outbound; no PyJWKClient (which fetches on its own).
    source: Any = jwks.__dict__
    assert not any(isinstance(v, jwt.PyJWKClient) for v in source.values())

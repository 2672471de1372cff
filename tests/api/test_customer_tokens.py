"""Customer JWTs: algorithms pinned, exp/iat/sub (and aud/iss when configured) required,
a small leeway, and no token living longer than PAYHUB_CUSTOMER_JWT_MAX_LIFETIME_SECONDS.
Real tokens signed with PyJWT, sent to the API over ASGI."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest

from payhub.api.security import CUSTOMER_JWT_LEEWAY_SECONDS
from tests.support.hub import HubUnderTest, make_hub

pytestmark = pytest.mark.anyio

SECRET = "customer-secret-for-tests-0123456789abcdef"
ORDER = {
    "merchant_reference": "jwt-1",
    "currency": "VND",
    "items": [{"sku": "pack-100"}],
    "customer": {"external_id": "bob"},
}


@pytest.fixture
async def hub_and_order(sqlite_url: str) -> AsyncIterator[tuple[HubUnderTest, str]]:
    th = make_hub(sqlite_url)
    transport = httpx.ASGITransport(app=th.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
        r = await c.post("/v1/orders", json=ORDER, headers=th.headers)
        assert r.status_code == 201, r.text
        yield th, r.json()["id"]
    th.hub.db.dispose()


async def read_order(th: HubUnderTest, order_id: str, token: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=th.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
        return await c.get(f"/v1/orders/{order_id}", headers={"Authorization": f"Bearer {token}"})


def claims(th: HubUnderTest, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    out: dict[str, Any] = {"sub": "bob", "mid": th.merchant_id, "iat": now, "exp": now + 600}
    for name, value in changes.items():
        if value is None:
            out.pop(name)
        else:
            out[name] = value
    return out


def hs256(payload: dict[str, Any], algorithm: str = "HS256") -> str:
    return jwt.encode(payload, SECRET, algorithm=algorithm)


async def test_a_short_lived_token_with_every_claim_is_accepted(
    hub_and_order: tuple[HubUnderTest, str],
) -> None:
    th, order_id = hub_and_order
    r = await read_order(th, order_id, hs256(claims(th)))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "mid"])
async def test_a_token_without_a_required_claim_is_refused(
    hub_and_order: tuple[HubUnderTest, str], missing: str
) -> None:
    th, order_id = hub_and_order
    r = await read_order(th, order_id, hs256(claims(th, **{missing: None})))
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "MissingRequiredClaimError" in r.json()["detail"]


async def test_a_hundred_year_token_is_refused(hub_and_order: tuple[HubUnderTest, str]) -> None:
    th, order_id = hub_and_order
    now = int(time.time())
    century = hs256(claims(th, iat=now, exp=now + 100 * 365 * 86400))
    r = await read_order(th, order_id, century)
    assert r.status_code == 401
    assert "lives longer than 86400 s" in r.json()["detail"]


async def test_the_maximum_lifetime_is_the_setting(
    hub_and_order: tuple[HubUnderTest, str],
) -> None:
    th, order_id = hub_and_order
    th.hub.settings.customer_jwt_max_lifetime_seconds = 300
    now = int(time.time())
    at_limit = hs256(claims(th, iat=now, exp=now + 300))
    assert (await read_order(th, order_id, at_limit)).status_code == 200
    beyond = hs256(claims(th, iat=now, exp=now + 301))
    assert (await read_order(th, order_id, beyond)).status_code == 401
    # Back-dating iat to stretch a long exp into the window does not help: it is still
    # exp - iat that counts.
    backdated = hs256(claims(th, iat=now - 10, exp=now + 295))
    assert (await read_order(th, order_id, backdated)).status_code == 401


async def test_expiry_and_issue_time_have_a_small_leeway(
    hub_and_order: tuple[HubUnderTest, str],
) -> None:
    th, order_id = hub_and_order
    now = int(time.time())
    just_expired = hs256(claims(th, iat=now - 600, exp=now - 5))
    assert (await read_order(th, order_id, just_expired)).status_code == 200
    long_expired = hs256(claims(th, iat=now - 600, exp=now - CUSTOMER_JWT_LEEWAY_SECONDS - 60))
    r = await read_order(th, order_id, long_expired)
    assert r.status_code == 401 and "ExpiredSignatureError" in r.json()["detail"]
    issued_later = hs256(claims(th, iat=now + 3600, exp=now + 3900))
    r = await read_order(th, order_id, issued_later)
    assert r.status_code == 401 and "ImmatureSignatureError" in r.json()["detail"]


@pytest.mark.parametrize("claim", ["sub", "mid"])
async def test_an_empty_subject_or_merchant_is_refused(
    hub_and_order: tuple[HubUnderTest, str], claim: str
) -> None:
    th, order_id = hub_and_order
    r = await read_order(th, order_id, hs256(claims(th, **{claim: ""})))
    assert r.status_code == 401


@pytest.mark.parametrize("bad", ["soon", 1.5e300, True, [1]])
async def test_claims_that_are_not_numbers_are_refused(
    hub_and_order: tuple[HubUnderTest, str], bad: object
) -> None:
    th, order_id = hub_and_order
    r = await read_order(th, order_id, hs256(claims(th, exp=bad)))
    assert r.status_code == 401


@pytest.mark.filterwarnings("ignore:The HMAC key is")  # HS512 with the hub's HS256 secret
async def test_algorithms_are_pinned(hub_and_order: tuple[HubUnderTest, str]) -> None:
    th, order_id = hub_and_order
    other_alg = hs256(claims(th), algorithm="HS512")
    assert (await read_order(th, order_id, other_alg)).status_code == 401
    unsigned = jwt.encode(claims(th), None, algorithm="none")  # type: ignore[arg-type]
    assert (await read_order(th, order_id, unsigned)).status_code == 401


async def test_audience_and_issuer_are_required_when_configured(
    hub_and_order: tuple[HubUnderTest, str],
) -> None:
    th, order_id = hub_and_order
    th.hub.settings.customer_jwt_audience = "payhub"
    th.hub.settings.customer_jwt_issuer = "https://shop.example"
    good = claims(th, aud="payhub", iss="https://shop.example")
    assert (await read_order(th, order_id, hs256(good))).status_code == 200
    for name, wrong in (("aud", "another-api"), ("iss", "https://evil.example")):
        assert (await read_order(th, order_id, hs256({**good, name: wrong}))).status_code == 401
        without = {k: v for k, v in good.items() if k != name}
        r = await read_order(th, order_id, hs256(without))
        assert r.status_code == 401 and "MissingRequiredClaimError" in r.json()["detail"]

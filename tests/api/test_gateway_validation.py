"""`POST /v1/gateways/{gateway}/validate`: the merchant's account checked against the
gateway (its simulator, served on loopback), within the API key's mode; unknown gateways and
missing accounts are problems, never a 5xx. The per-gateway answers are in the conformance
case `credentials` (tests/support/conformance.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from payhub.gateways.base import Environment
from payhub.gateways.registry import entry
from payhub.services.accounts import configure_account
from payhub.services.merchants import issue_api_key
from tests.support.hub import HubUnderTest, connect_gateway, make_hub, simulator_app
from tests.support.servers import free_port, serve_app

pytestmark = pytest.mark.anyio
PROBLEM = "application/problem+json"


@pytest.fixture
def vnpay_sim() -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serve_app(simulator_app("vnpay", url), port):
        yield url


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[tuple[HubUnderTest, httpx.AsyncClient]]:
    th = make_hub(db_url)
    transport = httpx.ASGITransport(app=th.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://hub", headers=th.headers
    ) as c:
        yield th, c
    th.hub.db.dispose()


async def test_validate_answers_and_stores_the_result(
    client: tuple[HubUnderTest, httpx.AsyncClient], vnpay_sim: str
) -> None:
    th, c = client
    account = connect_gateway(th, "vnpay", vnpay_sim)
    r = await c.post("/v1/gateways/vnpay/validate")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["valid"] is True and body["code"] == "91" and body["account"] == account
    assert body["checked_with"].startswith("querydr")
    assert body["checked_at"]
    (listed,) = (await c.get("/v1/gateways")).json()["data"]
    assert listed["validation"] == {"ok": True, "code": "91", "checked_at": body["checked_at"]}
    # Asking again with an explicit environment finds the same account.
    again = await c.post("/v1/gateways/vnpay/validate", params={"environment": "simulator"})
    assert again.status_code == 200 and again.json()["account"] == account


async def test_a_test_key_does_not_validate_a_production_account(
    client: tuple[HubUnderTest, httpx.AsyncClient], vnpay_sim: str
) -> None:
    th, c = client
    profile = entry("vnpay").sandbox_profile()
    configure_account(
        th.hub,
        merchant_id=th.merchant_id,
        gateway="vnpay",
        environment=Environment.PRODUCTION,
        credentials=dict(profile.credentials),
        base_url=vnpay_sim,
        actor="test",
    )
    r = await c.post("/v1/gateways/vnpay/validate")
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    live = issue_api_key(th.hub, th.merchant_id, mode="live", actor="test")
    r = await c.post("/v1/gateways/vnpay/validate", headers={"Authorization": f"Bearer {live}"})
    assert r.status_code == 200, r.text
    assert (r.json()["environment"], r.json()["valid"]) == ("production", True)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/gateways/nosuchgateway/validate", 422),
        ("/v1/gateways/payos/validate", 404),  # no account
        ("/v1/gateways/vnpay/validate?environment=moon", 422),
        ("/v1/gateways/%00%ff/validate", 400),
    ],
)
async def test_bad_requests_are_problems(
    client: tuple[HubUnderTest, httpx.AsyncClient], path: str, status: int
) -> None:
    _, c = client
    r = await c.post(path)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)


async def test_validation_needs_a_merchant_key(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    _, c = client
    r = await c.post("/v1/gateways/vnpay/validate", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401

"""Test and live mode do not mix, on both databases: a key never sees, changes or pays an
order of the other mode (404), lists are filtered by mode, and an explicit gateway whose
only account is in the other environment is 422 `mode-mismatch`. A live order pays through
the merchant's production account even when a simulator account of that gateway exists.
Everything goes through the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from payhub.asgi import create_app
from payhub.domain.errors import ModeMismatch
from payhub.gateways.base import Environment
from payhub.gateways.registry import entry
from payhub.services import api_keys
from payhub.services.accounts import configure_account
from payhub.services.modes import ensure_mode_allows
from payhub.store.models import Payment
from tests.services.conftest import SIM_URLS, Env

pytestmark = pytest.mark.anyio

ORDER = {"currency": "VND", "items": [{"sku": "pack-100"}], "customer": {"external_id": "bao"}}


def production_account(env: Env, gateway: str) -> str:
    """A production account of `gateway` (pointed at its simulator, as a stand-in)."""
    gw = entry(gateway)
    profile = gw.sandbox_profile()
    names = {f.name for f in gw.adapter.credential_fields}
    return configure_account(
        env.hub,
        merchant_id=env.merchant_id,
        gateway=gateway,
        environment=Environment.PRODUCTION,
        credentials={k: v for k, v in profile.credentials.items() if k in names},
        settings={
            **{k: v for k, v in profile.credentials.items() if k not in names},
            **profile.settings,
        },
        base_url=SIM_URLS[gateway],
        actor="test",
    )


@pytest.fixture
async def http(env: Env) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(env.hub))
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
        yield client


@pytest.fixture
def keys(env: Env) -> dict[str, dict[str, str]]:
    live = api_keys.create_api_key(env.hub, env.merchant_id, mode="live", actor="test")
    return {
        "test": {"Authorization": f"Bearer {env.th.api_key}"},
        "live": {"Authorization": f"Bearer {live.key}"},
    }


def test_the_mode_check_itself() -> None:
    for env in (Environment.SIMULATOR, Environment.SANDBOX):
        ensure_mode_allows(False, env)
        with pytest.raises(ModeMismatch):
            ensure_mode_allows(True, env)
    ensure_mode_allows(True, "production")
    with pytest.raises(ModeMismatch):
        ensure_mode_allows(False, "production")


async def test_a_key_never_sees_an_order_of_the_other_mode(
    env: Env, http: httpx.AsyncClient, keys: dict[str, dict[str, str]]
) -> None:
    orders = {}
    for mode in ("test", "live"):
        r = await http.post(
            "/v1/orders", headers=keys[mode], json={**ORDER, "merchant_reference": f"m-{mode}"}
        )
        assert r.status_code == 201, r.text
        assert r.json()["livemode"] is (mode == "live")
        orders[mode] = r.json()["id"]
    for mode, other in (("test", "live"), ("live", "test")):
        mine = await http.get(f"/v1/orders/{orders[mode]}", headers=keys[mode])
        assert mine.status_code == 200
        theirs = await http.get(f"/v1/orders/{orders[other]}", headers=keys[mode])
        assert theirs.status_code == 404
        listed = (await http.get("/v1/orders", headers=keys[mode])).json()["data"]
        assert [o["id"] for o in listed] == [orders[mode]]
        # Nor can it change or pay it.
        for path, body in [
            (f"/v1/orders/{orders[other]}/cancel", {}),
            (f"/v1/orders/{orders[other]}/payments", {"gateway": "payos"}),
            (
                f"/v1/orders/{orders[other]}/manual-payments",
                {"amount": 20_000, "reference": "bank-1"},
            ),
        ]:
            r = await http.post(path, headers=keys[mode], json=body)
            assert r.status_code == 404, (mode, path, r.text)
    # An order of the other mode is no cursor either.
    r = await http.get(
        "/v1/orders", headers=keys["test"], params={"starting_after": orders["live"]}
    )
    assert r.status_code == 422
    assert env.order_row(orders["live"])["status"] == "awaiting_payment"
    assert env.count(Payment) == 0


async def test_a_test_order_cannot_pay_through_a_production_account(
    env: Env, http: httpx.AsyncClient, keys: dict[str, dict[str, str]]
) -> None:
    # payos gets a production account beside its simulator one; momo keeps only its
    # simulator account.
    production_account(env, "payos")
    r = await http.post(
        "/v1/orders", headers=keys["live"], json={**ORDER, "merchant_reference": "l"}
    )
    live_order = r.json()["id"]
    # momo is enabled in the simulator only: a live order is refused, clearly.
    refused = await http.post(
        f"/v1/orders/{live_order}/payments", headers=keys["live"], json={"gateway": "momo"}
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"].endswith("/mode-mismatch")
    assert env.count(Payment) == 0
    # payos has both: the live order goes to the production account, a test one to the
    # simulator account.
    paid_live = await http.post(
        f"/v1/orders/{live_order}/payments", headers=keys["live"], json={"gateway": "payos"}
    )
    assert paid_live.status_code == 200, paid_live.text
    assert paid_live.json()["livemode"] is True
    r = await http.post(
        "/v1/orders", headers=keys["test"], json={**ORDER, "merchant_reference": "t"}
    )
    test_order = r.json()["id"]
    paid_test = await http.post(
        f"/v1/orders/{test_order}/payments", headers=keys["test"], json={"gateway": "payos"}
    )
    assert paid_test.status_code == 200, paid_test.text
    assert paid_test.json()["livemode"] is False
    accounts = {p["order_id"]: p["gateway_account_id"] for p in env.rows(Payment)}
    assert accounts[test_order] == env.th.accounts["payos"]  # the simulator account
    assert accounts[live_order] != env.th.accounts["payos"]
    # Reads of an attempt obey its order's mode too.
    payment_id = paid_live.json()["id"]
    assert (await http.get(f"/v1/payments/{payment_id}", headers=keys["test"])).status_code == 404
    assert (await http.get(f"/v1/payments/{payment_id}", headers=keys["live"])).status_code == 200
    refunds = await http.get(f"/v1/payments/{payment_id}/refunds", headers=keys["test"])
    assert refunds.status_code == 404


async def test_a_test_key_cannot_pay_through_a_production_only_gateway(
    env: Env, http: httpx.AsyncClient, keys: dict[str, dict[str, str]]
) -> None:
    production_account(env, "payos")
    configure_account(
        env.hub,
        merchant_id=env.merchant_id,
        gateway="payos",
        environment=Environment.SIMULATOR,
        credentials={},
        enabled=False,
        actor="test",
    )
    r = await http.post(
        "/v1/orders", headers=keys["test"], json={**ORDER, "merchant_reference": "t"}
    )
    refused = await http.post(
        f"/v1/orders/{r.json()['id']}/payments", headers=keys["test"], json={"gateway": "payos"}
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"].endswith("/mode-mismatch")
    assert "sk_live_" in refused.json()["detail"]
    assert env.count(Payment) == 0

"""PayOS end to end, what only PayOS does: partial transfers (`UNDERPAID`), confirm-webhook
posting its docs sample, the hosted checkout page naming it. The contract every gateway
meets (paid once, duplicate, tampered, wrong amount, dropped, cancel, refund, forged
return, outcome unknown) is tests/e2e/test_flow.py; this file uses the same kit
(tests/support/conformance.py) and driver (tests/e2e/drivers/payos.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import anyio
import httpx
import pytest
from sqlalchemy import select

from payhub.gateways.base import Environment, GatewayConfig
from payhub.gateways.registry import entry
from payhub.secret import Secret
from payhub.store.models import InboundRequest
from tests.e2e.drivers.payos import DRIVER
from tests.support.conformance import Env, running
from tests.support.hub import HubUnderTest

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(seeded: Callable[[str], HubUnderTest]) -> Iterator[Env]:
    with running(DRIVER, seeded) as e:
        yield e


def test_underpaid_goes_to_review(env: Env) -> None:
    order = env.order("o-partial")
    payment = env.start(order["id"])
    DRIVER.pay(env, payment, "partial", amount=5_000)
    order = env.wait_status(order["id"], "review")
    assert order["status"] == "review"
    assert env.api.get("/v1/customers/alice/credits").json()["balance"] == 0
    env.no_violations()


def test_unknown_order_code_sample_is_acknowledged(env: Env) -> None:
    # PayOS's confirm-webhook posts its docs sample (orderCode 123): logged, answered 2xx.
    account = env.th.accounts["payos"]
    r = env.sim.post("/__sim/webhook-url", json={"url": f"{env.hub_url}/callbacks/payos/{account}"})
    assert r.status_code == 200

    profile = entry("payos").sandbox_profile()
    config = GatewayConfig(
        credentials={k: Secret(v) for k, v in profile.credentials.items()},
        base_url=env.sim_url,
        environment=Environment.SIMULATOR,
    )

    async def confirm() -> None:
        async with httpx.AsyncClient() as http:
            adapter = entry("payos").adapter(config, http)
            await adapter.register_notification_url(f"{env.hub_url}/callbacks/payos/{account}")

    anyio.run(confirm)
    with env.th.hub.db.session() as s:
        rows = s.scalars(select(InboundRequest)).all()
        assert [r.outcome for r in rows] == ["unknown_payment"]


def test_hosted_checkout_link_needs_its_token(env: Env) -> None:
    order = env.order("o-hosted")
    url = order["hosted_checkout_url"]
    assert url.startswith(env.hub_url + f"/pay/{order['id']}?token=")
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200 and "Pay with PayOS" in page.text
    forged = httpx.get(url[:-4] + "0000", timeout=10)
    assert forged.status_code == 403
    started = httpx.post(
        f"{env.hub_url}/pay/{order['id']}",
        data={"gateway": "payos", "token": url.rsplit("=", 1)[1]},
        timeout=10,
    )
    assert started.status_code == 303
    # PayOS gave a VietQR: the hub's pay step shows it, with a link to PayOS's own page.
    step = started.headers["location"]
    assert step.startswith(f"/pay/{order['id']}/attempt/pay_"), step
    shown = httpx.get(env.hub_url + step, timeout=10)
    assert shown.status_code == 200 and "<svg" in shown.text
    assert f'href="{env.sim_url}/web/' in shown.text

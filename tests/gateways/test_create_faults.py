"""The create faults every sandbox shares (simkit): `create_500`, `create_refused` (the
gateway's documented refusal) and `create_timeout`, queued through `/__sim/faults` and
played on the sandbox's own create path, in order, once per count; `reset` forgets them."""

from __future__ import annotations

import httpx
import pytest

from payhub.gateways.registry import gateway_names
from tests.support.hub import simulator_app

pytestmark = pytest.mark.anyio

SIM_URL = "http://127.0.0.1:18999"
# The create call of each gateway: (method, path). VNPay's is the browser's GET.
CREATE = {
    "payos": ("POST", "/v2/payment-requests"),
    "momo": ("POST", "/v2/gateway/api/create"),
    "toyyibpay": ("POST", "/index.php/api/createBill"),
    "vnpay": ("GET", "/paymentv2/vpcpay.html"),
}
REFUSAL = {  # (status, a piece of the body or Location) of each gateway's refusal
    "payos": (200, '"code":"20"'),
    "momo": (200, '"resultCode":98'),
    "toyyibpay": (200, '"status":"error"'),
    "vnpay": (302, "code=99"),
}


def client(gateway: str) -> httpx.AsyncClient:
    app = simulator_app(gateway, SIM_URL)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SIM_URL)


def test_every_registered_gateway_is_covered() -> None:
    assert sorted(CREATE) == sorted(gateway_names())


@pytest.mark.parametrize("gateway", sorted(CREATE))
async def test_create_faults_play_once_per_count(gateway: str) -> None:
    method, path = CREATE[gateway]
    async with client(gateway) as sim:
        r = await sim.post("/__sim/faults", json={"fault": "create_refused", "count": 1})
        assert r.status_code == 200 and r.json()["create_faults"] == ["create_refused"]
        # MoMo's sandbox had its own `create_500` (HTTP 502) before; it keeps it.
        await sim.post("/__sim/faults", json={"fault": "create_500"})

        refused = await sim.request(method, path)
        status, piece = REFUSAL[gateway]
        assert refused.status_code == status
        assert piece in refused.headers.get("location", "") + refused.text.replace(" ", "")
        failed = await sim.request(method, path)
        assert failed.status_code >= 500
        after = await sim.request(method, path)  # no fault left: the sandbox itself answers
        assert after.status_code < 500 and piece not in after.text.replace(" ", "")
        assert "create_faults" not in (await sim.get("/__sim/faults")).json()


@pytest.mark.parametrize("gateway", ["payos", "momo"])
async def test_create_timeout_answers_late_and_reset_forgets_faults(gateway: str) -> None:
    method, path = CREATE[gateway]
    async with client(gateway) as sim:
        await sim.post("/__sim/faults", json={"fault": "create_timeout", "stall": 0.05})
        late = await sim.request(method, path, json={})
        assert late.status_code < 500  # the sandbox's own answer, delivered after the stall
        await sim.post("/__sim/faults", json={"fault": "create_500", "count": 3})
        await sim.post("/__sim/reset")
        assert (await sim.request(method, path, json={})).status_code != 500


async def test_a_bad_stall_is_refused() -> None:
    async with client("payos") as sim:
        r = await sim.post("/__sim/faults", json={"fault": "create_timeout", "stall": "soon"})
        assert r.status_code == 400

"""What every registered gateway's sandbox shares: the `/__sim/` control routes of simkit and
a sandbox profile the registry wires (`payhub demo`, `payhub sandbox`) without naming it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from payhub.gateways import simkit
from payhub.gateways.base import Environment
from payhub.gateways.registry import entry, gateway_names

pytestmark = pytest.mark.anyio
ORIGIN = "http://sandbox.test"


@pytest.fixture(params=gateway_names())
async def control(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    gw = entry(request.param)
    app = gw.create_simulator(
        simkit.SimulatorOptions(
            public_url=ORIGIN,
            profile=gw.sandbox_profile(),
            retry=simkit.RetryPolicy(max_attempts=1, interval_seconds=0.01),
        )
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as client:
        yield client


async def test_the_shared_control_routes_answer(control: httpx.AsyncClient) -> None:
    assert (await control.get("/__sim/faults")).status_code == 200
    assert (await control.get("/__sim/deliveries")).status_code == 200
    assert (await control.post("/__sim/flush")).status_code == 200
    assert (await control.post("/__sim/reset")).status_code == 200


async def test_faults_are_queued_and_refused_alike(control: httpx.AsyncClient) -> None:
    queued = await control.post("/__sim/faults", json={"fault": "drop", "count": 2})
    assert queued.status_code == 200
    assert ["drop", "drop"] in queued.json().values()
    unknown = await control.post("/__sim/faults", json={"fault": "explode"})
    assert unknown.status_code == 400
    assert {f.value for f in simkit.Fault} <= set(unknown.json()["known"])
    bad_count = await control.post("/__sim/faults", json={"fault": "drop", "count": "x"})
    assert bad_count.status_code == 400
    not_json = await control.post("/__sim/faults", content=b"{not json")
    assert not_json.status_code == 400
    await control.post("/__sim/reset")
    assert ["drop", "drop"] not in (await control.get("/__sim/faults")).json().values()


async def test_driving_an_unknown_payment_is_a_404(control: httpx.AsyncClient) -> None:
    response = await control.post("/__sim/pay/NO-SUCH-PAYMENT", json={})
    assert response.status_code == 404
    assert "error" in response.json()


def test_each_sandbox_has_its_own_default_port() -> None:
    ports = [entry(name).sandbox_profile().default_port for name in gateway_names()]
    assert all(port > 0 for port in ports)
    assert len(set(ports)) == len(ports)


@pytest.mark.parametrize("name", gateway_names())
def test_sandbox_options_wire_the_notification_url_where_the_gateway_keeps_one(
    name: str,
) -> None:
    profile = entry(name).sandbox_profile()
    options = simkit.sandbox_options(profile, notify_url="http://hub.test/callbacks/x/1")
    assert options.public_url == f"http://127.0.0.1:{profile.default_port}"
    if profile.notify_url_option is None:
        assert dict(options.extra) == {}
    else:
        assert dict(options.extra) == {profile.notify_url_option: "http://hub.test/callbacks/x/1"}
    on_port = simkit.sandbox_options(profile, port=9999)
    assert on_port.public_url == "http://127.0.0.1:9999"
    assert dict(on_port.extra) == {}


@pytest.mark.parametrize("name", gateway_names())
def test_the_adapter_points_its_simulator_environment_at_the_sandbox_port(name: str) -> None:
    gw = entry(name)
    port = gw.sandbox_profile().default_port
    assert gw.adapter.default_base_urls[Environment.SIMULATOR] == f"http://127.0.0.1:{port}"


async def test_sandbox_responses_are_nosniff_and_pages_under_their_csp(
    control: httpx.AsyncClient,
) -> None:
    """Every sandbox response is nosniff; its pages allow no script, the shared stylesheet
    by its hash, and are never framed."""
    import base64
    import hashlib

    from payhub.gateways.simkit.pages import PAGE_CSP, PAGE_STYLE, page

    html = page("payos", "Checkout", "<p>x</p>")
    assert f"<style>{PAGE_STYLE}</style>" in html and "<script" not in html
    digest = base64.b64encode(hashlib.sha256(PAGE_STYLE.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in PAGE_CSP
    assert "default-src 'none'" in PAGE_CSP and "frame-ancestors 'none'" in PAGE_CSP
    r = await control.get("/__sim/faults")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in r.headers
    pages = 0  # each sandbox's page for an unknown payment, whatever its path
    for path in ("/web/nothing", "/paymentv2/vpcpay.html", "/nothing", "/v2/gateway/pay?t=x"):
        r = await control.get(path, follow_redirects=True)
        assert r.headers["x-content-type-options"] == "nosniff"
        if r.headers.get("content-type", "").startswith("text/html"):
            pages += 1
            assert r.headers["content-security-policy"] == PAGE_CSP
            assert r.headers["referrer-policy"] == "no-referrer"
    assert pages >= 1

"""PayOS end to end over real loopback HTTP: hub and simulator as real servers, on SQLite
and PostgreSQL. Checks the money invariants in SQL after every scenario."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select, text

from payhub.gateways.registry import entry
from payhub.store.invariants import check_invariants
from payhub.store.models import AuditEntry, CreditEntry, InboundRequest, OutboxEvent
from tests.support.hub import HubUnderTest, connect_gateway, make_hub, simulator_app
from tests.support.servers import free_port, serve_app

pytestmark = pytest.mark.e2e


@dataclass
class Env:
    th: HubUnderTest
    hub_url: str
    sim_url: str
    api: httpx.Client
    sim: httpx.Client


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    hub_port, sim_port = free_port(), free_port()
    hub_url, sim_url = f"http://127.0.0.1:{hub_port}", f"http://127.0.0.1:{sim_port}"
    th = make_hub(db_url, public_url=hub_url)
    account = connect_gateway(th, "payos", sim_url)
    sim = simulator_app("payos", sim_url, webhook_url=f"{hub_url}/callbacks/payos/{account}")
    with serve_app(th.app, hub_port), serve_app(sim, sim_port):
        with (
            httpx.Client(base_url=hub_url, headers=th.headers, timeout=30) as api,
            httpx.Client(base_url=sim_url, timeout=30) as sim_client,
        ):
            yield Env(th, hub_url, sim_url, api, sim_client)
    th.hub.db.dispose()


def _order(env: Env, ref: str, credits: bool = True) -> dict:
    body = {
        "merchant_reference": ref,
        "currency": "VND",
        "items": [{"sku": "pack-100"}],
        "customer": {"external_id": "alice", "email": "alice@example.com"},
    }
    r = env.api.post("/v1/orders", json=body, headers={"Idempotency-Key": f"k-{ref}"})
    assert r.status_code == 201, r.text
    return r.json()


def _pay(env: Env, order_id: str) -> dict:
    r = env.api.post(f"/v1/orders/{order_id}/payments", json={"gateway": "payos"})
    assert r.status_code == 200, r.text
    return r.json()


def _sim_pay(env: Env, payment: dict, outcome: str = "paid", **extra: object) -> None:
    r = env.sim.post(
        f"/__sim/pay/{payment['gateway_reference']}", json={"outcome": outcome, **extra}
    )
    assert r.status_code == 200, r.text
    env.sim.post("/__sim/flush")


def _wait_status(env: Env, order_id: str, status: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        order = env.api.get(f"/v1/orders/{order_id}").json()
        if order["status"] == status or time.monotonic() > deadline:
            return order
        time.sleep(0.05)


def _no_violations(env: Env) -> None:
    assert check_invariants(env.th.hub.db.engine) == {}


@pytest.mark.tz
def test_credit_pack_paid_once(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    order = _order(env, "o-1")
    assert order["status"] == "awaiting_payment" and order["credits"] == 100
    payment = _pay(env, order["id"])
    assert payment["checkout_url"].startswith(env.sim_url + "/web/")
    assert payment["reused"] is False
    again = _pay(env, order["id"])
    assert again["id"] == payment["id"] and again["reused"] is True

    env.sim.post("/__sim/faults", json={"fault": "duplicate", "count": 1})
    _sim_pay(env, payment)
    order = _wait_status(env, order["id"], "paid")
    assert order["status"] == "paid"
    credits = env.api.get("/v1/customers/alice/credits").json()
    assert credits["balance"] == 100 and len(credits["entries"]) == 1
    with env.th.hub.db.session() as s:
        assert s.scalar(select(func.count()).select_from(CreditEntry)) == 1
        events = s.scalars(select(OutboxEvent.event_type)).all()
        assert events.count("order.paid") == 1
        outcomes = s.scalars(select(InboundRequest.outcome)).all()
        assert sorted(outcomes) == ["applied", "duplicate"]
    assert any(t["kind"] == "order.paid" for t in order["timeline"])
    r = env.api.post(f"/v1/orders/{order['id']}/payments", json={"gateway": "payos"})
    assert r.status_code == 409
    assert r.json()["type"].endswith("/order-already-paid")
    _no_violations(env)
    # Every log line of hub, simulator and HTTP clients during the flow: no credential.
    profile = entry("payos").sandbox_profile().credentials
    assert caplog.records, "nothing was logged: the check below would prove nothing"
    for name in ("api_key", "checksum_key"):
        assert profile[name] not in caplog.text
    assert env.th.api_key not in caplog.text


def test_tampered_webhook_changes_nothing_and_is_audited(env: Env) -> None:
    order = _order(env, "o-tamper")
    payment = _pay(env, order["id"])
    env.sim.post("/__sim/faults", json={"fault": "tamper", "count": 1})
    _sim_pay(env, payment)
    order = env.api.get(f"/v1/orders/{order['id']}").json()
    assert order["status"] == "awaiting_payment"
    with env.th.hub.db.session() as s:
        assert s.scalar(select(func.count()).select_from(CreditEntry)) == 0
        rows = s.scalars(select(InboundRequest)).all()
        # The simulator retries a rejected webhook; every copy is logged and rejected.
        assert rows and {r.outcome for r in rows} == {"invalid_signature"}
        assert rows[0].body  # the raw bytes are kept
        audit = s.scalars(select(AuditEntry.action)).all()
        assert "notification.invalid_signature" in audit
    _no_violations(env)


def test_wrong_amount_goes_to_review_without_credit(env: Env) -> None:
    order = _order(env, "o-wrong")
    payment = _pay(env, order["id"])
    env.sim.post("/__sim/faults", json={"fault": "wrong_amount", "count": 1})
    _sim_pay(env, payment)
    order = _wait_status(env, order["id"], "review")
    assert order["status"] == "review"
    assert order["payments"][0]["status"] == "review"
    assert order["payments"][0]["review_reason"] == "amount_mismatch"
    with env.th.hub.db.session() as s:
        assert s.scalar(select(func.count()).select_from(CreditEntry)) == 0
        types = s.scalars(select(OutboxEvent.event_type)).all()
        assert "payment.review" in types and "operator.alert" in types
    _no_violations(env)


def test_underpaid_goes_to_review(env: Env) -> None:
    order = _order(env, "o-partial")
    payment = _pay(env, order["id"])
    _sim_pay(env, payment, "partial", amount=5_000)
    order = _wait_status(env, order["id"], "review")
    assert order["status"] == "review"
    assert env.api.get("/v1/customers/alice/credits").json()["balance"] == 0
    _no_violations(env)


def test_forged_return_url_changes_nothing(env: Env) -> None:
    order = _order(env, "o-forged")
    payment = _pay(env, order["id"])
    forged = (
        f"/return/payos/{payment['id']}?code=00&id=x&cancel=false&status=PAID"
        f"&orderCode={payment['gateway_reference']}"
    )
    r = httpx.get(env.hub_url + forged, follow_redirects=True, timeout=10)
    assert r.status_code == 200
    assert "Waiting for confirmation" in r.text
    order = env.api.get(f"/v1/orders/{order['id']}").json()
    assert order["status"] == "awaiting_payment"
    assert order["payments"][0]["status"] == "pending"
    with env.th.hub.db.session() as s:
        kinds = s.scalars(select(InboundRequest.kind)).all()
        assert kinds == ["return"]
    _no_violations(env)


def test_unknown_order_code_sample_is_acknowledged(env: Env) -> None:
    # PayOS's confirm-webhook posts its docs sample (orderCode 123): logged, answered 2xx.
    account = env.th.accounts["payos"]
    r = env.sim.post("/__sim/webhook-url", json={"url": f"{env.hub_url}/callbacks/payos/{account}"})
    assert r.status_code == 200
    import anyio

    from payhub.gateways.base import Environment, GatewayConfig
    from payhub.gateways.registry import entry
    from payhub.secret import Secret

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


def test_cancel_order_cancels_link_and_releases_stock_once(env: Env) -> None:
    body = {
        "merchant_reference": "o-cancel",
        "currency": "VND",
        "items": [{"sku": "tshirt", "quantity": 2}],
    }
    order = env.api.post("/v1/orders", json=body).json()
    stock = {p["sku"]: p["stock_available"] for p in env.api.get("/v1/products").json()["data"]}
    assert stock["tshirt"] == 3
    payment = _pay(env, order["id"])
    r = env.api.post(f"/v1/orders/{order['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    link = env.sim.get(f"/__sim/links/{payment['gateway_reference']}").json()
    assert "CANCELLED" in str(link)
    assert env.api.post(f"/v1/orders/{order['id']}/cancel").status_code == 409
    products = {p["sku"]: p for p in env.api.get("/v1/products").json()["data"]}
    assert products["tshirt"]["stock_available"] == 5
    with env.th.hub.db.engine.connect() as c:
        n = c.execute(text("select count(*) from stock_movements where reason='release'")).scalar()
    assert n == 1
    _no_violations(env)


def test_operator_accepts_a_review_once(env: Env) -> None:
    order = _order(env, "o-accept")
    payment = _pay(env, order["id"])
    env.sim.post("/__sim/faults", json={"fault": "wrong_amount", "count": 1})
    _sim_pay(env, payment)
    _wait_status(env, order["id"], "review")
    queue = env.api.get("/v1/review-queue").json()["data"]
    assert [p["id"] for p in queue] == [payment["id"]]
    r = env.api.post(f"/v1/payments/{payment['id']}/accept", json={"note": "customer topped up"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "succeeded"
    again = env.api.post(f"/v1/payments/{payment['id']}/accept", json={"note": "twice"})
    assert again.status_code == 409
    order = env.api.get(f"/v1/orders/{order['id']}").json()
    assert order["status"] == "paid"
    assert env.api.get("/v1/customers/alice/credits").json()["balance"] == 100
    assert env.api.get("/v1/review-queue").json()["data"] == []
    _no_violations(env)


def test_hosted_checkout_link_needs_its_token(env: Env) -> None:
    order = _order(env, "o-hosted")
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
    assert started.headers["location"].startswith(env.sim_url + "/web/")

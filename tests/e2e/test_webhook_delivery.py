"""Outbound events reach the merchant as Standard Webhooks, over real loopback HTTP.

The receiving side verifies with the independent `standardwebhooks` library (PyPI), so the
signature scheme is checked by code that is not ours."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import anyio
import httpx
import pytest
from sqlalchemy import text
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payhub.store.invariants import check_invariants
from payhub.worker import deliver_events
from tests.support.hub import HubUnderTest, connect_gateway, make_hub, simulator_app
from tests.support.servers import free_port, serve_app

pytestmark = pytest.mark.e2e


@dataclass
class Receiver:
    answers: list[int] = field(default_factory=list)  # status codes to give, then 200
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            status = self.answers.pop(0) if self.answers else 200
            return Response(status_code=status)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@dataclass
class Env:
    th: HubUnderTest
    api: httpx.Client
    sim: httpx.Client
    receiver: Receiver
    receiver_url: str


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    hub_port, sim_port, rx_port = free_port(), free_port(), free_port()
    hub_url, sim_url = f"http://127.0.0.1:{hub_port}", f"http://127.0.0.1:{sim_port}"
    th = make_hub(db_url, public_url=hub_url)
    th.hub.settings.webhook_retry_scale = 0.0001  # 5 s → 0.5 ms: retries at once in tests
    account = connect_gateway(th, "payos", sim_url)
    sim = simulator_app("payos", sim_url, webhook_url=f"{hub_url}/callbacks/payos/{account}")
    receiver = Receiver()
    with (
        serve_app(th.app, hub_port),
        serve_app(sim, sim_port),
        serve_app(receiver.app(), rx_port),
        httpx.Client(base_url=hub_url, headers=th.headers, timeout=30) as api,
        httpx.Client(base_url=sim_url, timeout=30) as sim_client,
    ):
        yield Env(th, api, sim_client, receiver, f"http://127.0.0.1:{rx_port}/hook")
    th.hub.db.dispose()


def _paid_order(env: Env, ref: str) -> dict:
    order = env.api.post(
        "/v1/orders",
        json={
            "merchant_reference": ref,
            "currency": "VND",
            "items": [{"sku": "pack-100"}],
            "customer": {"external_id": "alice"},
        },
    ).json()
    payment = env.api.post(f"/v1/orders/{order['id']}/payments", json={"gateway": "payos"}).json()
    env.sim.post(f"/__sim/pay/{payment['gateway_reference']}", json={"outcome": "paid"})
    env.sim.post("/__sim/flush")
    return order


def _run_worker(env: Env, passes: int = 1) -> None:
    async def run() -> None:
        for _ in range(passes):
            await deliver_events(env.th.hub)
            time.sleep(0.01)

    anyio.run(run)


def test_order_paid_is_signed_and_retried_with_a_stable_id(env: Env) -> None:
    r = env.api.post(
        "/v1/webhook-endpoints", json={"url": env.receiver_url, "event_types": ["order.paid"]}
    )
    assert r.status_code == 201
    secret = r.json()["secret"]
    assert secret.startswith("whsec_")
    assert "secret" not in env.api.get("/v1/webhook-endpoints").json()["data"][0]
    env.receiver.answers = [500, 503]
    order = _paid_order(env, "wh-1")
    _run_worker(env, passes=4)

    assert len(env.receiver.received) == 3
    ids = {h["webhook-id"] for h, _ in env.receiver.received}
    assert len(ids) == 1
    verifier = Webhook(secret)
    event_id = ids.pop()
    for headers, body in env.receiver.received:
        payload = verifier.verify(body, headers)
        assert list(payload) == ["id", "type", "created", "livemode", "data"]
        assert (payload["id"], payload["type"], payload["livemode"]) == (
            event_id,
            "order.paid",
            False,
        )
        assert payload["data"]["credits_granted"] == 100
        snapshot = payload["data"]["object"]
        # The order as GET /v1/orders/{id} shows it, as it stood when it was paid.
        assert snapshot == env.api.get(f"/v1/orders/{order['id']}").json()
        assert snapshot["status"] == "paid"
        assert snapshot["customer"]["external_id"] == "alice"
        assert [i["sku"] for i in snapshot["items"]] == ["pack-100"]
        [attempt] = snapshot["payments"]
        assert attempt["gateway"] == "payos" and attempt["gateway_txn_id"]
        assert snapshot["timeline"][-1]["kind"] == "order.paid"
    with pytest.raises(WebhookVerificationError):
        headers, body = env.receiver.received[-1]
        verifier.verify(body.replace(b"100", b"999"), headers)
    # One event object: the delivered body is the single read and the list item.
    read = env.api.get(f"/v1/events/{event_id}")
    assert read.content == env.receiver.received[-1][1]
    listed = env.api.get("/v1/events").json()["data"]
    assert [e for e in listed if e["id"] == event_id] == [read.json()]
    log = env.api.get(f"/v1/events/{event_id}/deliveries").json()
    assert log["data"][0]["state"] == "delivered"
    assert [a["status"] for a in log["data"][0]["log"]] == ["5xx", "5xx", "2xx"]
    assert check_invariants(env.th.hub.db.engine) == {}


def test_gone_disables_the_endpoint(env: Env) -> None:
    env.api.post("/v1/webhook-endpoints", json={"url": env.receiver_url})
    env.receiver.answers = [410]
    _paid_order(env, "wh-gone")
    _run_worker(env, passes=3)
    endpoints = env.api.get("/v1/webhook-endpoints").json()["data"]
    assert endpoints[0]["enabled"] is False
    assert "410" in endpoints[0]["disabled_reason"]
    types = [json.loads(body)["type"] for _, body in env.receiver.received]
    assert types == ["order.created"]  # nothing after 410


def test_operator_alerts_never_reach_the_merchant(env: Env) -> None:
    env.api.post("/v1/webhook-endpoints", json={"url": env.receiver_url})
    env.sim.post("/__sim/faults", json={"fault": "wrong_amount", "count": 1})
    _paid_order(env, "wh-review")
    _run_worker(env, passes=2)
    types = sorted(json.loads(body)["type"] for _, body in env.receiver.received)
    assert types == ["order.created", "payment.review"]
    with env.th.hub.db.engine.connect() as c:
        alerts = c.execute(text("select count(*) from outbox where event_type = 'operator.alert'"))
        assert alerts.scalar() == 1
        delivered = c.execute(
            text(
                "select count(*) from deliveries d join outbox o on o.id = d.event_id "
                "where o.event_type like 'operator.%'"
            )
        )
        assert delivered.scalar() == 0


def test_manual_redelivery(env: Env) -> None:
    env.api.post(
        "/v1/webhook-endpoints", json={"url": env.receiver_url, "event_types": ["order.paid"]}
    )
    _paid_order(env, "wh-again")
    _run_worker(env)
    assert len(env.receiver.received) == 1
    event_id = env.receiver.received[0][0]["webhook-id"]
    r = env.api.post(f"/v1/events/{event_id}/redeliver")
    assert r.json()["deliveries_rescheduled"] == 1
    _run_worker(env)
    assert [h["webhook-id"] for h, _ in env.receiver.received] == [event_id, event_id]


def test_endpoint_url_is_validated(env: Env) -> None:
    r = env.api.post("/v1/webhook-endpoints", json={"url": "ftp://example.com/x"})
    assert r.status_code == 422
    r = env.api.post(
        "/v1/webhook-endpoints", json={"url": env.receiver_url, "event_types": ["operator.alert"]}
    )
    assert r.status_code == 422

"""services.refunds, pending refunds: a refund the gateway is still processing is recorded
`pending`, never `succeeded`: the order is not refunded, credits are not reversed, no refund
event is sent.

A MoMo payment is made on the MoMo simulator in-process; the refund's "still processing"
answer (resultCode 7000/7002) is a gateway shape the simulator does not produce, so that one
answer comes from httpx.MockTransport.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from payhub.services.refunds import create_refund
from payhub.store.models import Order, OutboxEvent, Payment, Refund
from tests.support.hub import HubUnderTest, connect_gateway, make_hub, simulator_app

pytestmark = pytest.mark.anyio

SIM_URL = "http://momo.sim"


async def paid_momo_payment(th: HubUnderTest) -> dict[str, Any]:
    connect_gateway(th, "momo", SIM_URL)
    sim_app = simulator_app("momo", SIM_URL, transport=httpx.ASGITransport(app=th.app))
    th.hub.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim_app))
    th.hub.forget_adapters()
    api = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=th.app), base_url="http://hub", headers=th.headers
    )
    sim = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim_app), base_url=SIM_URL)
    async with api, sim:
        body = {
            "merchant_reference": "r-refund",
            "currency": "VND",
            "items": [{"sku": "pack-100"}],
            "customer": {"external_id": "bao"},
        }
        r = await api.post("/v1/orders", json=body, headers={"Idempotency-Key": "k-refund"})
        assert r.status_code == 201, r.text
        order = r.json()
        r = await api.post(f"/v1/orders/{order['id']}/payments", json={"gateway": "momo"})
        assert r.status_code == 200, r.text
        payment: dict[str, Any] = r.json()
        r = await sim.post(f"/__sim/pay/{payment['gateway_reference']}", json={"outcome": "paid"})
        assert r.status_code == 200, r.text
        r = await api.get(f"/v1/payments/{payment['id']}", params={"refresh": "true"})
        assert r.json()["status"] == "succeeded", r.text
    return payment


def momo_refund_answer(http_status: int, result_code: int) -> Callable[..., httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        return httpx.Response(
            http_status,
            json={
                "partnerCode": sent["partnerCode"],
                "orderId": sent["orderId"],
                "requestId": sent["requestId"],
                "amount": sent["amount"],
                "transId": 4088878700,
                "resultCode": result_code,
                "message": "Giao dịch đang được xử lý.",
                "responseTime": 1714532400000,
            },
        )

    return handler


@pytest.mark.parametrize(("http_status", "result_code"), [(200, 7000), (200, 7002), (422, 7000)])
async def test_a_refund_momo_is_still_processing_stays_pending(
    db_url: str, http_status: int, result_code: int
) -> None:
    th = make_hub(db_url)
    try:
        payment = await paid_momo_payment(th)
        th.hub.http = httpx.AsyncClient(
            transport=httpx.MockTransport(momo_refund_answer(http_status, result_code))
        )
        th.hub.forget_adapters()
        refund = await create_refund(
            th.hub, th.merchant_id, payment["id"], amount=None, reason="r", actor="test"
        )
        assert (refund["status"], refund["gateway_code"]) == ("pending", str(result_code))
        with th.hub.db.session() as s:
            order = s.scalar(select(Order).where(Order.id == payment["order_id"]))
            assert order is not None
            assert (order.status, order.refunded_minor) == ("paid", 0)
            row = s.scalar(select(Payment).where(Payment.id == payment["id"]))
            assert row is not None and row.refunded_minor == 0
            assert s.scalars(select(Refund.status)).all() == ["pending"]
            events = s.scalars(select(OutboxEvent.event_type)).all()
            assert not [e for e in events if e.startswith("refund.")]
        credits = (await credits_of(th))["balance"]
        assert credits == 100  # nothing reversed
    finally:
        th.hub.db.dispose()


async def credits_of(th: HubUnderTest) -> dict[str, Any]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=th.app), base_url="http://hub", headers=th.headers
    ) as api:
        r = await api.get("/v1/customers/bao/credits")
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

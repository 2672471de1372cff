"""The MoMo simulator's own validations and error answers, spoken to with raw HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from payhub.gateways import simkit
from payhub.gateways.momo import signing
from payhub.gateways.momo.simulator import create_simulator, sandbox_profile

pytestmark = pytest.mark.anyio

ORIGIN = "http://momo.sim"
PARTNER, ACCESS, SECRET = "MOMO", "F8BBA842ECF85", "K951B6PE1waDMi640xX08PD3vg6EkVlz"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_simulator(
        simkit.SimulatorOptions(
            public_url=ORIGIN, profile=sandbox_profile(), extra={"slow_seconds": "0.2"}
        )
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as c:
        yield c


def create_body(
    order_id: str = "ORD1",
    request_id: str = "REQ1",
    amount: Any = 50_000,
    request_type: str = "captureWallet",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "partnerCode": PARTNER,
        "requestId": request_id,
        "amount": amount,
        "orderId": order_id,
        "orderInfo": "Thanh toán & quà",
        "redirectUrl": "http://shop.test/return",
        "ipnUrl": "http://shop.test/ipn",
        "requestType": request_type,
        "extraData": "",
        "lang": "vi",
        **extra,
    }
    values = {k: str(body[k]) for k in signing.CREATE_FIELDS if k != "accessKey"}
    body["signature"] = signing.sign(
        SECRET, signing.raw_signature(signing.CREATE_FIELDS, values | {"accessKey": ACCESS})
    )
    return body


def query_body(order_id: str, request_id: str = "Q1") -> dict[str, Any]:
    values = {"partnerCode": PARTNER, "orderId": order_id, "requestId": request_id}
    raw = signing.raw_signature(signing.QUERY_FIELDS, values | {"accessKey": ACCESS})
    return values | {"lang": "en", "signature": signing.sign(SECRET, raw)}


def refund_body(order_id: str, trans_id: int, amount: int, request_id: str) -> dict[str, Any]:
    values = {
        "partnerCode": PARTNER,
        "orderId": order_id,
        "requestId": request_id,
        "amount": str(amount),
        "transId": str(trans_id),
        "description": "",
    }
    raw = signing.raw_signature(signing.REFUND_FIELDS, values | {"accessKey": ACCESS})
    return values | {"amount": amount, "transId": trans_id, "signature": signing.sign(SECRET, raw)}


async def test_create_success_shape_and_response_signature(client: httpx.AsyncClient) -> None:
    response = await client.post("/v2/gateway/api/create", json=create_body())
    assert response.status_code == 200
    body = response.json()
    assert body["resultCode"] == 0 and body["message"] == "Thành công."
    assert body["payUrl"].startswith(f"{ORIGIN}/v2/gateway/pay?t=")
    assert body["qrCodeUrl"].startswith(f"{ORIGIN}/v2/gateway/app?isScanQr=true&t=")
    assert body["deeplink"].startswith("momo://?action=payWithAppToken&amount=50000")
    assert body["userFee"] == 0
    values = {k: str(body[k]) for k in signing.CREATE_RESPONSE_FIELDS if k != "accessKey"}
    raw = signing.raw_signature(signing.CREATE_RESPONSE_FIELDS, values | {"accessKey": ACCESS})
    assert signing.verify(SECRET, raw, body["signature"])


async def test_amount_as_a_json_string_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post("/v2/gateway/api/create", json=create_body(amount="50000"))
    assert response.json()["resultCode"] == 0


async def test_bad_signature_is_400_with_masked_raw_string(client: httpx.AsyncClient) -> None:
    body = create_body()
    body["amount"] = 175_000
    response = await client.post("/v2/gateway/api/create", json=body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["resultCode"] == 20 and answer["message"] == "Bad format request."
    [sub] = answer["subErrors"]
    assert sub["field"] == "signature"
    assert sub["message"].startswith("Chữ ký không hợp lệ.")
    assert "accessKey=*****&amount=175000&extraData=&" in sub["message"]
    assert sub["message"].endswith("requestType=captureWallet.")
    assert ACCESS not in response.text and SECRET not in response.text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"orderId": "-bad id"}, "orderId"),
        ({"requestType": "payLater"}, "requestType"),
        ({"amount": 1.5}, "amount"),
    ],
)
async def test_format_errors(client: httpx.AsyncClient, change: dict[str, Any], field: str) -> None:
    body = create_body() | change
    response = await client.post("/v2/gateway/api/create", json=body)
    assert response.status_code == 400
    assert response.json()["resultCode"] == 20
    assert response.json()["subErrors"][0]["field"] == field


async def test_missing_field_and_non_json(client: httpx.AsyncClient) -> None:
    body = create_body()
    del body["ipnUrl"]
    response = await client.post("/v2/gateway/api/create", json=body)
    assert (response.status_code, response.json()["subErrors"][0]["field"]) == (400, "ipnUrl")
    garbage = await client.post("/v2/gateway/api/create", content=b"not json")
    assert (garbage.status_code, garbage.json()["resultCode"]) == (400, 20)


async def test_unknown_partner_is_13(client: httpx.AsyncClient) -> None:
    body = create_body() | {"partnerCode": "NOBODY"}
    response = await client.post("/v2/gateway/api/create", json=body)
    assert response.json()["resultCode"] == 13


@pytest.mark.parametrize(
    ("request_type", "amount", "code"),
    [
        ("captureWallet", 999, 22),
        ("captureWallet", 1_000, 0),
        ("captureWallet", 50_000_000, 0),
        ("captureWallet", 50_000_001, 22),
        ("payWithMethod", 999, 22),
        ("payWithATM", 9_999, 22),
        ("payWithATM", 10_000, 0),
    ],
)
async def test_amount_limits_per_request_type(
    client: httpx.AsyncClient, request_type: str, amount: int, code: int
) -> None:
    body = create_body(amount=amount, request_type=request_type)
    response = await client.post("/v2/gateway/api/create", json=body)
    assert response.json()["resultCode"] == code


async def test_duplicate_order_id_is_41(client: httpx.AsyncClient) -> None:
    await client.post("/v2/gateway/api/create", json=create_body(request_id="R1"))
    again = await client.post("/v2/gateway/api/create", json=create_body(request_id="R2"))
    assert again.json()["resultCode"] == 41


async def test_finished_duplicate_request_id_replays_or_is_40(client: httpx.AsyncClient) -> None:
    first = await client.post("/v2/gateway/api/create", json=create_body())
    replay = await client.post("/v2/gateway/api/create", json=create_body())
    assert replay.status_code == 200 and replay.json() == first.json()
    changed = await client.post("/v2/gateway/api/create", json=create_body(order_id="ORD2"))
    assert changed.json()["resultCode"] == 40


async def test_in_flight_duplicate_request_id_is_422_7000(client: httpx.AsyncClient) -> None:
    await client.post("/__sim/faults", json={"fault": "slow_create"})
    first, second = await asyncio.gather(
        client.post("/v2/gateway/api/create", json=create_body()),
        client.post("/v2/gateway/api/create", json=create_body()),
    )
    assert first.json()["resultCode"] == 0
    assert (second.status_code, second.json()["resultCode"]) == (422, 7000)


async def test_create_500_fault(client: httpx.AsyncClient) -> None:
    await client.post("/__sim/faults", json={"fault": "create_500"})
    assert (await client.post("/v2/gateway/api/create", json=create_body())).status_code == 502
    ok = await client.post("/v2/gateway/api/create", json=create_body(request_id="R9"))
    assert ok.json()["resultCode"] == 0


async def test_unknown_fault_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/__sim/faults", json={"fault": "explode"})
    assert response.status_code == 400


async def test_query_pending_unknown_and_bad_signature(client: httpx.AsyncClient) -> None:
    await client.post("/v2/gateway/api/create", json=create_body())
    pending = (await client.post("/v2/gateway/api/query", json=query_body("ORD1"))).json()
    assert (pending["resultCode"], pending["payType"], pending["transId"]) == (1000, "", 0)
    unknown = (await client.post("/v2/gateway/api/query", json=query_body("NOPE"))).json()
    assert unknown["resultCode"] == 42
    forged = query_body("ORD1") | {"signature": "0" * 64}
    bad = await client.post("/v2/gateway/api/query", json=forged)
    assert (bad.status_code, bad.json()["resultCode"]) == (400, 20)


async def test_refund_rules(client: httpx.AsyncClient) -> None:
    await client.post("/v2/gateway/api/create", json=create_body())
    unpaid = await client.post("/v2/gateway/api/refund", json=refund_body("RF0", 1, 1000, "X0"))
    assert unpaid.json()["resultCode"] == 42  # no such transaction yet
    paid = (await client.post("/__sim/pay/ORD1", json={"outcome": "paid"})).json()
    trans_id = paid["transId"]
    one = await client.post(
        "/v2/gateway/api/refund", json=refund_body("RF1", trans_id, 20_000, "X1")
    )
    assert one.json()["resultCode"] == 0 and one.json()["transId"] != trans_id
    reused = await client.post(
        "/v2/gateway/api/refund", json=refund_body("RF1", trans_id, 1_000, "X2")
    )
    assert reused.json()["resultCode"] == 41
    over = await client.post(
        "/v2/gateway/api/refund", json=refund_body("RF2", trans_id, 30_001, "X3")
    )
    assert over.json()["resultCode"] == 1081
    query = (await client.post("/v2/gateway/api/query", json=query_body("ORD1"))).json()
    assert [(r["orderId"], r["amount"], r["resultCode"]) for r in query["refundTrans"]] == [
        ("RF1", 20_000, 0)
    ]


async def test_hosted_page_and_redirect_parameters(client: httpx.AsyncClient) -> None:
    pay_url = (await client.post("/v2/gateway/api/create", json=create_body())).json()["payUrl"]
    page = await client.get(pay_url)
    assert page.status_code == 200 and "Pay with MoMo" in page.text
    assert (await client.get("/v2/gateway/pay?t=unknown")).status_code == 404
    done = await client.post(
        pay_url,
        content=b"outcome=insufficient",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 303
    params = dict(httpx.URL(done.headers["location"]).params)
    assert params["resultCode"] == "1001" and params["orderInfo"] == "Thanh toán & quà"
    raw = signing.raw_signature(signing.RESULT_FIELDS, params | {"accessKey": ACCESS})
    assert signing.verify(SECRET, raw, params["signature"])
    again = await client.post("/__sim/pay/ORD1", json={"outcome": "paid"})
    assert again.status_code == 409


async def test_ipn_body_is_json_with_numbers_and_signed() -> None:
    received: list[httpx.Request] = []

    def ipn_endpoint(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    app = create_simulator(
        simkit.SimulatorOptions(
            public_url=ORIGIN,
            profile=sandbox_profile(),
            transport=httpx.MockTransport(ipn_endpoint),
        )
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as c:
        await c.post("/v2/gateway/api/create", json=create_body())
        await c.post("/__sim/pay/ORD1", json={"outcome": "paid"})
        await c.post("/__sim/flush")
        deliveries = (await c.get("/__sim/deliveries")).json()
    [request] = received
    assert str(request.url) == "http://shop.test/ipn"
    assert request.headers["content-type"].startswith("application/json")
    body = json.loads(request.content)
    for number in ("amount", "transId", "resultCode", "responseTime"):
        assert isinstance(body[number], int)
    assert body["orderType"] == "momo_wallet" and body["payType"] == "qr"
    values = {k: str(v) for k, v in body.items()}
    raw = signing.raw_signature(signing.RESULT_FIELDS, values | {"accessKey": ACCESS})
    assert signing.verify(SECRET, raw, body["signature"])
    assert deliveries[0]["state"] == "delivered"


async def test_reset_forgets_orders(client: httpx.AsyncClient) -> None:
    await client.post("/v2/gateway/api/create", json=create_body())
    await client.post("/__sim/reset")
    assert (await client.get("/__sim/orders/ORD1")).status_code == 404
    assert (await client.post("/v2/gateway/api/create", json=create_body())).json()[
        "resultCode"
    ] == 0


def test_sandbox_profile_defaults_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = sandbox_profile()
    assert profile.credentials == {
        "partner_code": PARTNER,
        "access_key": ACCESS,
        "secret_key": SECRET,
    }
    assert profile.default_port == 8103
    monkeypatch.setenv("PAYHUB_SANDBOX_MOMO_PARTNER_CODE", "MYSHOP")
    monkeypatch.setenv("PAYHUB_SANDBOX_MOMO_SECRET_KEY", "s3cret")
    changed = sandbox_profile()
    assert changed.credentials["partner_code"] == "MYSHOP"
    assert changed.credentials["secret_key"] == "s3cret"
    assert changed.credentials["access_key"] == ACCESS


def test_ipn_retry_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYHUB_SANDBOX_MOMO_IPN_ATTEMPTS", "3")
    monkeypatch.setenv("PAYHUB_SANDBOX_MOMO_IPN_INTERVAL", "0.5")
    app = create_simulator(simkit.SimulatorOptions(public_url=ORIGIN, profile=sandbox_profile()))
    policy = app.state.sandbox.notifier.policy
    assert (policy.max_attempts, policy.interval_seconds) == (3, 0.5)
    monkeypatch.delenv("PAYHUB_SANDBOX_MOMO_IPN_ATTEMPTS")
    default = create_simulator(
        simkit.SimulatorOptions(public_url=ORIGIN, profile=sandbox_profile())
    )
    assert default.state.sandbox.notifier.policy.max_attempts == 1

"""The PayOS sandbox's own validations, answers and pages (reference §3.1)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from payhub.gateways.payos import signing
from payhub.gateways.payos.simulator import DEFAULT_CHECKSUM_KEY, sandbox_profile, webhook_data_keys

from .conftest import RECEIVER_URL, SIM_ORIGIN, Receiver, make_simulator, sim_headers

pytestmark = pytest.mark.anyio
KEY = DEFAULT_CHECKSUM_KEY
LINK_KEYS = {
    "id",
    "orderCode",
    "amount",
    "amountPaid",
    "amountRemaining",
    "status",
    "createdAt",
    "transactions",
    "canceledAt",
    "cancellationReason",
}


def create_body(order_code: int = 1001, amount: int = 50000, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "orderCode": order_code,
        "amount": amount,
        "description": "Thanh toan DH1001",
        "cancelUrl": "http://shop.test/cancel",
        "returnUrl": "http://shop.test/return?from=payos",
    }
    body.update(extra)
    body["signature"] = signing.sign_payment_request(body, KEY)
    return body


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v2/payment-requests", json=body, headers=sim_headers())
    assert response.status_code == 200
    return dict(response.json())


def assert_signed(envelope: dict[str, Any]) -> dict[str, Any]:
    assert envelope["code"] == "00"
    assert signing.verify_data(envelope["data"], envelope["signature"], KEY)
    return dict(envelope["data"])


async def test_credentials_are_checked(sim_http: httpx.AsyncClient) -> None:
    for headers in (
        {},
        {**sim_headers(), "x-api-key": "wrong"},
        {**sim_headers(), "x-client-id": "x"},
    ):
        response = await sim_http.post("/v2/payment-requests", json=create_body(), headers=headers)
        assert response.status_code == 401
        response = await sim_http.get("/v2/payment-requests/1001", headers=headers)
        assert response.status_code == 401


async def test_create_answers_twelve_signed_keys(sim_http: httpx.AsyncClient) -> None:
    data = assert_signed(await create(sim_http, create_body(expiredAt=int(time.time()) + 600)))
    assert set(data) == {
        "bin",
        "accountNumber",
        "accountName",
        "amount",
        "description",
        "orderCode",
        "currency",
        "paymentLinkId",
        "status",
        "expiredAt",
        "checkoutUrl",
        "qrCode",
    }
    assert data["status"] == "PENDING" and data["currency"] == "VND"
    assert data["checkoutUrl"] == f"{SIM_ORIGIN}/web/{data['paymentLinkId']}"
    assert len(data["paymentLinkId"]) == 32
    assert data["qrCode"].startswith("000201010212")


async def test_create_without_expiry_omits_expired_at(sim_http: httpx.AsyncClient) -> None:
    data = assert_signed(await create(sim_http, create_body()))
    assert "expiredAt" not in data and len(data) == 11


async def test_create_accepts_sdk_style_nulls_and_escapes(sim_http: httpx.AsyncClient) -> None:
    body = create_body(description="Thanh toán", buyerName=None, items=None, expiredAt=None)
    raw = json.dumps(body)  # ensure_ascii: "Thanh to\u00e1n"
    assert "\\u00e1" in raw
    response = await sim_http.post(
        "/v2/payment-requests",
        content=raw,
        headers={**sim_headers(), "content-type": "application/json"},
    )
    assert_signed(response.json())


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({**create_body(), "signature": "0" * 64}, "201"),
        ({**create_body(), "amount": 50001}, "201"),  # signed field changed after signing
        (create_body(order_code=0), "20"),
        (create_body(order_code=2**53), "20"),
        (create_body(amount=0), "20"),
        (create_body(description="x" * 26), "20"),
        ({k: v for k, v in create_body().items() if k != "returnUrl"}, "20"),
        (create_body(order_code="1001"), "20"),  # type: ignore[arg-type]
        (create_body(expiredAt="soon"), "20"),
    ],
)
async def test_create_validation(
    sim_http: httpx.AsyncClient, body: dict[str, Any], code: str
) -> None:
    envelope = await create(sim_http, body)
    assert envelope["code"] == code
    assert envelope["data"] is None


async def test_order_code_is_unique_even_after_cancel(sim_http: httpx.AsyncClient) -> None:
    assert_signed(await create(sim_http, create_body()))
    assert (await create(sim_http, create_body()))["code"] == "231"
    cancelled = await sim_http.post("/v2/payment-requests/1001/cancel", headers=sim_headers())
    assert_signed(cancelled.json())
    assert (await create(sim_http, create_body()))["code"] == "231"


async def test_get_by_order_code_and_link_id(sim_http: httpx.AsyncClient) -> None:
    link_id = assert_signed(await create(sim_http, create_body()))["paymentLinkId"]
    for ident in ("1001", link_id):
        response = await sim_http.get(f"/v2/payment-requests/{ident}", headers=sim_headers())
        data = assert_signed(response.json())
        assert set(data) == LINK_KEYS
        assert data["status"] == "PENDING" and data["amountRemaining"] == 50000
        assert data["canceledAt"] is None and data["transactions"] == []
    missing = await sim_http.get("/v2/payment-requests/999", headers=sim_headers())
    assert missing.json()["code"] not in ("00", None) and missing.json()["data"] is None


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{}",
        b'{"cancellationReason":"Changed my mind"}',
        b'{"cancellationReason":"Changed my mind",'
        b'"signature":"81c5b9a7924923f190764c8d55a7e80871918063b2469ac3adaefe2ffd02d207"}',
    ],
)
async def test_cancel_accepts_every_client_style(
    sim_http: httpx.AsyncClient, content: bytes
) -> None:
    assert_signed(await create(sim_http, create_body()))
    response = await sim_http.post(
        "/v2/payment-requests/1001/cancel", content=content, headers=sim_headers()
    )
    data = assert_signed(response.json())
    assert set(data) == LINK_KEYS
    assert data["status"] == "CANCELLED" and data["canceledAt"]
    expected_reason = "Changed my mind" if b"Changed" in content else None
    assert data["cancellationReason"] == expected_reason
    again = await sim_http.post("/v2/payment-requests/1001/cancel", headers=sim_headers())
    assert again.json()["code"] != "00"


async def test_link_expires_lazily(sim_http: httpx.AsyncClient) -> None:
    assert_signed(await create(sim_http, create_body(expiredAt=int(time.time()) - 1)))
    response = await sim_http.get("/v2/payment-requests/1001", headers=sim_headers())
    assert assert_signed(response.json())["status"] == "EXPIRED"
    cancel = await sim_http.post("/v2/payment-requests/1001/cancel", headers=sim_headers())
    assert cancel.json()["code"] != "00"


async def test_partial_then_full_payment_updates_the_link(sim_http: httpx.AsyncClient) -> None:
    assert_signed(await create(sim_http, create_body()))
    partial = await sim_http.post("/__sim/pay/1001", json={"outcome": "partial", "amount": 20000})
    assert partial.json()["link"]["status"] == "UNDERPAID"
    await sim_http.post("/__sim/pay/1001", json={"outcome": "paid"})
    data = assert_signed(
        (await sim_http.get("/v2/payment-requests/1001", headers=sim_headers())).json()
    )
    assert data["status"] == "PAID"
    assert (data["amountPaid"], data["amountRemaining"]) == (50000, 0)
    assert [t["amount"] for t in data["transactions"]] == [20000, 30000]
    for txn in data["transactions"]:
        assert len(txn) == 11
        assert txn["transactionDateTime"].endswith("+07:00")
    refused = await sim_http.post("/__sim/pay/1001", json={"outcome": "cancel"})
    assert refused.status_code == 409


async def test_sim_pay_validates(sim_http: httpx.AsyncClient) -> None:
    assert (await sim_http.post("/__sim/pay/42", json={"outcome": "paid"})).status_code == 404
    assert_signed(await create(sim_http, create_body()))
    bad = await sim_http.post("/__sim/pay/1001", json={"outcome": "teleport"})
    assert bad.status_code == 409
    bad_amount = await sim_http.post("/__sim/pay/1001", json={"outcome": "paid", "amount": "1"})
    assert bad_amount.status_code == 400
    bad_fault = await sim_http.post("/__sim/faults", json={"fault": "explode"})
    assert bad_fault.status_code == 400


async def test_checkout_page_buttons_and_redirects(sim_http: httpx.AsyncClient) -> None:
    link_id = assert_signed(await create(sim_http, create_body()))["paymentLinkId"]
    page = await sim_http.get(f"/web/{link_id}")
    assert page.status_code == 200
    for text in (
        "Pay in full",
        "Pay partially",
        "Cancel",
        "Expire",
        "payhub local sandbox",
        "50,000",
    ):
        assert text in page.text
    paid = await sim_http.post(f"/web/{link_id}", data={"outcome": "paid"})
    assert paid.status_code == 302
    assert paid.headers["location"] == (
        f"http://shop.test/return?from=payos&code=00&id={link_id}&cancel=false&status=PAID&orderCode=1001"
    )
    assert "Pay in full" not in (await sim_http.get(f"/web/{link_id}")).text


async def test_checkout_page_cancel_and_expire(sim_http: httpx.AsyncClient) -> None:
    first = assert_signed(await create(sim_http, create_body()))["paymentLinkId"]
    cancel = await sim_http.post(f"/web/{first}", data={"outcome": "cancel"})
    assert cancel.headers["location"] == (
        f"http://shop.test/cancel?code=00&id={first}&cancel=true&status=CANCELLED&orderCode=1001"
    )
    second = assert_signed(await create(sim_http, create_body(order_code=1002)))["paymentLinkId"]
    expire = await sim_http.post(f"/web/{second}", data={"outcome": "expire"})
    assert expire.status_code == 302
    data = assert_signed(
        (await sim_http.get("/v2/payment-requests/1002", headers=sim_headers())).json()
    )
    assert data["status"] == "EXPIRED"
    partial_link = assert_signed(await create(sim_http, create_body(order_code=1003)))[
        "paymentLinkId"
    ]
    partial = await sim_http.post(f"/web/{partial_link}", data={"outcome": "partial"})
    assert partial.headers["location"].endswith(f"/web/{partial_link}")
    assert (await sim_http.get("/web/nope")).status_code == 404


async def test_webhook_has_exactly_sixteen_signed_keys() -> None:
    receiver = Receiver()
    app = make_simulator(receiver.transport, webhook_url=RECEIVER_URL)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=SIM_ORIGIN
    ) as sim:
        assert_signed(await create(sim, create_body()))
        await sim.post("/__sim/pay/1001", json={"outcome": "partial", "amount": 10000})
        await sim.post("/__sim/flush")
    (body,) = receiver.json_bodies()
    assert set(body) == {"code", "desc", "success", "data", "signature"}
    assert body["code"] == "00" and body["success"] is True
    assert tuple(body["data"]) == webhook_data_keys() and len(body["data"]) == 16
    assert body["data"]["amount"] == 10000
    assert len(body["data"]["transactionDateTime"]) == 19
    assert signing.verify_data(body["data"], body["signature"], KEY)


async def test_confirm_webhook_posts_the_docs_sample() -> None:
    receiver = Receiver()
    app = make_simulator(receiver.transport)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=SIM_ORIGIN
    ) as sim:
        response = await sim.post(
            "/confirm-webhook", json={"webhookUrl": RECEIVER_URL}, headers=sim_headers()
        )
        assert response.status_code == 200
        body = response.json()
        assert body["code"] == "00" and "signature" not in body
        assert set(body["data"]) == {
            "webhookUrl",
            "accountNumber",
            "accountName",
            "name",
            "shortName",
        }
        (sample,) = receiver.json_bodies()
        assert sample["data"]["orderCode"] == 123
        # The default channel key is payOS's docs key, so the docs signature comes out.
        assert (
            sample["signature"]
            == "412e915d2871504ed31be63c8f62a149a4410d34c4c42affc9006ef9917eaa03"
        )
        # Later payments go to the confirmed URL.
        assert_signed(await create(sim, create_body()))
        await sim.post("/__sim/pay/1001", json={"outcome": "paid"})
        await sim.post("/__sim/flush")
    assert len(receiver.bodies) == 2


async def test_confirm_webhook_refuses_a_failing_url() -> None:
    receiver = Receiver((404,))
    app = make_simulator(receiver.transport)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=SIM_ORIGIN
    ) as sim:
        response = await sim.post(
            "/confirm-webhook", json={"webhookUrl": RECEIVER_URL}, headers=sim_headers()
        )
        assert response.status_code == 400
        assert response.json() == {
            "code": "20",
            "desc": "Webhook url invalid",
            "data": "Request failed with status code 404",
        }
        # No URL was stored: a payment is logged but not sent anywhere.
        assert_signed(await create(sim, create_body()))
        await sim.post("/__sim/pay/1001", json={"outcome": "paid"})
        deliveries = (await sim.post("/__sim/flush")).json()["deliveries"]
    assert [d["state"] for d in deliveries] == ["no_webhook_url"]
    assert len(receiver.bodies) == 1


async def test_webhook_url_control_and_reset() -> None:
    receiver = Receiver()
    app = make_simulator(receiver.transport)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=SIM_ORIGIN
    ) as sim:
        set_url = await sim.post("/__sim/webhook-url", json={"url": RECEIVER_URL})
        assert set_url.json() == {"webhook_url": RECEIVER_URL}
        assert_signed(await create(sim, create_body()))
        await sim.post("/__sim/pay/1001", json={"outcome": "paid"})
        deliveries = (await sim.post("/__sim/flush")).json()["deliveries"]
        assert [d["state"] for d in deliveries] == ["delivered"]
        assert (await sim.get("/__sim/deliveries")).json()["deliveries"] == deliveries
        await sim.post("/__sim/reset")
        assert (await sim.get("/__sim/deliveries")).json() == {"deliveries": []}
        assert_signed(await create(sim, create_body()))  # order codes forgotten too


def test_sandbox_profile_defaults_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = sandbox_profile()
    assert profile.default_port == 8101
    assert profile.credentials["checksum_key"] == KEY
    monkeypatch.setenv("PAYHUB_SANDBOX_PAYOS_CLIENT_ID", "cid")
    monkeypatch.setenv("PAYHUB_SANDBOX_PAYOS_API_KEY", "key")
    monkeypatch.setenv("PAYHUB_SANDBOX_PAYOS_CHECKSUM_KEY", "sum")
    assert dict(sandbox_profile().credentials) == {
        "client_id": "cid",
        "api_key": "key",
        "checksum_key": "sum",
    }


def test_webhook_retry_schedule_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from payhub.gateways.payos.simulator import default_retry_policy

    policy = default_retry_policy()
    assert (policy.max_attempts, policy.interval_seconds) == (3, 5.0)
    monkeypatch.setenv("PAYHUB_SANDBOX_PAYOS_WEBHOOK_ATTEMPTS", "7")
    monkeypatch.setenv("PAYHUB_SANDBOX_PAYOS_WEBHOOK_INTERVAL", "0.5")
    policy = default_retry_policy()
    assert (policy.max_attempts, policy.interval_seconds) == (7, 0.5)

"""Contract: MomoGateway talking to payhub's MoMo simulator in-process (ASGITransport).

The simulator delivers IPNs to a small receiver app that uses the adapter's
verify_notification + notification_reply, the way payhub's callback endpoint does.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from payhub.gateways import simkit
from payhub.gateways.base import (
    CheckoutRequest,
    GatewayConfig,
    GatewayMisconfigured,
    GatewayRejected,
    GatewayStatus,
    InboundRequest,
    InvalidPaymentRequest,
    LineItem,
    NotSupported,
    Payer,
    PaymentRef,
    RefundRequest,
    RefundStatus,
)
from payhub.gateways.momo import MomoGateway
from payhub.money import Money
from payhub.secret import Secret
from tests.gateways.momo.harness import NOTIFY_URL, RETURN_URL, Harness, make_harness

pytestmark = pytest.mark.anyio

NOW = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)


def checkout_request(
    adapter: MomoGateway, amount: int | Money = 50_000, serial: int = 1, **changes: object
) -> CheckoutRequest:
    request = CheckoutRequest(
        reference=adapter.new_reference(serial, NOW),
        amount=amount if isinstance(amount, Money) else Money(amount, "VND"),
        description="Thanh toán đơn hàng #1 & quà",
        notify_url=NOTIFY_URL,
        return_url=RETURN_URL,
        cancel_url=RETURN_URL,
        expires_at=NOW + timedelta(minutes=15),
        now=NOW,
    )
    return dataclasses.replace(request, **changes)  # type: ignore[arg-type]


def payment_ref(
    checkout_reference: str,
    gateway_data: dict[str, str],
    amount: int = 50_000,
    txn: str | None = None,
) -> PaymentRef:
    return PaymentRef(
        reference=checkout_reference,
        amount=Money(amount, "VND"),
        created_at=NOW,
        gateway_data=gateway_data,
        gateway_txn_id=txn,
    )


def ref_for(
    request: CheckoutRequest, data: Mapping[str, str] | None = None, txn: str | None = None
) -> PaymentRef:
    return payment_ref(request.reference, dict(data or {"orderId": request.reference}), txn=txn)


async def test_create_returns_pay_url_qr_and_deeplink(harness: Harness) -> None:
    request = checkout_request(harness.adapter)
    checkout = await harness.adapter.create_checkout(request)
    assert checkout.reference == request.reference
    assert checkout.checkout_url.startswith("http://momo.sim/v2/gateway/pay?t=")
    assert checkout.qr_content is not None
    assert checkout.qr_content.startswith("http://momo.sim/v2/gateway/app?isScanQr=true&t=")
    assert checkout.deeplink is not None and checkout.deeplink.startswith("momo://")
    assert checkout.expires_at == request.expires_at
    assert checkout.gateway_data["orderId"] == request.reference
    assert checkout.gateway_data["requestType"] == "captureWallet"
    assert checkout.gateway_data["requestId"].startswith("RQ")
    page = await harness.http.get(checkout.checkout_url)
    assert page.status_code == 200
    for label in ("Pay", "User denied (1006)", "Insufficient balance (1001)", "Expire (1005)"):
        assert f">{label}</button>" in page.text
    assert "payhub local sandbox" in page.text


async def test_pay_with_method_from_options(harness: Harness) -> None:
    request = checkout_request(harness.adapter, options={"request_type": "payWithMethod"})
    checkout = await harness.adapter.create_checkout(request)
    assert checkout.gateway_data["requestType"] == "payWithMethod"
    order = (await harness.sim("GET", f"/__sim/orders/{request.reference}")).json()
    assert order["amount"] == 50_000


async def test_paid_ipn_is_verified_and_acknowledged(harness: Harness) -> None:
    request = checkout_request(harness.adapter)
    await harness.adapter.create_checkout(request)
    result = await harness.pay(request.reference, "paid")
    [notification] = harness.receiver.notifications
    assert notification.reference == request.reference
    assert notification.status is GatewayStatus.SUCCEEDED
    assert notification.amount == Money(50_000, "VND")
    assert notification.gateway_code == "0"
    assert notification.gateway_txn_id == str(result["transId"])
    assert notification.dedupe_key == f"{request.reference}:{result['transId']}:0"
    assert notification.occurred_at is not None
    [delivery] = await harness.deliveries()
    assert delivery["state"] == "delivered"
    assert delivery["attempts"][0]["status_code"] == 204

    report = await harness.adapter.query(ref_for(request))
    assert report.status is GatewayStatus.SUCCEEDED
    assert report.amount_paid == Money(50_000, "VND")
    assert report.gateway_txn_id == str(result["transId"])
    assert report.refunded is None


@pytest.mark.parametrize(
    ("outcome", "status", "code"),
    [
        ("denied", GatewayStatus.CANCELLED, "1006"),
        ("insufficient", GatewayStatus.FAILED, "1001"),
        ("expired", GatewayStatus.EXPIRED, "1005"),
    ],
)
async def test_failed_outcomes(
    harness: Harness, outcome: str, status: GatewayStatus, code: str
) -> None:
    request = checkout_request(harness.adapter)
    await harness.adapter.create_checkout(request)
    await harness.pay(request.reference, outcome)
    [notification] = harness.receiver.notifications
    assert (notification.status, notification.gateway_code) == (status, code)
    report = await harness.adapter.query(ref_for(request))
    assert (report.status, report.gateway_code) == (status, code)
    assert report.amount_paid is None


async def test_query_pending_and_unknown_order(harness: Harness) -> None:
    request = checkout_request(harness.adapter)
    await harness.adapter.create_checkout(request)
    pending = await harness.adapter.query(ref_for(request))
    assert (pending.status, pending.gateway_code) == (GatewayStatus.PENDING, "1000")
    assert pending.gateway_txn_id is None
    unknown = await harness.adapter.query(payment_ref("PH240501-9-000000", {}))
    assert (unknown.status, unknown.gateway_code) == (GatewayStatus.FAILED, "42")


async def test_wrong_amount_fault_gives_a_valid_but_mismatched_notification(
    harness: Harness,
) -> None:
    request = checkout_request(harness.adapter)
    await harness.adapter.create_checkout(request)
    await harness.fault("wrong_amount")
    await harness.pay(request.reference)
    [notification] = harness.receiver.notifications
    assert notification.status is GatewayStatus.SUCCEEDED
    assert notification.amount == Money(51_000, "VND")
    assert notification.amount != request.amount


async def test_tampered_ipn_is_rejected(harness: Harness) -> None:
    request = checkout_request(harness.adapter)
    await harness.adapter.create_checkout(request)
    await harness.fault("tamper")
    await harness.pay(request.reference)
    assert harness.receiver.notifications == []
    assert harness.receiver.rejected == ["invalid_signature"]
    [delivery] = await harness.deliveries()
    assert delivery["attempts"][0]["status_code"] == 400
    assert delivery["state"] == "gave_up"


async def test_duplicate_ipn_arrives_twice_with_one_dedupe_key(harness: Harness) -> None:
    request = checkout_request(harness.adapter)
    await harness.adapter.create_checkout(request)
    await harness.fault("duplicate")
    await harness.pay(request.reference)
    first, second = harness.receiver.notifications
    assert first.dedupe_key == second.dedupe_key
    assert [d["state"] for d in await harness.deliveries()] == ["delivered", "delivered"]


async def test_resend_delivers_the_same_fact_again(harness: Harness) -> None:
    request = checkout_request(harness.adapter)
    await harness.adapter.create_checkout(request)
    await harness.pay(request.reference)
    response = await harness.sim("POST", f"/__sim/resend/{request.reference}")
    assert response.status_code == 200
    await harness.flush()
    first, second = harness.receiver.notifications
    assert first.dedupe_key == second.dedupe_key


async def test_dropped_ipn_is_found_by_query(harness: Harness) -> None:
    request = checkout_request(harness.adapter)
    await harness.adapter.create_checkout(request)
    await harness.fault("drop")
    result = await harness.pay(request.reference)
    assert harness.receiver.notifications == []
    assert [d["state"] for d in await harness.deliveries()] == ["dropped"]
    report = await harness.adapter.query(ref_for(request))
    assert report.status is GatewayStatus.SUCCEEDED
    assert report.gateway_txn_id == str(result["transId"])


async def test_default_is_a_single_ipn_attempt(harness: Harness) -> None:
    request = checkout_request(harness.adapter)
    await harness.adapter.create_checkout(request)
    harness.receiver.fail_next = 1
    await harness.pay(request.reference)
    [delivery] = await harness.deliveries()
    assert len(delivery["attempts"]) == 1
    assert delivery["attempts"][0]["status_code"] == 500
    assert delivery["state"] == "gave_up"


async def test_synthetic_retry_mode_resends_until_acknowledged(momo_config: GatewayConfig) -> None:
    harness = make_harness(
        momo_config, retry=simkit.RetryPolicy(max_attempts=3, interval_seconds=0.01)
    )
    try:
        request = checkout_request(harness.adapter)
        await harness.adapter.create_checkout(request)
        harness.receiver.fail_next = 2
        await harness.pay(request.reference)
        [delivery] = await harness.deliveries()
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 204]
        assert delivery["state"] == "delivered"
        assert len(harness.receiver.notifications) == 1
    finally:
        await harness.http.aclose()


async def test_partial_then_full_refund_then_over_refund_refused(harness: Harness) -> None:
    request = checkout_request(harness.adapter)
    checkout = await harness.adapter.create_checkout(request)
    await harness.pay(request.reference)
    [notification] = harness.receiver.notifications
    ref = ref_for(request, checkout.gateway_data, notification.gateway_txn_id)

    def refund(reference: str, amount: int, full: bool) -> RefundRequest:
        return RefundRequest(
            payment=ref,
            reference=reference,
            amount=Money(amount, "VND"),
            full=full,
            reason="Hoàn tiền một phần",
            now=NOW,
        )

    partial = await harness.adapter.refund(refund("RF-1-a", 20_000, False))
    assert partial.status is RefundStatus.SUCCEEDED
    assert partial.gateway_refund_id and partial.gateway_refund_id != notification.gateway_txn_id
    report = await harness.adapter.query(ref)
    assert report.status is GatewayStatus.SUCCEEDED
    assert report.refunded == Money(20_000, "VND")

    rest = await harness.adapter.refund(refund("RF-1-b", 30_000, True))
    assert rest.status is RefundStatus.SUCCEEDED
    assert (await harness.adapter.query(ref)).refunded == Money(50_000, "VND")

    with pytest.raises(GatewayRejected) as refused:
        await harness.adapter.refund(refund("RF-1-c", 1_000, False))
    assert refused.value.gateway_code == "1081"


async def test_refund_without_known_trans_id_queries_first(harness: Harness) -> None:
    request = checkout_request(harness.adapter)
    checkout = await harness.adapter.create_checkout(request)
    await harness.pay(request.reference)
    ref = payment_ref(request.reference, dict(checkout.gateway_data))
    result = await harness.adapter.refund(
        RefundRequest(
            payment=ref,
            reference="RF-2",
            amount=Money(50_000, "VND"),
            full=True,
            reason="",
            now=NOW,
        )
    )
    assert result.status is RefundStatus.SUCCEEDED


async def test_refund_of_an_unpaid_order_is_refused(harness: Harness) -> None:
    request = checkout_request(harness.adapter)
    await harness.adapter.create_checkout(request)
    await harness.pay(request.reference, "denied")
    [notification] = harness.receiver.notifications
    ref = ref_for(request, txn=notification.gateway_txn_id)
    with pytest.raises(GatewayRejected) as refused:
        await harness.adapter.refund(
            RefundRequest(
                payment=ref,
                reference="RF-3",
                amount=Money(10_000, "VND"),
                full=False,
                reason="",
                now=NOW,
            )
        )
    assert refused.value.gateway_code == "1088"


async def test_browser_return_is_verified_even_with_ampersand_in_order_info(
    harness: Harness,
) -> None:
    request = checkout_request(harness.adapter)  # description contains "&"
    checkout = await harness.adapter.create_checkout(request)
    response = await harness.http.post(
        checkout.checkout_url,
        content=b"outcome=paid",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(RETURN_URL + "?")
    query = urlsplit(location).query.encode()
    info = harness.adapter.verify_return(
        InboundRequest(method="GET", path="/return/momo", query_string=query, headers={}, body=b"")
    )
    assert info.signature_valid
    assert info.reference == request.reference
    assert info.claimed_status is GatewayStatus.SUCCEEDED
    await harness.flush()
    assert len(harness.receiver.notifications) == 1  # the IPN went out as well

    forged = query.replace(b"resultCode=0", b"resultCode=1006")
    bad = harness.adapter.verify_return(
        InboundRequest(method="GET", path="/return/momo", query_string=forged, headers={}, body=b"")
    )
    assert not bad.signature_valid
    assert bad.claimed_status is GatewayStatus.UNKNOWN


async def test_duplicate_order_id_is_rejected_with_41(harness: Harness) -> None:
    request = checkout_request(harness.adapter)
    await harness.adapter.create_checkout(request)
    with pytest.raises(GatewayRejected) as rejected:
        await harness.adapter.create_checkout(request)
    assert rejected.value.gateway_code == "41"


@pytest.mark.parametrize("amount", [999, 50_000_001])
async def test_amount_limits_are_checked_before_calling_momo(harness: Harness, amount: int) -> None:
    request = checkout_request(harness.adapter, amount=amount)
    with pytest.raises(InvalidPaymentRequest) as refused:
        await harness.adapter.create_checkout(request)
    assert refused.value.gateway_code == "amount_limits"
    assert (await harness.sim("GET", f"/__sim/orders/{request.reference}")).status_code == 404


async def test_other_currency_and_request_type_are_refused(harness: Harness) -> None:
    with pytest.raises(InvalidPaymentRequest):
        await harness.adapter.create_checkout(
            checkout_request(harness.adapter, amount=Money(5000, "MYR"))
        )
    with pytest.raises(InvalidPaymentRequest):
        await harness.adapter.create_checkout(
            checkout_request(harness.adapter, options={"request_type": "payWithATM"})
        )


async def test_wrong_secret_key_is_a_misconfiguration(momo_config: GatewayConfig) -> None:
    wrong = dataclasses.replace(
        momo_config,
        credentials={**momo_config.credentials, "secret_key": Secret("not-the-real-key")},
    )
    harness = make_harness(momo_config)
    try:
        adapter = MomoGateway(wrong, harness.http)
        with pytest.raises(GatewayMisconfigured) as error:
            await adapter.create_checkout(checkout_request(adapter))
        assert error.value.gateway_code == "20"
        assert "not-the-real-key" not in str(error.value)
        assert "F8BBA842ECF85" not in str(error.value)
    finally:
        await harness.http.aclose()


async def test_items_and_user_info_are_passed_through(
    harness: Harness, momo_config: GatewayConfig
) -> None:
    captured: list[bytes] = []
    sim_transport = httpx.ASGITransport(app=harness.sim_app)

    async def spy(request: httpx.Request) -> httpx.Response:
        captured.append(request.content)
        return await sim_transport.handle_async_request(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(spy)) as client:
        adapter = MomoGateway(momo_config, client)
        request = checkout_request(
            adapter,
            items=(
                LineItem("Cà phê", 2, Money(20_000, "VND")),
                LineItem("Bánh", 1, Money(10_000, "VND")),
            ),
            payer=Payer(name="Nguyễn Văn A", email="a@example.com"),
        )
        await adapter.create_checkout(request)
    body = json.loads(captured[0])
    assert body["items"][0] == {
        "id": "1",
        "name": "Cà phê",
        "price": 20_000,
        "currency": "VND",
        "quantity": 2,
        "totalPrice": 40_000,
    }
    assert body["userInfo"] == {"name": "Nguyễn Văn A", "email": "a@example.com"}
    assert body["orderInfo"] == "Thanh toán đơn hàng #1 & quà"
    assert body["extraData"] and body["lang"] == "vi"


async def test_cancel_and_notification_url_are_not_supported(harness: Harness) -> None:
    with pytest.raises(NotSupported):
        await harness.adapter.cancel(payment_ref("PH240501-1-abcdef", {}))
    with pytest.raises(NotSupported):
        await harness.adapter.register_notification_url(NOTIFY_URL)

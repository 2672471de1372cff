"""The PayOS adapter against the sandbox (in process), plus failure shapes it cannot make."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payhub.gateways.base import (
    ApplyOutcome,
    CheckoutRequest,
    GatewayMisconfigured,
    GatewayRejected,
    GatewayStatus,
    GatewayUnavailable,
    InboundRequest,
    InvalidPaymentRequest,
    InvalidSignature,
    LineItem,
    MalformedNotification,
    Notification,
    NotSupported,
    PaymentRef,
    RefundRequest,
)
from payhub.gateways.payos import PayOSGateway, signing
from payhub.gateways.payos.simulator import DEFAULT_API_KEY, DEFAULT_CHECKSUM_KEY
from payhub.money import Money

from .conftest import RECEIVER_URL, SIM_ORIGIN, make_config, make_simulator

pytestmark = pytest.mark.anyio
NOW = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)


def checkout_request(gateway: PayOSGateway, serial: int = 1, **changes: Any) -> CheckoutRequest:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "reference": gateway.new_reference(serial, now),
        "amount": Money(150_000, "VND"),
        "description": "Thanh toán đơn hàng #A-1001 cho khách",
        "notify_url": RECEIVER_URL,
        "return_url": "http://shop.test/return",
        "cancel_url": "http://shop.test/cancel",
        "expires_at": now + timedelta(minutes=15),
        "now": now,
    }
    fields.update(changes)
    return CheckoutRequest(**fields)


def ref_for(checkout: Any, amount: int = 150_000, **changes: Any) -> PaymentRef:
    fields: dict[str, Any] = {
        "reference": checkout.reference,
        "amount": Money(amount, "VND"),
        "created_at": NOW,
        "gateway_data": checkout.gateway_data,
    }
    fields.update(changes)
    return PaymentRef(**fields)


class Hub:
    """A stand-in for the hub's inbound endpoint: verify, then answer as the adapter says."""

    def __init__(self, outcome_for_ok: ApplyOutcome = ApplyOutcome.APPLIED) -> None:
        self.gateway = PayOSGateway(make_config(), httpx.AsyncClient())
        self.outcome_for_ok = outcome_for_ok
        self.notifications: list[Notification] = []
        self.outcomes: list[ApplyOutcome] = []
        self.fail_next = 0

        async def webhook(request: Request) -> Response:
            raw = InboundRequest(
                method=request.method,
                path=request.url.path,
                query_string=request.url.query.encode(),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=await request.body(),
            )
            try:
                notification = self.gateway.verify_notification(raw)
            except InvalidSignature:
                outcome = ApplyOutcome.INVALID_SIGNATURE
            except MalformedNotification:
                outcome = ApplyOutcome.MALFORMED
            else:
                self.notifications.append(notification)
                if self.fail_next:
                    self.fail_next -= 1
                    outcome = ApplyOutcome.ERROR
                elif notification.reference == "123":
                    outcome = ApplyOutcome.UNKNOWN_PAYMENT
                else:
                    outcome = self.outcome_for_ok
            self.outcomes.append(outcome)
            reply = self.gateway.notification_reply(outcome)
            return Response(reply.body, reply.status_code, media_type=reply.media_type)

        self.app = Starlette(routes=[Route("/payos/webhook", webhook, methods=["POST"])])


async def with_hub(hub: Hub, attempts: int = 3) -> tuple[httpx.AsyncClient, PayOSGateway]:
    app = make_simulator(httpx.ASGITransport(app=hub.app), attempts=attempts)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SIM_ORIGIN)
    gateway = PayOSGateway(make_config(), client)
    await gateway.register_notification_url(RECEIVER_URL)
    return client, gateway


# --------------------------------------------------------------------------- create / query


async def test_create_query_cancel(gateway: PayOSGateway, sim_http: httpx.AsyncClient) -> None:
    req = checkout_request(gateway, items=(LineItem("Áo thun", 1, Money(150_000, "VND")),))
    checkout = await gateway.create_checkout(req)
    link_id = checkout.gateway_data["paymentLinkId"]
    assert checkout.reference == req.reference
    assert checkout.checkout_url == f"{SIM_ORIGIN}/web/{link_id}"
    assert checkout.gateway_data["orderCode"] == req.reference
    assert checkout.qr_content and checkout.qr_content.startswith("000201")
    assert checkout.expires_at == req.expires_at.replace(microsecond=0)
    stored = (await sim_http.get(f"/__sim/links/{link_id}")).json()
    assert stored["amount"] == 150_000  # VND, no scaling
    page = (await sim_http.get(f"/web/{link_id}")).text
    assert "Thanh toan don hang A 100" in page  # sanitised to 25 ASCII characters

    report = await gateway.query(ref_for(checkout))
    assert report.status is GatewayStatus.PENDING and report.gateway_code == "PENDING"
    assert report.amount_paid == Money(0, "VND")

    await gateway.cancel(ref_for(checkout))
    report = await gateway.query(ref_for(checkout))
    assert report.status is GatewayStatus.CANCELLED
    assert report.message == "Cancelled by merchant"
    assert report.occurred_at is not None


async def test_query_partial_then_paid(gateway: PayOSGateway, sim_http: httpx.AsyncClient) -> None:
    checkout = await gateway.create_checkout(checkout_request(gateway))
    await sim_http.post(
        f"/__sim/pay/{checkout.reference}", json={"outcome": "partial", "amount": 50_000}
    )
    report = await gateway.query(ref_for(checkout, gateway_data={}))  # by orderCode alone
    assert report.status is GatewayStatus.PARTIALLY_PAID
    assert report.amount_paid == Money(50_000, "VND")
    await sim_http.post(f"/__sim/pay/{checkout.reference}", json={"outcome": "paid"})
    report = await gateway.query(ref_for(checkout))
    assert report.status is GatewayStatus.SUCCEEDED
    assert report.amount_paid == Money(150_000, "VND")
    assert report.gateway_txn_id and report.gateway_txn_id.startswith("FT")
    assert report.occurred_at is not None and report.occurred_at.tzinfo is not None
    with pytest.raises(GatewayRejected):
        await gateway.cancel(ref_for(checkout))


async def test_expired_link_reports_expired(
    gateway: PayOSGateway, sim_http: httpx.AsyncClient
) -> None:
    checkout = await gateway.create_checkout(checkout_request(gateway))
    await sim_http.post(f"/__sim/pay/{checkout.reference}", json={"outcome": "expire"})
    assert (await gateway.query(ref_for(checkout))).status is GatewayStatus.EXPIRED


async def test_business_errors_are_rejections(gateway: PayOSGateway) -> None:
    req = checkout_request(gateway)
    await gateway.create_checkout(req)
    with pytest.raises(GatewayRejected) as duplicate:
        await gateway.create_checkout(req)
    assert duplicate.value.gateway_code == "231"
    unknown = PaymentRef(reference="999", amount=Money(1000, "VND"), created_at=NOW)
    with pytest.raises(GatewayRejected) as missing:
        await gateway.query(unknown)
    assert missing.value.gateway_code not in (None, "00")


async def test_wrong_checksum_key(sim_http: httpx.AsyncClient, gateway: PayOSGateway) -> None:
    checkout = await gateway.create_checkout(checkout_request(gateway))
    wrong = PayOSGateway(make_config(checksum_key="not-the-key"), sim_http)
    with pytest.raises(GatewayRejected) as rejected:
        await wrong.create_checkout(checkout_request(wrong, serial=2))
    assert rejected.value.gateway_code == "201"
    # A response whose signature does not verify is not trusted.
    with pytest.raises(GatewayUnavailable) as unverified:
        await wrong.query(ref_for(checkout))
    assert unverified.value.gateway_code == "bad_signature"
    # A query changes nothing at PayOS: whatever its answer, no outcome is left unknown.
    assert unverified.value.outcome_known and unverified.value.retry_safe


async def test_wrong_api_key_is_misconfiguration(sim_http: httpx.AsyncClient) -> None:
    wrong = PayOSGateway(make_config(api_key="wrong-api-key"), sim_http)
    with pytest.raises(GatewayMisconfigured) as exc:
        await wrong.create_checkout(checkout_request(wrong))
    assert "wrong-api-key" not in str(exc.value)
    assert DEFAULT_CHECKSUM_KEY not in repr(wrong)


async def test_refused_before_calling(gateway: PayOSGateway) -> None:
    with pytest.raises(InvalidPaymentRequest):
        await gateway.create_checkout(checkout_request(gateway, amount=Money(1000, "MYR")))
    with pytest.raises(InvalidPaymentRequest):
        await gateway.create_checkout(checkout_request(gateway, amount=Money(10, "VND")))
    with pytest.raises(InvalidPaymentRequest):
        await gateway.create_checkout(checkout_request(gateway, reference="ORDER-1"))
    with pytest.raises(NotSupported):
        await gateway.refund(
            RefundRequest(
                payment=PaymentRef("1", Money(1000, "VND"), NOW),
                reference="R1",
                amount=Money(1000, "VND"),
                full=True,
                reason="x",
                now=NOW,
            )
        )


async def test_description_limit_setting(sim_http: httpx.AsyncClient) -> None:
    config = make_config()
    short = PayOSGateway(
        type(config)(
            config.credentials, config.base_url, config.environment, {"description_limit": "9"}
        ),
        sim_http,
    )
    checkout = await short.create_checkout(checkout_request(short))
    stored = (await sim_http.get(f"/__sim/links/{checkout.reference}")).json()
    page = (await sim_http.get(f"/web/{stored['id']}")).text
    assert "<dd>Thanh toa</dd>" in page


def test_new_reference_is_an_order_code(offline: PayOSGateway) -> None:
    first = offline.new_reference(41, NOW)
    second = offline.new_reference(42, NOW)
    assert first != second and first.isdigit() and 1 <= int(first) <= 2**53 - 1


# --------------------------------------------------------------------------- failure shapes


def mocked(handler: Any) -> PayOSGateway:
    return PayOSGateway(
        make_config("https://payos.invalid"),
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )


def ok_ref() -> PaymentRef:
    return PaymentRef("1748746800000001", Money(150_000, "VND"), NOW, {"paymentLinkId": "a" * 32})


@pytest.mark.parametrize(
    ("handler", "error", "outcome_unknown"),
    [
        (
            lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=r)),
            GatewayUnavailable,
            True,
        ),
        (
            # Not connected: nothing was sent (payhub.gateways.transport).
            lambda r: (_ for _ in ()).throw(httpx.ConnectError("down", request=r)),
            GatewayUnavailable,
            False,
        ),
        (lambda r: httpx.Response(502, text="bad gateway"), GatewayUnavailable, True),
        (lambda r: httpx.Response(429, json={"code": "429"}), GatewayUnavailable, False),
        (lambda r: httpx.Response(200, text="<html>oops</html>"), GatewayUnavailable, True),
        (
            lambda r: httpx.Response(
                200, json={"code": "00", "desc": "success", "data": {"status": "PAID"}}
            ),
            GatewayUnavailable,
            True,
        ),
        (
            lambda r: httpx.Response(
                200,
                json={
                    "code": "00",
                    "desc": "success",
                    "data": {"status": "PAID"},
                    "signature": "ab" * 32,
                },
            ),
            GatewayUnavailable,
            True,
        ),
        (lambda r: httpx.Response(401, json={"code": "401"}), GatewayMisconfigured, None),
        (lambda r: httpx.Response(404, text="not found"), GatewayRejected, None),
    ],
    ids=["timeout", "connect", "502", "429", "garbage", "unsigned", "forged", "401", "404"],
)
async def test_failure_shapes(
    handler: Any, error: type[Exception], outcome_unknown: bool | None
) -> None:
    gateway = mocked(handler)
    # `outcome_unknown` is the create's; a query changes nothing, so it never leaves one.
    for call, unknown in (
        (lambda: gateway.create_checkout(checkout_request(gateway)), outcome_unknown),
        (lambda: gateway.query(ok_ref()), None if outcome_unknown is None else False),
    ):
        with pytest.raises(error) as exc:
            await call()
        if unknown is not None:
            assert isinstance(exc.value, GatewayUnavailable)
            assert exc.value.outcome_unknown is unknown


async def test_requests_carry_credentials_and_signature() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"code": "20", "desc": "invalid", "data": None})

    gateway = mocked(handler)
    req = checkout_request(gateway)
    with pytest.raises(GatewayRejected) as exc:
        await gateway.create_checkout(req)
    assert exc.value.gateway_code == "20"
    (request,) = seen
    assert request.url == "https://payos.invalid/v2/payment-requests"
    assert request.headers["x-api-key"] == DEFAULT_API_KEY
    body = json.loads(request.content)
    assert body["orderCode"] == int(req.reference) and body["amount"] == 150_000
    assert body["expiredAt"] == int(req.expires_at.timestamp())
    assert signing.verify_payment_request(body, body["signature"], DEFAULT_CHECKSUM_KEY)


# --------------------------------------------------------------------------- notifications


async def test_register_notification_url_gets_the_sample_through() -> None:
    hub = Hub()
    client, _ = await with_hub(hub)
    await client.aclose()
    assert hub.outcomes == [ApplyOutcome.UNKNOWN_PAYMENT]
    (sample,) = hub.notifications
    assert sample.reference == "123" and sample.dedupe_key == "123:TF230204212323"
    assert sample.occurred_at == datetime(2023, 2, 4, 11, 25, tzinfo=UTC)


async def test_register_notification_url_fails_when_hub_refuses() -> None:
    hub = Hub()
    hub.gateway = PayOSGateway(make_config(checksum_key="another-key"), httpx.AsyncClient())
    with pytest.raises(GatewayRejected) as exc:
        await with_hub(hub)
    assert exc.value.gateway_code == "20"
    assert hub.outcomes == [ApplyOutcome.INVALID_SIGNATURE]


async def pay_and_flush(
    client: httpx.AsyncClient, reference: str, **body: Any
) -> list[dict[str, Any]]:
    response = await client.post(f"/__sim/pay/{reference}", json=body)
    assert response.status_code == 200, response.text
    flushed = await client.post("/__sim/flush")
    return list(flushed.json()["deliveries"])


async def test_payment_notifications() -> None:
    hub = Hub()
    client, gateway = await with_hub(hub)
    try:
        checkout = await gateway.create_checkout(checkout_request(gateway))
        await pay_and_flush(client, checkout.reference, outcome="partial", amount=40_000)
        await pay_and_flush(client, checkout.reference, outcome="paid")
    finally:
        await client.aclose()
    _sample, partial, rest = hub.notifications
    assert partial.reference == checkout.reference
    assert partial.status is GatewayStatus.SUCCEEDED and partial.gateway_code == "00"
    assert partial.amount == Money(40_000, "VND")  # this transfer only: hub sends it to review
    assert rest.amount == Money(110_000, "VND")
    assert partial.dedupe_key == f"{checkout.reference}:{partial.gateway_txn_id}"
    assert partial.dedupe_key != rest.dedupe_key
    assert partial.occurred_at is not None
    assert abs(partial.occurred_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert partial.payload["data"]["paymentLinkId"] == checkout.gateway_data["paymentLinkId"]


async def test_fault_tamper_is_rejected_and_retried() -> None:
    hub = Hub()
    client, gateway = await with_hub(hub, attempts=3)
    try:
        checkout = await gateway.create_checkout(checkout_request(gateway))
        await client.post("/__sim/faults", json={"fault": "tamper"})
        deliveries = await pay_and_flush(client, checkout.reference, outcome="paid")
    finally:
        await client.aclose()
    assert hub.outcomes[1:] == [ApplyOutcome.INVALID_SIGNATURE] * 3
    assert deliveries[-1]["state"] == "gave_up"
    assert [a["status_code"] for a in deliveries[-1]["attempts"]] == [400, 400, 400]


async def test_fault_duplicate_arrives_twice() -> None:
    hub = Hub()
    client, gateway = await with_hub(hub)
    try:
        checkout = await gateway.create_checkout(checkout_request(gateway))
        await client.post("/__sim/faults", json={"fault": "duplicate"})
        await pay_and_flush(client, checkout.reference, outcome="paid")
    finally:
        await client.aclose()
    first, second = hub.notifications[1:]
    assert first.dedupe_key == second.dedupe_key


async def test_retry_until_acknowledged() -> None:
    hub = Hub()
    client, gateway = await with_hub(hub, attempts=3)
    try:
        checkout = await gateway.create_checkout(checkout_request(gateway))
        hub.fail_next = 1
        deliveries = await pay_and_flush(client, checkout.reference, outcome="paid")
    finally:
        await client.aclose()
    assert hub.outcomes[1:] == [ApplyOutcome.ERROR, ApplyOutcome.APPLIED]
    assert deliveries[-1]["state"] == "delivered"
    assert [a["status_code"] for a in deliveries[-1]["attempts"]] == [500, 200]


async def test_fault_drop_sends_nothing() -> None:
    hub = Hub()
    client, gateway = await with_hub(hub)
    try:
        checkout = await gateway.create_checkout(checkout_request(gateway))
        await client.post("/__sim/faults", json={"fault": "drop"})
        deliveries = await pay_and_flush(client, checkout.reference, outcome="paid")
        # The money still arrived: a query finds it.
        assert (await gateway.query(ref_for(checkout))).status is GatewayStatus.SUCCEEDED
    finally:
        await client.aclose()
    assert len(hub.notifications) == 1  # the confirm-webhook sample only
    assert deliveries[-1]["state"] == "dropped"


async def test_fault_wrong_amount_verifies_with_the_other_amount() -> None:
    hub = Hub()
    client, gateway = await with_hub(hub)
    try:
        checkout = await gateway.create_checkout(checkout_request(gateway))
        await client.post("/__sim/faults", json={"fault": "wrong_amount"})
        await pay_and_flush(client, checkout.reference, outcome="paid")
    finally:
        await client.aclose()
    notification = hub.notifications[-1]
    assert notification.amount is not None and notification.amount != Money(150_000, "VND")


# --------------------------------------------------------------------------- inbound parsing


def inbound(body: bytes, method: str = "POST", query: bytes = b"") -> InboundRequest:
    return InboundRequest(
        method, "/payos/webhook", query, {"content-type": "application/json"}, body
    )


def signed_webhook(**data_changes: Any) -> dict[str, Any]:
    from payhub.gateways.payos.simulator import CONFIRM_SAMPLE_DATA

    data = {**CONFIRM_SAMPLE_DATA, **data_changes}
    return {
        "code": "00",
        "desc": "success",
        "success": True,
        "data": data,
        "signature": signing.sign_data(data, DEFAULT_CHECKSUM_KEY),
    }


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"data": {}}',
        b'{"signature": "ab"}',
        b'{"data": [], "signature": "ab"}',
    ],
)
def test_malformed_notifications(offline: PayOSGateway, body: bytes) -> None:
    with pytest.raises(MalformedNotification):
        offline.verify_notification(inbound(body))


def test_signed_but_incomplete_is_malformed(offline: PayOSGateway) -> None:
    for changes in (
        {"orderCode": "123"},
        {"amount": 3000.5},
        {"reference": None},
        {"currency": "USD"},
    ):
        body = json.dumps(signed_webhook(**changes)).encode()
        with pytest.raises(MalformedNotification):
            offline.verify_notification(inbound(body))
    with pytest.raises(MalformedNotification):
        offline.verify_notification(inbound(json.dumps(signed_webhook()).encode(), method="GET"))


def test_notification_signature_is_checked_over_received_values(offline: PayOSGateway) -> None:
    body = signed_webhook()
    body["data"]["amount"] = 3001
    with pytest.raises(InvalidSignature):
        offline.verify_notification(inbound(json.dumps(body).encode()))
    # Escaped and raw UTF-8 encodings of the same JSON both verify.
    good = signed_webhook()
    for raw in (json.dumps(good).encode(), json.dumps(good, ensure_ascii=False).encode()):
        assert offline.verify_notification(inbound(raw)).message == "Thành công"


def test_non_success_code_settles_nothing(offline: PayOSGateway) -> None:
    body = json.dumps(signed_webhook(code="01", desc="failed")).encode()
    assert offline.verify_notification(inbound(body)).status is GatewayStatus.PENDING


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (ApplyOutcome.APPLIED, 200),
        (ApplyOutcome.DUPLICATE, 200),
        (ApplyOutcome.UNKNOWN_PAYMENT, 200),
        (ApplyOutcome.AMOUNT_MISMATCH, 200),
        (ApplyOutcome.INVALID_SIGNATURE, 400),
        (ApplyOutcome.MALFORMED, 400),
        (ApplyOutcome.ERROR, 500),
    ],
)
def test_notification_reply_table(
    offline: PayOSGateway, outcome: ApplyOutcome, status: int
) -> None:
    reply = offline.notification_reply(outcome)
    assert reply.status_code == status
    assert reply.media_type == "application/json"
    assert json.loads(reply.body)["success"] is (status == 200)


def test_verify_return(offline: PayOSGateway) -> None:
    paid = offline.verify_return(
        inbound(b"", "GET", b"code=00&id=abc&cancel=false&status=PAID&orderCode=1748746800000001")
    )
    assert paid.reference == "1748746800000001"
    assert paid.claimed_status is GatewayStatus.SUCCEEDED
    assert paid.signature_valid is False
    cancelled = offline.verify_return(
        inbound(b"", "GET", b"code=00&id=abc&cancel=true&status=PENDING&orderCode=7")
    )
    assert cancelled.claimed_status is GatewayStatus.CANCELLED
    empty = offline.verify_return(inbound(b"", "GET", b""))
    assert empty.reference is None and empty.claimed_status is GatewayStatus.PENDING

"""The ToyyibPay adapter on its own: callback parsing, replies, references, and the gateway
failure shapes the simulator cannot produce (timeouts, 5xx, garbage) via httpx.MockTransport.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import pytest

from payhub.gateways.base import (
    ApplyOutcome,
    CheckoutRequest,
    Environment,
    Gateway,
    GatewayConfig,
    GatewayMisconfigured,
    GatewayRejected,
    GatewayStatus,
    GatewayUnavailable,
    InboundRequest,
    InvalidPaymentRequest,
    InvalidSignature,
    MalformedNotification,
    NotSupported,
    PaymentRef,
    RefundRequest,
)
from payhub.gateways.toyyibpay import ToyyibPayGateway
from payhub.gateways.toyyibpay.signing import callback_hash
from payhub.money import Money
from payhub.secret import Secret

SECRET = "w5x7srq7-rx5r-3t89-2ou2-k7361x2jewhn"
FORM = "application/x-www-form-urlencoded"


def make_adapter(
    handler: Callable[[httpx.Request], httpx.Response] | None = None,
    secret: str = SECRET,
    **settings: str,
) -> ToyyibPayGateway:
    config = GatewayConfig(
        credentials={"user_secret_key": Secret(secret)},
        base_url="https://dev.toyyibpay.com/",
        environment=Environment.SANDBOX,
        settings={"category_code": "cat00001", **settings},
    )
    transport = httpx.MockTransport(handler or (lambda request: httpx.Response(500)))
    return ToyyibPayGateway(config, httpx.AsyncClient(transport=transport))


def callback(fields: dict[str, str], content_type: str = FORM) -> InboundRequest:
    return InboundRequest(
        method="POST",
        path="/callbacks/toyyibpay",
        query_string=b"",
        headers={"content-type": content_type},
        body=urlencode(fields).encode(),
    )


def signed_fields(status: str = "1", amount: str = "10.50", **extra: str) -> dict[str, str]:
    fields = {
        "refno": "TP2410213276455101",
        "status": status,
        "reason": "Approved",
        "billcode": "gcbhict9",
        "order_id": "ORD-1001",
        "amount": amount,
        "transaction_time": "2024-10-21 07:37:26",
    }
    fields["hash"] = callback_hash(SECRET, status, fields["order_id"], fields["refno"])
    fields.update(extra)
    return fields


def checkout_request(**overrides: object) -> CheckoutRequest:
    now = datetime(2024, 10, 21, 0, 0, tzinfo=UTC)
    values: dict[str, object] = {
        "reference": "PH241021000001",
        "amount": Money(1050, "MYR"),
        "description": "Order 1001",
        "notify_url": "https://hub.example/callbacks/toyyibpay",
        "return_url": "https://hub.example/return/toyyibpay",
        "cancel_url": "https://hub.example/cancel",
        "expires_at": now + timedelta(hours=1),
        "now": now,
    }
    values.update(overrides)
    return CheckoutRequest(**values)  # type: ignore[arg-type]


PAYMENT = PaymentRef(
    reference="PH241021000001",
    amount=Money(1050, "MYR"),
    created_at=datetime(2024, 10, 21, tzinfo=UTC),
    gateway_data={"bill_code": "gcbhict9", "category_code": "cat00001"},
)


def test_adapter_satisfies_the_protocol() -> None:
    adapter = make_adapter()
    assert isinstance(adapter, Gateway)
    assert SECRET not in repr(adapter)
    assert adapter.default_base_urls[Environment.SANDBOX] == "https://dev.toyyibpay.com"
    assert adapter.default_base_urls[Environment.PRODUCTION] == "https://toyyibpay.com"


def test_new_reference_uses_the_malaysia_date_and_the_serial() -> None:
    adapter = make_adapter()
    late_utc = datetime(2024, 10, 20, 18, 0, tzinfo=UTC)  # 21 Oct 02:00 in Kuala Lumpur
    assert adapter.new_reference(42, late_utc) == "PH241021000042"
    assert adapter.new_reference(1234567, late_utc) == "PH2410211234567"
    assert adapter.new_reference(1, late_utc) != adapter.new_reference(2, late_utc)


# --------------------------------------------------------------------------- callbacks


def test_verified_success_callback() -> None:
    notification = make_adapter().verify_notification(callback(signed_fields()))
    assert notification.reference == "ORD-1001"
    assert notification.status is GatewayStatus.SUCCEEDED
    assert notification.amount == Money(1050, "MYR")
    assert notification.gateway_txn_id == "TP2410213276455101"
    assert notification.dedupe_key == "gcbhict9:TP2410213276455101:1"
    assert notification.gateway_code == "1"
    assert notification.occurred_at == datetime(2024, 10, 20, 23, 37, 26, tzinfo=UTC)
    assert notification.payload["billcode"] == "gcbhict9"
    assert "hash" not in notification.payload


@pytest.mark.parametrize(
    ("status", "expected"),
    [("1", GatewayStatus.SUCCEEDED), ("2", GatewayStatus.PENDING), ("3", GatewayStatus.FAILED)],
)
def test_callback_status_mapping(status: str, expected: GatewayStatus) -> None:
    notification = make_adapter().verify_notification(callback(signed_fields(status=status)))
    assert notification.status is expected
    assert notification.dedupe_key.endswith(f":{status}")


@pytest.mark.parametrize(
    ("amount", "unit", "expected"),
    [
        ("10.50", "auto", 1050),
        ("1050", "auto", 1050),
        ("5", "ringgit", 500),
        ("1050", "sen", 1050),
        ("ten", "auto", None),
        ("", "auto", None),
    ],
)
def test_callback_amount_rules(amount: str, unit: str, expected: int | None) -> None:
    adapter = make_adapter(callback_amount_unit=unit)
    notification = adapter.verify_notification(callback(signed_fields(amount=amount)))
    assert notification.amount == (Money(expected, "MYR") if expected is not None else None)


def test_multipart_callback_is_read() -> None:
    fields = signed_fields()
    boundary = "----payhubtest"
    parts = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    )
    raw = InboundRequest(
        method="POST",
        path="/callbacks/toyyibpay",
        query_string=b"",
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        body=(parts + f"--{boundary}--\r\n").encode(),
    )
    notification = make_adapter().verify_notification(raw)
    assert notification.status is GatewayStatus.SUCCEEDED
    assert notification.amount == Money(1050, "MYR")


def test_tampered_or_unsigned_callbacks_are_refused() -> None:
    adapter = make_adapter()
    with pytest.raises(InvalidSignature):
        adapter.verify_notification(callback({**signed_fields(), "status": "3"}))
    with pytest.raises(InvalidSignature):
        adapter.verify_notification(callback({**signed_fields(), "order_id": "ORD-1002"}))
    unsigned = signed_fields()
    del unsigned["hash"]
    with pytest.raises(InvalidSignature):
        adapter.verify_notification(callback(unsigned))
    other_key = make_adapter(secret="another-account-key")
    with pytest.raises(InvalidSignature) as caught:
        other_key.verify_notification(callback(signed_fields()))
    assert SECRET not in str(caught.value)


def test_amount_is_not_covered_by_the_hash() -> None:
    # Why the capability demands a confirming query.
    forged = make_adapter().verify_notification(callback(signed_fields(amount="0.01")))
    assert forged.amount == Money(1, "MYR")
    assert ToyyibPayGateway.capabilities.notification_needs_confirmation


def test_malformed_callbacks() -> None:
    adapter = make_adapter()
    missing = signed_fields()
    del missing["order_id"]
    with pytest.raises(MalformedNotification):
        adapter.verify_notification(callback(missing))
    doubled = InboundRequest(
        method="POST",
        path="/",
        query_string=b"",
        headers={"content-type": FORM},
        body=(urlencode(signed_fields()) + "&status=3").encode(),
    )
    with pytest.raises(MalformedNotification):
        adapter.verify_notification(doubled)
    get = InboundRequest(
        method="GET",
        path="/",
        query_string=urlencode(signed_fields()).encode(),
        headers={},
        body=b"",
    )
    with pytest.raises(MalformedNotification):
        adapter.verify_notification(get)
    with pytest.raises(MalformedNotification):
        adapter.verify_notification(
            InboundRequest(method="POST", path="/", query_string=b"", headers={}, body=b"\xff\xfe")
        )


def test_notification_reply_table() -> None:
    adapter = make_adapter()
    for outcome in (
        ApplyOutcome.APPLIED,
        ApplyOutcome.DUPLICATE,
        ApplyOutcome.UNKNOWN_PAYMENT,
        ApplyOutcome.AMOUNT_MISMATCH,
    ):
        reply = adapter.notification_reply(outcome)
        assert (reply.status_code, reply.body, reply.media_type) == (200, b"OK", "text/plain")
    assert adapter.notification_reply(ApplyOutcome.INVALID_SIGNATURE).status_code == 400
    assert adapter.notification_reply(ApplyOutcome.MALFORMED).status_code == 400
    assert adapter.notification_reply(ApplyOutcome.ERROR).status_code == 500


def test_return_is_display_only() -> None:
    query = urlencode(
        {
            "status_id": "3",
            "billcode": "gcbhict9",
            "order_id": "ORD-1001",
            "msg": "Insufficient Fund",
            "transaction_id": "TP2410213276455102",
        }
    ).encode()
    info = make_adapter().verify_return(
        InboundRequest(method="GET", path="/return", query_string=query, headers={}, body=b"")
    )
    assert info.reference == "ORD-1001"
    assert info.claimed_status is GatewayStatus.FAILED
    assert info.signature_valid is False
    assert info.message == "Insufficient Fund"


# --------------------------------------------------------------------------- requests


@pytest.mark.anyio
async def test_create_bill_form_and_url() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text='[{"BillCode":"gcbhict9"}]')

    checkout = await make_adapter(handler).create_checkout(checkout_request())
    assert checkout.checkout_url == "https://dev.toyyibpay.com/gcbhict9"
    assert checkout.gateway_data == {"bill_code": "gcbhict9", "category_code": "cat00001"}
    [request] = seen
    assert str(request.url) == "https://dev.toyyibpay.com/index.php/api/createBill"
    form = dict(httpx.QueryParams(request.content.decode()))
    assert form["billAmount"] == "1050"
    assert form["billPriceSetting"] == "1"
    assert form["billPayorInfo"] == "0"  # no payer details given
    assert form["billExternalReferenceNo"] == "PH241021000001"
    assert form["billExpiryDate"] == "21-10-2024 09:00:00"  # 01:00 UTC in Kuala Lumpur
    assert form["billPaymentChannel"] == "0"
    assert "billChargeToCustomer" not in form


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"amount": Money(99, "MYR")}, "amount"),
        ({"amount": Money(3_000_001, "MYR")}, "amount"),
        ({"amount": Money(100_000, "VND")}, "currency"),
        ({"expires_at": datetime(2024, 10, 20, tzinfo=UTC)}, "expiry"),
    ],
)
async def test_requests_refused_before_calling(overrides: dict[str, object], code: str) -> None:
    with pytest.raises(InvalidPaymentRequest) as caught:
        await make_adapter(lambda r: pytest.fail("called")).create_checkout(
            checkout_request(**overrides)
        )
    assert caught.value.gateway_code == code


@pytest.mark.anyio
async def test_unknown_payment_channel_is_refused() -> None:
    with pytest.raises(InvalidPaymentRequest):
        await make_adapter().create_checkout(checkout_request(options={"payment_channel": "qr"}))


def raise_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def raise_connect(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("handler", "code"),
    [
        (raise_timeout, "timeout"),
        (lambda r: httpx.Response(502, text="Bad Gateway"), "http_502"),
        (lambda r: httpx.Response(200, text="<html>maintenance</html>"), "garbage"),
        (lambda r: httpx.Response(200, text="[]"), "no_bill_code"),
        (lambda r: httpx.Response(200, text='[{"BillCode":"../x"}]'), "bad_bill_code"),
    ],
)
async def test_create_failures_leave_the_outcome_unknown(
    handler: Callable[[httpx.Request], httpx.Response], code: str
) -> None:
    with pytest.raises(GatewayUnavailable) as caught:
        await make_adapter(handler).create_checkout(checkout_request())
    assert caught.value.outcome_unknown is True
    assert caught.value.gateway_code == code
    assert SECRET not in str(caught.value)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("handler", "code"),
    [
        (raise_connect, "connection"),  # not connected: nothing was sent
        (lambda r: httpx.Response(429), "http_429"),  # refused before processing
    ],
)
async def test_create_failures_known_to_have_done_nothing(
    handler: Callable[[httpx.Request], httpx.Response], code: str
) -> None:
    with pytest.raises(GatewayUnavailable) as caught:
        await make_adapter(handler).create_checkout(checkout_request())
    assert caught.value.outcome_unknown is False and caught.value.retry_safe
    assert caught.value.gateway_code == code
    assert SECRET not in str(caught.value)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("text", "error", "code"),
    [
        ("[KEY-DID-NOT-EXIST]", GatewayMisconfigured, "KEY-DID-NOT-EXIST"),
        ("[USER-IS-NOT-ACTIVE]", GatewayMisconfigured, "USER-IS-NOT-ACTIVE"),
        ("[FALSE]", GatewayRejected, "FALSE"),
        ('{"status":"error","msg":"Bill name is required"}', GatewayRejected, "error"),
    ],
)
async def test_create_error_bodies(text: str, error: type[Exception], code: str) -> None:
    with pytest.raises(error) as caught:
        await make_adapter(lambda r: httpx.Response(200, text=text)).create_checkout(
            checkout_request()
        )
    assert caught.value.gateway_code == code  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_http_401_is_a_misconfiguration() -> None:
    with pytest.raises(GatewayMisconfigured):
        await make_adapter(lambda r: httpx.Response(401)).create_checkout(checkout_request())


@pytest.mark.anyio
async def test_query_failures_are_safe_to_retry() -> None:
    for handler in (raise_timeout, lambda r: httpx.Response(503)):
        with pytest.raises(GatewayUnavailable) as caught:
            await make_adapter(handler).query(PAYMENT)
        assert caught.value.outcome_unknown is False
        assert caught.value.retry_safe


@pytest.mark.anyio
async def test_query_sends_only_the_bill_code() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="")

    report = await make_adapter(handler).query(PAYMENT)
    assert report.status is GatewayStatus.PENDING  # empty body: no transactions yet
    assert dict(httpx.QueryParams(seen[0].content.decode())) == {"billCode": "gcbhict9"}


def row(status: str, amount: str = "10.50", invoice: str = "TP1") -> dict[str, str]:
    return {
        "billpaymentStatus": status,
        "billpaymentAmount": amount,
        "billpaymentInvoiceNo": invoice,
        "billPaymentDate": "21-10-2024 07:37:26",
        "billpaymentChannel": "FPX B2C",
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("rows", "status", "txn"),
    [
        ([row("1", invoice="TPa"), row("4", invoice="TPb")], GatewayStatus.SUCCEEDED, "TPa"),
        ([row("4", invoice="TPb"), row("1", invoice="TPa")], GatewayStatus.SUCCEEDED, "TPa"),
        ([row("3", invoice="TPc")], GatewayStatus.FAILED, "TPc"),
        ([row("3", invoice="TPc"), row("2", invoice="TPd")], GatewayStatus.PENDING, "TPd"),
        ([row("7", invoice="TPe")], GatewayStatus.PENDING, "TPe"),
    ],
)
async def test_query_row_rules(rows: list[dict[str, str]], status: GatewayStatus, txn: str) -> None:
    handler = lambda r: httpx.Response(200, text=json.dumps(rows))  # noqa: E731
    report = await make_adapter(handler).query(PAYMENT)
    assert report.status is status
    assert report.gateway_txn_id == txn
    assert report.amount_paid == (Money(1050, "MYR") if status is GatewayStatus.SUCCEEDED else None)
    assert report.occurred_at == datetime(2024, 10, 20, 23, 37, 26, tzinfo=UTC)


@pytest.mark.anyio
async def test_paid_row_without_readable_amount_is_not_guessed() -> None:
    text = json.dumps([row("1", amount="")])
    with pytest.raises(GatewayUnavailable):
        await make_adapter(lambda r: httpx.Response(200, text=text)).query(PAYMENT)


@pytest.mark.anyio
async def test_query_without_bill_code_is_refused() -> None:
    ref = PaymentRef(reference="x", amount=Money(100, "MYR"), created_at=PAYMENT.created_at)
    with pytest.raises(InvalidPaymentRequest):
        await make_adapter().query(ref)


@pytest.mark.anyio
async def test_refund_and_webhook_registration_are_not_supported() -> None:
    adapter = make_adapter()
    refund = RefundRequest(
        payment=PAYMENT,
        reference="RF1",
        amount=Money(1050, "MYR"),
        full=True,
        reason="customer asked",
        now=datetime.now(UTC),
    )
    with pytest.raises(NotSupported):
        await adapter.refund(refund)
    with pytest.raises(NotSupported):
        await adapter.register_notification_url("https://hub.example/callbacks/toyyibpay")
    assert not ToyyibPayGateway.capabilities.refund

"""MomoGateway on its own: gateway failure shapes the simulator cannot produce
(httpx.MockTransport), IPN verification edge cases over exact bytes, and the reply table."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from payhub.gateways.base import (
    ApplyOutcome,
    CheckoutRequest,
    GatewayConfig,
    GatewayRejected,
    GatewayStatus,
    GatewayUnavailable,
    InboundRequest,
    InvalidSignature,
    MalformedNotification,
    PaymentRef,
    RefundRequest,
    RefundStatus,
)
from payhub.gateways.momo import MomoGateway, signing
from payhub.money import Money

pytestmark = pytest.mark.anyio

NOW = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)
ACCESS, SECRET = "F8BBA842ECF85", "K951B6PE1waDMi640xX08PD3vg6EkVlz"

# Reference §4.5 vector M2 (computed from the documented IPN formula with the public key).
M2_BODY = {
    "partnerCode": "MOMO",
    "orderId": "MOMO1700000000000",
    "requestId": "MOMO1700000000000",
    "amount": 50000,
    "orderInfo": "pay with MoMo",
    "orderType": "momo_wallet",
    "transId": 4088878653,
    "resultCode": 0,
    "message": "Successful.",
    "payType": "qr",
    "responseTime": 1700000060000,
    "extraData": "",
    "signature": "3a8143fa6cd64cec9ad44da05c509ce972e73ee349287f48f08edd59327b2652",
}


def ipn(body: bytes, method: str = "POST") -> InboundRequest:
    return InboundRequest(
        method=method,
        path="/callbacks/momo",
        query_string=b"",
        headers={"content-type": "application/json"},
        body=body,
    )


def adapter_with(
    momo_config: GatewayConfig, handler: Callable[[httpx.Request], httpx.Response]
) -> MomoGateway:
    return MomoGateway(momo_config, httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def checkout_request(reference: str = "PH240501-1-abcdef") -> CheckoutRequest:
    return CheckoutRequest(
        reference=reference,
        amount=Money(50_000, "VND"),
        description="Order 1",
        notify_url="http://shop.test/ipn",
        return_url="http://shop.test/return",
        cancel_url="http://shop.test/return",
        expires_at=NOW + timedelta(minutes=15),
        now=NOW,
    )


# --------------------------------------------------------------------------- IPN verification


def test_m2_ipn_verifies_over_exact_json(momo_config: GatewayConfig) -> None:
    adapter = MomoGateway(momo_config, httpx.AsyncClient())
    note = adapter.verify_notification(ipn(json.dumps(M2_BODY).encode()))
    assert note.status is GatewayStatus.SUCCEEDED
    assert note.amount == Money(50_000, "VND")
    assert note.dedupe_key == "MOMO1700000000000:4088878653:0"
    assert note.gateway_txn_id == "4088878653"
    assert note.occurred_at == datetime(2023, 11, 14, 22, 14, 20, tzinfo=UTC)


def test_m3_utf8_ipn_verifies_with_escaped_or_raw_utf8(momo_config: GatewayConfig) -> None:
    # Reference §4.5 vector M3: Vietnamese message/orderInfo, signed as UTF-8.
    body = M2_BODY | {
        "message": "Thành công.",
        "orderInfo": "Thanh toán qua MoMo",
        "signature": "890f9c108863a7611909de8044f4b56f251a1dbf1cd660ff81734302f413a441",
    }
    adapter = MomoGateway(momo_config, httpx.AsyncClient())
    for raw in (json.dumps(body).encode(), json.dumps(body, ensure_ascii=False).encode()):
        assert adapter.verify_notification(ipn(raw)).message == "Thành công."


def test_whole_numbers_printed_with_dot_zero_still_verify(momo_config: GatewayConfig) -> None:
    raw = json.dumps(M2_BODY).encode().replace(b'"amount": 50000', b'"amount": 50000.0')
    assert b"50000.0" in raw
    note = MomoGateway(momo_config, httpx.AsyncClient()).verify_notification(ipn(raw))
    assert note.amount == Money(50_000, "VND")


def test_amount_as_string_verifies_the_same(momo_config: GatewayConfig) -> None:
    raw = json.dumps(M2_BODY | {"amount": "50000"}).encode()
    note = MomoGateway(momo_config, httpx.AsyncClient()).verify_notification(ipn(raw))
    assert note.amount == Money(50_000, "VND")


@pytest.mark.parametrize(
    "change",
    [{"amount": 50001}, {"resultCode": 1006}, {"orderId": "OTHER"}, {"signature": "ab" * 32}],
)
def test_changed_ipn_is_invalid_signature(
    momo_config: GatewayConfig, change: dict[str, object]
) -> None:
    with pytest.raises(InvalidSignature):
        MomoGateway(momo_config, httpx.AsyncClient()).verify_notification(
            ipn(json.dumps(M2_BODY | change).encode())
        )


@pytest.mark.parametrize(
    "request_",
    [
        ipn(b"not json"),
        ipn(b"[1, 2]"),
        ipn(json.dumps({k: v for k, v in M2_BODY.items() if k != "transId"}).encode()),
        ipn(json.dumps({k: v for k, v in M2_BODY.items() if k != "signature"}).encode()),
        ipn(json.dumps(M2_BODY | {"extraData": {"nested": 1}}).encode()),
        ipn(json.dumps(M2_BODY).encode(), method="GET"),
    ],
)
def test_malformed_ipn(momo_config: GatewayConfig, request_: InboundRequest) -> None:
    with pytest.raises(MalformedNotification):
        MomoGateway(momo_config, httpx.AsyncClient()).verify_notification(request_)


def test_ipn_for_another_partner_is_refused(momo_config: GatewayConfig) -> None:
    body = M2_BODY | {"partnerCode": "OTHER"}
    values = {k: str(v) for k, v in body.items()} | {"accessKey": ACCESS}
    body["signature"] = signing.sign(SECRET, signing.raw_signature(signing.RESULT_FIELDS, values))
    with pytest.raises(MalformedNotification):
        MomoGateway(momo_config, httpx.AsyncClient()).verify_notification(
            ipn(json.dumps(body).encode())
        )


def test_notification_reply_table(momo_config: GatewayConfig) -> None:
    adapter = MomoGateway(momo_config, httpx.AsyncClient())
    expected = {
        ApplyOutcome.APPLIED: 204,
        ApplyOutcome.DUPLICATE: 204,
        ApplyOutcome.UNKNOWN_PAYMENT: 204,
        ApplyOutcome.AMOUNT_MISMATCH: 204,
        ApplyOutcome.INVALID_SIGNATURE: 400,
        ApplyOutcome.MALFORMED: 400,
        ApplyOutcome.ERROR: 500,
    }
    for outcome, status in expected.items():
        reply = adapter.notification_reply(outcome)
        assert reply.status_code == status
        if status == 204:
            assert reply.body == b""


def test_secrets_stay_out_of_repr(momo_config: GatewayConfig) -> None:
    adapter = MomoGateway(momo_config, httpx.AsyncClient())
    assert SECRET not in repr(adapter) and ACCESS not in repr(adapter)


# --------------------------------------------------------------------------- failure shapes


def _raise_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("slow", request=request)


def _raise_connect(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


@pytest.mark.parametrize(
    ("handler", "code", "unknown"),
    [
        (_raise_timeout, "timeout", True),
        (_raise_connect, "connection", False),  # not connected: nothing was sent
        (lambda r: httpx.Response(502, text="Bad gateway"), "http_502", True),
        (lambda r: httpx.Response(200, text="<html>oops</html>"), "bad_response", True),
        (lambda r: httpx.Response(429, json={}), "http_429", False),
        (
            lambda r: httpx.Response(
                422,
                json={"resultCode": 7000, "message": "request already processed or in progress"},
            ),
            "7000",
            True,
        ),
        (lambda r: httpx.Response(200, json={"resultCode": 99, "message": "?"}), "99", True),
        (lambda r: httpx.Response(200, json={"resultCode": 10, "message": "maint"}), "10", False),
    ],
)
async def test_create_failures_are_unavailable(
    momo_config: GatewayConfig,
    handler: Callable[[httpx.Request], httpx.Response],
    code: str,
    unknown: bool,
) -> None:
    adapter = adapter_with(momo_config, handler)
    with pytest.raises(GatewayUnavailable) as error:
        await adapter.create_checkout(checkout_request())
    assert error.value.gateway_code == code
    assert error.value.outcome_unknown is unknown
    assert error.value.retry_safe is (not unknown)


async def test_create_business_refusal_is_rejected(momo_config: GatewayConfig) -> None:
    adapter = adapter_with(
        momo_config, lambda r: httpx.Response(200, json={"resultCode": 22, "message": "range"})
    )
    with pytest.raises(GatewayRejected) as error:
        await adapter.create_checkout(checkout_request())
    assert error.value.gateway_code == "22" and error.value.retry_safe


def _create_answer(request: httpx.Request, fields: tuple[str, ...], key: str) -> httpx.Response:
    sent = json.loads(request.content)
    answer = {
        "partnerCode": "MOMO",
        "requestId": sent["requestId"],
        "orderId": sent["orderId"],
        "amount": sent["amount"],
        "responseTime": 1714532400000,
        "message": "Successful.",
        "resultCode": 0,
        "payUrl": "https://test-payment.momo.vn/v2/gateway/pay?t=abc",
    }
    values = {k: str(v) for k, v in answer.items()} | {"accessKey": ACCESS}
    answer["signature"] = signing.sign(key, signing.raw_signature(fields, values))
    return httpx.Response(200, json=answer)


@pytest.mark.parametrize(
    "fields", [signing.CREATE_RESPONSE_FIELDS, signing.CREATE_RESPONSE_FIELDS_WITH_MESSAGE]
)
async def test_both_response_signature_variants_are_accepted(
    momo_config: GatewayConfig, fields: tuple[str, ...]
) -> None:
    adapter = adapter_with(momo_config, lambda r: _create_answer(r, fields, SECRET))
    checkout = await adapter.create_checkout(checkout_request())
    assert checkout.checkout_url.endswith("?t=abc")
    assert checkout.qr_content is None


async def test_bad_response_signature_lenient_by_default_strict_on_request(
    momo_config: GatewayConfig,
) -> None:
    def forged(request: httpx.Request) -> httpx.Response:
        return _create_answer(request, signing.CREATE_RESPONSE_FIELDS, "wrong-key")

    await adapter_with(momo_config, forged).create_checkout(checkout_request())
    strict = GatewayConfig(
        credentials=momo_config.credentials,
        base_url=momo_config.base_url,
        environment=momo_config.environment,
        settings={"response_signature": "strict"},
    )
    with pytest.raises(GatewayUnavailable) as error:
        await adapter_with(strict, forged).create_checkout(checkout_request())
    assert error.value.gateway_code == "response_signature"


async def test_base_url_may_include_the_api_prefix(momo_config: GatewayConfig) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return _create_answer(request, signing.CREATE_RESPONSE_FIELDS, SECRET)

    config = GatewayConfig(
        credentials=momo_config.credentials,
        base_url="https://test-payment.momo.vn/v2/gateway/api/",
        environment=momo_config.environment,
    )
    await adapter_with(config, handler).create_checkout(checkout_request())
    assert seen == ["https://test-payment.momo.vn/v2/gateway/api/create"]


# --------------------------------------------------------------------------- refund: pending

PAID = PaymentRef(
    "PH240501-1-abcdef",
    Money(50_000, "VND"),
    NOW,
    {"orderId": "PH240501-1-abcdef"},
    gateway_txn_id="4088878653",
)


def _refund_answer(http_status: int, result_code: int) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        answer = {
            "partnerCode": "MOMO",
            "orderId": sent["orderId"],
            "requestId": sent["requestId"],
            "amount": sent["amount"],
            "transId": 4088878700,
            "resultCode": result_code,
            "message": "refund",
            "responseTime": 1714532400000,
        }
        return httpx.Response(http_status, json=answer)

    return handler


@pytest.mark.parametrize(
    ("http_status", "result_code", "status"),
    [
        pytest.param(200, 7000, RefundStatus.PENDING, id="7000 being processed"),
        pytest.param(200, 7002, RefundStatus.PENDING, id="7002 processed by the provider"),
        pytest.param(422, 7000, RefundStatus.PENDING, id="422 7000 already in progress"),
        pytest.param(200, 0, RefundStatus.SUCCEEDED, id="0 refunded"),
        pytest.param(200, 1080, RefundStatus.FAILED, id="1080 failed, retry later"),
    ],
)
async def test_a_refund_momo_is_still_processing_is_pending_never_succeeded(
    momo_config: GatewayConfig, http_status: int, result_code: int, status: RefundStatus
) -> None:
    adapter = adapter_with(momo_config, _refund_answer(http_status, result_code))
    request = RefundRequest(PAID, "RF240501-1-abcdef", Money(20_000, "VND"), False, "r", NOW)
    result = await adapter.refund(request)
    assert result.status is status
    assert result.gateway_code == str(result_code)

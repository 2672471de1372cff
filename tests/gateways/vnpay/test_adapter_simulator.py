"""Contract: the VNPay adapter against the VNPay simulator, in-process over ASGI.

Covers the pay URL, buyer outcomes, IPN delivery into a small receiver that uses the adapter's
verify_notification + notification_reply (including VNPay's retry on a non-00/02 answer and
injected faults), querydr, refunds, and the failure shapes only a mock transport can produce.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from payhub.clock import FrozenClock
from payhub.gateways import simkit
from payhub.gateways.base import (
    ApplyOutcome,
    Environment,
    GatewayConfig,
    GatewayMisconfigured,
    GatewayRejected,
    GatewayStatus,
    GatewayUnavailable,
    InvalidPaymentRequest,
    InvalidSignature,
    MalformedNotification,
    NotSupported,
    PaymentRef,
    RefundRef,
    RefundRequest,
    RefundStatus,
)
from payhub.gateways.vnpay import ENTRY, signing, wire
from payhub.gateways.vnpay.adapter import VnpayGateway
from payhub.money import Money
from payhub.secret import Secret

from .harness import (
    HASH_SECRET,
    HUB_IPN_URL,
    RETURN_URL,
    SIM_ORIGIN,
    TMN_CODE,
    Receiver,
    checkout_request,
    gateway_config,
    inbound,
    sim_client,
    simulator,
)

pytestmark = pytest.mark.anyio

REQUIRED_PAY_FIELDS = {
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_Amount",
    "vnp_CreateDate",
    "vnp_CurrCode",
    "vnp_IpAddr",
    "vnp_Locale",
    "vnp_OrderInfo",
    "vnp_OrderType",
    "vnp_ReturnUrl",
    "vnp_ExpireDate",
    "vnp_TxnRef",
    "vnp_SecureHash",
}


class Rig:
    """Simulator + adapter + receiver wired together."""

    def __init__(self, retry: simkit.RetryPolicy | None = None) -> None:
        # One client reaches the simulator for both the "browser" and the adapter's API calls.
        self.receiver = Receiver(adapter=None)  # type: ignore[arg-type]
        self.app = simulator(self.receiver.app(), retry=retry)
        self.client = sim_client(self.app)
        self.adapter = VnpayGateway(gateway_config(), self.client)
        self.receiver.adapter = self.adapter
        self._serial = 0

    async def __aenter__(self) -> Rig:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def create(self, amount: int = 150_000) -> tuple[str, PaymentRef, str]:
        self._serial += 1
        now = datetime.now(UTC)
        reference = self.adapter.new_reference(self._serial, now)
        checkout = await self.adapter.create_checkout(checkout_request(reference, amount, now))
        self.receiver.expected_amounts[reference] = Money(amount, "VND")
        response = await self.client.get(checkout.checkout_url)
        assert response.status_code == 302, response.headers
        assert response.headers["location"].startswith(wire.CHECKOUT_PATH)
        ref = PaymentRef(
            reference=reference,
            amount=Money(amount, "VND"),
            created_at=now,
            gateway_data=checkout.gateway_data,
        )
        return reference, ref, response.headers["location"]

    async def pay(self, reference: str, outcome: str) -> dict[str, object]:
        response = await self.client.post(f"/__sim/pay/{reference}", json={"outcome": outcome})
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def flush(self) -> list[dict[str, object]]:
        response = await self.client.post("/__sim/flush")
        return list(response.json()["deliveries"])

    def outcomes(self) -> list[ApplyOutcome]:
        return [outcome for _, outcome in self.receiver.calls]


# --------------------------------------------------------------------------- create


async def test_create_checkout_builds_a_complete_signed_pay_url(host_tz: str) -> None:
    async with httpx.AsyncClient() as http:
        adapter = VnpayGateway(gateway_config(), http)
        now = datetime(2024, 5, 21, 2, 15, 0, tzinfo=UTC)
        checkout = await adapter.create_checkout(
            checkout_request("PH2405210000011A2B", 150_000, now)
        )
    url = urlsplit(checkout.checkout_url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == SIM_ORIGIN + wire.PAY_PATH
    pairs = parse_qsl(url.query, keep_blank_values=True)
    params = dict(pairs)
    assert set(params) == REQUIRED_PAY_FIELDS
    assert pairs[-1][0] == "vnp_SecureHash"
    assert signing.verify_query(HASH_SECRET, pairs, params["vnp_SecureHash"])
    assert params["vnp_Amount"] == "15000000"
    assert params["vnp_CreateDate"] == "20240521091500"
    assert params["vnp_ExpireDate"] == "20240521093000"
    assert params["vnp_OrderInfo"] == "Thanh toan don hang #42"
    assert params["vnp_ReturnUrl"] == RETURN_URL
    assert params["vnp_Locale"] == "vn"
    assert params["vnp_TmnCode"] == TMN_CODE
    assert checkout.expires_at == now + timedelta(minutes=15)
    assert checkout.gateway_data == {
        "vnp_TxnRef": "PH2405210000011A2B",
        "vnp_CreateDate": "20240521091500",
        "vnp_ExpireDate": "20240521093000",
        "vnp_OrderInfo": "Thanh toan don hang #42",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount": Money(100_000, "MYR")}, "VND"),
        ({"amount": Money(4_999, "VND")}, "5000"),
        ({"amount": Money(1_000_000_000, "VND")}, "999999999"),
        ({"reference": "bad ref!"}, "alphanumeric"),
        ({"reference": ""}, "1..100"),
        ({"expires_at": datetime(2020, 1, 1, tzinfo=UTC)}, "future"),
    ],
)
async def test_create_checkout_refuses_bad_requests(
    change: dict[str, object], message: str
) -> None:
    import dataclasses

    req = dataclasses.replace(checkout_request("PH1"), **change)  # type: ignore[arg-type]
    async with httpx.AsyncClient() as http:
        with pytest.raises(InvalidPaymentRequest, match=message):
            await VnpayGateway(gateway_config(), http).create_checkout(req)


async def test_new_reference_is_fresh_alphanumeric_and_uses_the_vietnam_date(host_tz: str) -> None:
    async with httpx.AsyncClient() as http:
        adapter = VnpayGateway(gateway_config(), http)
        # 18:30 UTC on the 20th is already the 21st in Vietnam.
        now = datetime(2024, 5, 20, 18, 30, tzinfo=UTC)
        first = adapter.new_reference(42, now)
        second = adapter.new_reference(42, now)
    assert re.fullmatch(r"PH240521000042[0-9A-F]{4}", first)
    assert first != second


async def test_missing_secret_is_misconfiguration_and_never_printed() -> None:
    config = GatewayConfig(
        credentials={"tmn_code": Secret(TMN_CODE)},
        base_url=SIM_ORIGIN,
        environment=Environment.SIMULATOR,
    )
    async with httpx.AsyncClient() as http:
        adapter = VnpayGateway(config, http)
        with pytest.raises(GatewayMisconfigured):
            await adapter.create_checkout(checkout_request("PH1"))
        good = VnpayGateway(gateway_config(), http)
        assert HASH_SECRET not in repr(good)
        with pytest.raises(InvalidSignature) as caught:
            good.verify_notification(inbound("vnp_TxnRef=1&vnp_SecureHash=00"))
        assert HASH_SECRET not in str(caught.value)


def test_entry_and_protocol_attributes() -> None:
    assert ENTRY.adapter is VnpayGateway
    assert VnpayGateway.name == "vnpay"
    assert [f.name for f in VnpayGateway.credential_fields] == ["tmn_code", "hash_secret"]
    assert [f.secret for f in VnpayGateway.credential_fields] == [False, True]
    assert VnpayGateway.capabilities.cancel is False
    assert VnpayGateway.capabilities.partial_refund is True
    assert ENTRY.sandbox_profile().default_port == 8102


# --------------------------------------------------------------------------- pay + IPN


async def test_browser_pay_success_return_ipn_and_query(host_tz: str) -> None:
    async with Rig() as rig:
        reference, ref, location = await rig.create()
        page = await rig.client.get(location)
        token = re.search(r'name="token" value="([^"]+)"', page.text)
        assert token is not None
        response = await rig.client.post(
            wire.CHECKOUT_PATH, data={"token": token.group(1), "outcome": "success"}
        )
        assert response.status_code == 302
        back = response.headers["location"]
        assert back.startswith(RETURN_URL + "&vnp_")
        info = rig.adapter.verify_return(inbound(back))
        assert info.signature_valid
        assert info.claimed_status is GatewayStatus.SUCCEEDED
        assert info.reference == reference

        deliveries = await rig.flush()
        assert [d["state"] for d in deliveries] == ["delivered"]
        assert deliveries[0]["url"].startswith(HUB_IPN_URL + "?")
        assert rig.outcomes() == [ApplyOutcome.APPLIED]
        (note,) = rig.receiver.facts.values()
        assert note.status is GatewayStatus.SUCCEEDED
        assert note.amount == Money(150_000, "VND")
        assert note.reference == reference
        assert note.gateway_code == "00/00"
        assert note.gateway_txn_id is not None
        assert note.dedupe_key == f"{reference}:{note.gateway_txn_id}:00:00"
        assert note.occurred_at is not None
        assert abs(note.occurred_at - datetime.now(UTC)) < timedelta(minutes=1)

        report = await rig.adapter.query(ref)
        assert report.status is GatewayStatus.SUCCEEDED
        assert report.amount_paid == Money(150_000, "VND")
        assert report.gateway_txn_id == note.gateway_txn_id
        assert report.gateway_code == "00"


@pytest.mark.parametrize(
    ("outcome", "status", "query_status"),
    [
        ("cancel", GatewayStatus.CANCELLED, GatewayStatus.FAILED),
        ("insufficient", GatewayStatus.FAILED, GatewayStatus.FAILED),
        ("timeout", GatewayStatus.EXPIRED, GatewayStatus.FAILED),
        ("fraud", GatewayStatus.PENDING, GatewayStatus.PENDING),
    ],
)
async def test_non_success_outcomes(
    outcome: str, status: GatewayStatus, query_status: GatewayStatus
) -> None:
    async with Rig() as rig:
        reference, ref, _ = await rig.create()
        result = await rig.pay(reference, outcome)
        info = rig.adapter.verify_return(inbound(str(result["return_url"])))
        assert info.claimed_status is status
        await rig.flush()
        assert rig.outcomes() == [ApplyOutcome.APPLIED]
        (note,) = rig.receiver.facts.values()
        assert note.status is status
        if outcome == "cancel":
            assert note.gateway_txn_id is None
            assert note.dedupe_key == f"{reference}:0:24:02"
        report = await rig.adapter.query(ref)
        assert report.status is query_status
        assert report.amount_paid is None


async def test_ipn_is_retried_after_99_until_00() -> None:
    async with Rig() as rig:
        reference, _, _ = await rig.create()
        rig.receiver.forced = [ApplyOutcome.ERROR]
        await rig.pay(reference, "success")
        (delivery,) = await rig.flush()
        assert delivery["state"] == "delivered"
        assert len(delivery["attempts"]) == 2
        assert json.loads(delivery["attempts"][0]["response_body"])["RspCode"] == "99"
        assert json.loads(delivery["attempts"][1]["response_body"])["RspCode"] == "00"
        assert rig.outcomes() == [ApplyOutcome.ERROR, ApplyOutcome.APPLIED]


async def test_ipn_gives_up_after_ten_calls() -> None:
    async with Rig() as rig:
        reference, _, _ = await rig.create()
        rig.receiver.forced = [ApplyOutcome.UNKNOWN_PAYMENT] * 20
        await rig.pay(reference, "success")
        (delivery,) = await rig.flush()
        assert delivery["state"] == "gave_up"
        assert len(delivery["attempts"]) == 10
        assert len(rig.receiver.calls) == 10


async def test_duplicate_ipn_is_acknowledged_as_already_confirmed() -> None:
    async with Rig() as rig:
        reference, _, _ = await rig.create()
        await rig.client.post("/__sim/faults", json={"fault": "duplicate", "count": 1})
        await rig.pay(reference, "success")
        deliveries = await rig.flush()
        assert [d["state"] for d in deliveries] == ["delivered", "delivered"]
        assert sorted(rig.outcomes()) == sorted([ApplyOutcome.APPLIED, ApplyOutcome.DUPLICATE])
        assert len(rig.receiver.facts) == 1


async def test_tampered_ipn_is_rejected_with_invalid_signature() -> None:
    async with Rig(retry=simkit.RetryPolicy(max_attempts=3, interval_seconds=0.0)) as rig:
        reference, _, _ = await rig.create()
        await rig.client.post("/__sim/faults", json={"fault": "tamper"})
        await rig.pay(reference, "success")
        (delivery,) = await rig.flush()
        assert rig.outcomes() == [ApplyOutcome.INVALID_SIGNATURE] * 3
        assert json.loads(delivery["attempts"][0]["response_body"]) == {
            "RspCode": "97",
            "Message": "Invalid signature",
        }
        with pytest.raises(InvalidSignature):
            rig.adapter.verify_notification(inbound(rig.receiver.calls[0][0]))
        assert rig.receiver.facts == {}


async def test_dropped_ipn_sends_nothing_but_query_still_finds_the_payment() -> None:
    async with Rig() as rig:
        reference, ref, _ = await rig.create()
        await rig.client.post("/__sim/faults", json={"fault": "drop"})
        await rig.pay(reference, "success")
        (delivery,) = await rig.flush()
        assert delivery["state"] == "dropped"
        assert rig.receiver.calls == []
        assert (await rig.adapter.query(ref)).status is GatewayStatus.SUCCEEDED


async def test_wrong_amount_ipn_is_a_valid_mismatch_answered_04_then_02() -> None:
    async with Rig() as rig:
        reference, _, _ = await rig.create()
        await rig.client.post("/__sim/faults", json={"fault": "wrong_amount"})
        await rig.pay(reference, "success")
        (delivery,) = await rig.flush()
        assert rig.outcomes() == [ApplyOutcome.AMOUNT_MISMATCH, ApplyOutcome.DUPLICATE]
        assert delivery["state"] == "delivered"
        (note,) = rig.receiver.facts.values()
        assert note.amount == Money(151_000, "VND")


async def test_reordered_ipn_arrives_after_the_next_one() -> None:
    async with Rig() as rig:
        first, _, _ = await rig.create()
        second, _, _ = await rig.create()
        await rig.client.post("/__sim/faults", json={"fault": "reorder"})
        await rig.pay(first, "success")
        await rig.pay(second, "success")
        await rig.flush()
        refs = [dict(parse_qsl(query))["vnp_TxnRef"] for query, _ in rig.receiver.calls]
        assert refs == [second, first]


# --------------------------------------------------------------------------- verify


async def test_verify_notification_shapes() -> None:
    async with httpx.AsyncClient() as http:
        adapter = VnpayGateway(gateway_config(), http)

        def signed(**params: str) -> str:
            ordered = sorted(params.items())
            return urlencode(
                [*ordered, ("vnp_SecureHash", signing.sign_query(HASH_SECRET, ordered))]
            )

        base = {
            "vnp_Amount": "15000000",
            "vnp_ResponseCode": "00",
            "vnp_TmnCode": TMN_CODE,
            "vnp_TransactionNo": "14422574",
            "vnp_TransactionStatus": "00",
            "vnp_TxnRef": "PH1",
        }
        ok = adapter.verify_notification(inbound("account=7&" + signed(**base)))
        assert ok.status is GatewayStatus.SUCCEEDED
        assert ok.occurred_at is None
        with pytest.raises(InvalidSignature):
            adapter.verify_notification(inbound(urlencode(base)))
        with pytest.raises(MalformedNotification):
            adapter.verify_notification(inbound(""))
        with pytest.raises(MalformedNotification):
            adapter.verify_notification(inbound(signed(**base) + "&vnp_TxnRef=PH2"))
        with pytest.raises(MalformedNotification):
            adapter.verify_notification(inbound(signed(**{**base, "vnp_TxnRef": ""})))
        with pytest.raises(MalformedNotification):
            adapter.verify_notification(inbound(signed(**{**base, "vnp_Amount": "15000050"})))
        with pytest.raises(MalformedNotification):
            adapter.verify_notification(inbound(signed(**{**base, "vnp_TmnCode": "OTHER001"})))
        with pytest.raises(MalformedNotification):
            adapter.verify_notification(inbound(signed(**{**base, "vnp_PayDate": "yesterday"})))
        # The hash type is stripped before hashing; upper-case hashes verify.
        query = signed(**base)
        head, digest = query.rsplit("=", 1)
        upper = adapter.verify_notification(
            inbound(f"{head}={digest.upper()}&vnp_SecureHashType=HmacSHA512")
        )
        assert upper.dedupe_key == ok.dedupe_key
        bad = adapter.verify_return(inbound(urlencode(base) + "&vnp_SecureHash=abc"))
        assert not bad.signature_valid
        assert bad.claimed_status is GatewayStatus.UNKNOWN
        assert bad.reference == "PH1"


async def test_notification_reply_is_vnpay_json() -> None:
    async with httpx.AsyncClient() as http:
        adapter = VnpayGateway(gateway_config(), http)
    reply = adapter.notification_reply(ApplyOutcome.DUPLICATE)
    assert reply.status_code == 200
    assert reply.media_type == "application/json"
    assert json.loads(reply.body) == {"RspCode": "02", "Message": "Order already confirmed"}


# --------------------------------------------------------------------------- query


async def test_query_of_an_unpaid_attempt_is_pending_then_expired_after_grace() -> None:
    async with Rig() as rig:
        _, ref, _ = await rig.create()
        report = await rig.adapter.query(ref)
        assert report.status is GatewayStatus.PENDING
        assert report.gateway_code == "91"
        later = datetime.now(UTC) + timedelta(minutes=21)
        rig.adapter.clock = FrozenClock(later)
        report = await rig.adapter.query(ref)
        assert report.status is GatewayStatus.EXPIRED


async def test_query_rate_limited_is_unavailable_but_safe_to_retry() -> None:
    async with Rig() as rig:
        _, ref, _ = await rig.create()
        await rig.client.post("/__sim/faults", json={"fault": "querydr_busy"})
        with pytest.raises(GatewayUnavailable) as caught:
            await rig.adapter.query(ref)
        assert caught.value.gateway_code == "94"
        assert caught.value.outcome_unknown is False


async def test_query_with_wrong_secret_is_misconfiguration() -> None:
    app = simulator(extra={"ipn_url": ""})
    async with sim_client(app) as client:
        adapter = VnpayGateway(gateway_config(secret="wrong"), client)
        ref = PaymentRef("PH1", Money(150_000, "VND"), datetime.now(UTC))
        with pytest.raises(GatewayMisconfigured) as caught:
            await adapter.query(ref)
        assert caught.value.gateway_code == "97"


def mock_adapter(handler: object) -> VnpayGateway:
    transport = httpx.MockTransport(handler)  # type: ignore[arg-type]
    return VnpayGateway(gateway_config(), httpx.AsyncClient(transport=transport))


REF = PaymentRef(
    "PH1",
    Money(150_000, "VND"),
    datetime(2024, 5, 21, 2, 15, tzinfo=UTC),
    gateway_data={"vnp_CreateDate": "20240521091500"},
    gateway_txn_id="14422574",
)


def timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("slow", request=request)


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


@pytest.mark.parametrize(
    ("handler", "unknown"),
    [
        pytest.param(timeout, True, id="timeout"),
        # Not connected: nothing was sent. 429: refused before processing.
        pytest.param(refused, False, id="connect error"),
        pytest.param(lambda r: httpx.Response(502, text="bad gateway"), True, id="502"),
        pytest.param(lambda r: httpx.Response(200, text="<html>"), True, id="garbage"),
        pytest.param(lambda r: httpx.Response(200, json=[1]), True, id="not an object"),
        pytest.param(lambda r: httpx.Response(429), False, id="429"),
    ],
)
async def test_query_and_refund_failure_shapes(handler: object, unknown: bool) -> None:
    adapter = mock_adapter(handler)
    # `unknown` is the refund's; querydr changes nothing, so it never leaves one.
    with pytest.raises(GatewayUnavailable) as caught:
        await adapter.query(REF)
    assert caught.value.outcome_unknown is False
    refund = RefundRequest(REF, "RF1", Money(150_000, "VND"), True, "r", datetime.now(UTC))
    with pytest.raises(GatewayUnavailable) as caught:
        await adapter.refund(refund)
    assert caught.value.outcome_unknown is unknown


async def test_query_answer_with_a_bad_signature_is_rejected() -> None:
    def forged(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        answer = {
            "vnp_ResponseId": "1",
            "vnp_Command": "querydr",
            "vnp_ResponseCode": "00",
            "vnp_Message": "QueryDR Success",
            "vnp_TmnCode": TMN_CODE,
            "vnp_TxnRef": body["vnp_TxnRef"],
            "vnp_Amount": "15000000",
            "vnp_TransactionStatus": "00",
            "vnp_TransactionType": "01",
        }
        answer["vnp_SecureHash"] = signing.sign_fields(
            "not-the-secret", answer, signing.QUERYDR_RESPONSE_FIELDS
        )
        return httpx.Response(200, json=answer)

    with pytest.raises(InvalidSignature):
        await mock_adapter(forged).query(REF)


async def test_query_request_is_signed_with_the_stored_create_date() -> None:
    seen: list[dict[str, str]] = []

    def capture(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"vnp_ResponseCode": "91", "vnp_Message": "not found"})

    report = await mock_adapter(capture).query(REF)
    assert report.status is GatewayStatus.PENDING  # no vnp_ExpireDate stored: never guessed
    (body,) = seen
    assert body["vnp_TransactionDate"] == "20240521091500"
    assert body["vnp_Command"] == "querydr"
    assert signing.verify_fields(
        HASH_SECRET, body, signing.QUERYDR_REQUEST_FIELDS, body["vnp_SecureHash"]
    )


# --------------------------------------------------------------------------- refund


async def test_full_refund_then_over_refund_is_refused() -> None:
    async with Rig() as rig:
        reference, ref, _ = await rig.create()
        result = await rig.pay(reference, "success")
        paid = PaymentRef(
            ref.reference,
            ref.amount,
            ref.created_at,
            ref.gateway_data,
            gateway_txn_id=str(dict(result["params"])["vnp_TransactionNo"]),  # type: ignore[call-overload]
        )
        now = datetime.now(UTC)
        refund = await rig.adapter.refund(
            RefundRequest(paid, "RF1", Money(150_000, "VND"), True, "Khách đổi ý", now)
        )
        assert refund.status is RefundStatus.PENDING
        assert refund.gateway_code == "05"
        assert refund.gateway_refund_id
        with pytest.raises(GatewayRejected) as caught:
            await rig.adapter.refund(
                RefundRequest(paid, "RF2", Money(1_000, "VND"), False, "again", now)
            )
        assert caught.value.gateway_code == "03"


async def test_partial_refunds_up_to_the_amount_paid() -> None:
    async with Rig() as rig:
        reference, ref, _ = await rig.create()
        await rig.pay(reference, "success")
        now = datetime.now(UTC)
        first = await rig.adapter.refund(
            RefundRequest(ref, "RF1", Money(50_000, "VND"), False, "part", now)
        )
        assert first.status is RefundStatus.PENDING
        # The same refund reference again: VNPay says it is already being processed.
        repeat = await rig.adapter.refund(
            RefundRequest(ref, "RF1", Money(50_000, "VND"), False, "part", now)
        )
        assert (repeat.status, repeat.gateway_code) == (RefundStatus.PENDING, "94")
        second = await rig.adapter.refund(
            RefundRequest(ref, "RF2", Money(100_000, "VND"), False, "rest", now)
        )
        assert second.status is RefundStatus.PENDING
        with pytest.raises(GatewayRejected):
            await rig.adapter.refund(
                RefundRequest(ref, "RF3", Money(1, "VND"), False, "too much", now)
            )
        with pytest.raises(InvalidPaymentRequest):
            await rig.adapter.refund(
                RefundRequest(ref, "RF4", Money(150_001, "VND"), False, "more than paid", now)
            )
        with pytest.raises(InvalidPaymentRequest):
            await rig.adapter.refund(
                RefundRequest(ref, "RF5", Money(100, "VND"), True, "full but not whole", now)
            )


@pytest.mark.parametrize(
    ("fault", "final", "code"),
    [
        ("refund_processing", RefundStatus.SUCCEEDED, "00"),
        ("refund_rejected", RefundStatus.FAILED, "09"),
    ],
)
async def test_a_processing_refund_is_seen_through_querydr_until_final(
    fault: str, final: RefundStatus, code: str
) -> None:
    async with Rig() as rig:
        reference, ref, _ = await rig.create()
        await rig.pay(reference, "success")
        r = await rig.client.post("/__sim/faults", json={"fault": fault, "count": 2})
        assert r.status_code == 200, r.text
        now = datetime.now(UTC)
        accepted = await rig.adapter.refund(
            RefundRequest(ref, "RF1", Money(50_000, "VND"), False, "part", now)
        )
        assert (accepted.status, accepted.gateway_code) == (RefundStatus.PENDING, "05")
        asked = RefundRef(ref, "RF1", Money(50_000, "VND"), accepted.gateway_refund_id, now)
        seen = [await rig.adapter.refund_status(asked) for _ in range(4)]
        assert [(x.status, x.gateway_code) for x in seen] == [
            (RefundStatus.PENDING, "05"),
            (RefundStatus.PENDING, "05"),
            (final, code),
            (final, code),
        ]
        # The payment itself is still paid, as its own query says.
        assert (await rig.adapter.query(ref)).status is GatewayStatus.SUCCEEDED
        listed = (await rig.client.get("/__sim/transactions")).json()
        [txn] = [t for t in listed if t["txn_ref"] == reference]
        assert txn["refunded"] == (50_000 if final is RefundStatus.SUCCEEDED else 0)


async def test_refund_status_while_throttled_names_a_delay() -> None:
    async with Rig() as rig:
        reference, ref, _ = await rig.create()
        await rig.pay(reference, "success")
        now = datetime.now(UTC)
        await rig.adapter.refund(RefundRequest(ref, "RF1", Money(50_000, "VND"), False, "x", now))
        await rig.client.post("/__sim/faults", json={"fault": "querydr_busy", "count": 1})
        with pytest.raises(GatewayUnavailable) as caught:
            await rig.adapter.refund_status(RefundRef(ref, "RF1", Money(50_000, "VND"), None, now))
        assert caught.value.gateway_code == "94" and caught.value.retry_after == 300.0


async def test_refund_of_a_failed_payment_is_refused() -> None:
    async with Rig() as rig:
        reference, ref, _ = await rig.create()
        await rig.pay(reference, "insufficient")
        with pytest.raises(GatewayRejected) as caught:
            await rig.adapter.refund(
                RefundRequest(ref, "RF1", ref.amount, True, "x", datetime.now(UTC))
            )
        assert caught.value.gateway_code == "95"


async def test_cancel_and_register_url_are_not_supported() -> None:
    async with Rig() as rig:
        _, ref, _ = await rig.create()
        with pytest.raises(NotSupported):
            await rig.adapter.cancel(ref)
        with pytest.raises(NotSupported):
            await rig.adapter.register_notification_url(HUB_IPN_URL)


# --------------------------------------------------------------------------- refund: pending


def refund_answer(
    response_code: str, transaction_status: str = ""
) -> Callable[[httpx.Request], httpx.Response]:
    """A VNPay refund answer, signed as VNPay signs it when the response code is 00."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        answer = {
            "vnp_ResponseId": "r1",
            "vnp_Command": "refund",
            "vnp_ResponseCode": response_code,
            "vnp_Message": "Refund",
            "vnp_TmnCode": TMN_CODE,
            "vnp_TxnRef": body["vnp_TxnRef"],
            "vnp_Amount": body["vnp_Amount"],
            "vnp_BankCode": "NCB",
            "vnp_PayDate": "20240521100000",
            "vnp_TransactionNo": "14422575",
            "vnp_TransactionType": body["vnp_TransactionType"],
            "vnp_TransactionStatus": transaction_status,
            "vnp_OrderInfo": body["vnp_OrderInfo"],
        }
        answer["vnp_SecureHash"] = signing.sign_fields(
            HASH_SECRET, answer, signing.REFUND_RESPONSE_FIELDS
        )
        return httpx.Response(200, json=answer)

    return handler


@pytest.mark.parametrize(
    ("response_code", "transaction_status", "status"),
    [
        pytest.param("00", "05", RefundStatus.PENDING, id="05 VNPay processing"),
        pytest.param("00", "06", RefundStatus.PENDING, id="06 sent to the bank"),
        pytest.param("94", "", RefundStatus.PENDING, id="94 already requested, processing"),
        pytest.param("00", "00", RefundStatus.SUCCEEDED, id="00 refunded"),
        pytest.param("00", "09", RefundStatus.FAILED, id="09 refund rejected"),
    ],
)
async def test_a_refund_vnpay_is_still_processing_is_pending_never_succeeded(
    response_code: str, transaction_status: str, status: RefundStatus
) -> None:
    adapter = mock_adapter(refund_answer(response_code, transaction_status))
    request = RefundRequest(REF, "RF1", Money(50_000, "VND"), False, "r", datetime.now(UTC))
    result = await adapter.refund(request)
    assert result.status is status
    assert result.gateway_code == (transaction_status or response_code)


async def test_a_refund_answer_that_does_not_verify_leaves_the_refund_unknown() -> None:
    def forged(request: httpx.Request) -> httpx.Response:
        answer = json.loads(refund_answer("00", "00")(request).content)
        answer["vnp_Amount"] = "1"  # changed after signing
        return httpx.Response(200, json=answer)

    request = RefundRequest(REF, "RF1", Money(50_000, "VND"), False, "r", datetime.now(UTC))
    with pytest.raises(GatewayUnavailable) as caught:
        await mock_adapter(forged).refund(request)
    assert caught.value.outcome_unknown and not caught.value.retry_safe
    assert caught.value.gateway_code == "bad_signature"

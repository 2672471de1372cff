"""VNPay wire rules: ×100 amounts, GMT+7 timestamps, safe text, status and reply tables."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payhub.gateways.base import ApplyOutcome, GatewayStatus, RefundStatus
from payhub.gateways.vnpay import wire
from payhub.money import Money

# --------------------------------------------------------------------------- amounts


def test_amount_is_times_100_both_ways() -> None:
    assert wire.to_vnp_amount(Money(10_000, "VND")) == "1000000"
    assert wire.from_vnp_amount("1000000") == Money(10_000, "VND")


@given(st.integers(min_value=1, max_value=9_999_999_999))
def test_amount_round_trip(minor: int) -> None:
    amount = Money(minor, "VND")
    assert wire.from_vnp_amount(wire.to_vnp_amount(amount)) == amount


@pytest.mark.parametrize("bad", ["", "12a", "-100", "1000001", "1e6", "10.00", "1" * 13])
def test_amount_rejects_non_whole_or_non_numeric(bad: str) -> None:
    with pytest.raises(ValueError):
        wire.from_vnp_amount(bad)


def test_amount_refuses_other_currencies_and_zero() -> None:
    with pytest.raises(ValueError):
        wire.to_vnp_amount(Money(1000, "MYR"))
    with pytest.raises(ValueError):
        wire.to_vnp_amount(Money(0, "VND"))


# --------------------------------------------------------------------------- time


def test_time_is_gmt7_whatever_the_host_zone(host_tz: str) -> None:
    moment = datetime(2024, 5, 21, 2, 15, 0, tzinfo=UTC)
    # The host really is somewhere else: its wall clock is not 09:15 at this moment.
    assert datetime.fromtimestamp(moment.timestamp()).hour != 9
    assert time.localtime(moment.timestamp()).tm_gmtoff != 7 * 3600
    assert wire.format_vnp_time(moment) == "20240521091500"
    assert wire.parse_vnp_time("20240521091500") == moment
    # Past midnight in Vietnam while still the previous day in UTC and Los Angeles.
    late = datetime(2024, 5, 20, 18, 30, 0, tzinfo=UTC)
    assert wire.format_vnp_time(late) == "20240521013000"


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
def test_time_round_trip(naive: datetime) -> None:
    moment = naive.replace(tzinfo=UTC, microsecond=0)
    assert wire.parse_vnp_time(wire.format_vnp_time(moment)) == moment


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        wire.format_vnp_time(datetime(2024, 5, 21, 9, 15))


@pytest.mark.parametrize("bad", ["2024052109150", "20241321091500", "2024-05-21 09:15", ""])
def test_bad_timestamps(bad: str) -> None:
    assert not wire.is_vnp_time(bad)


# --------------------------------------------------------------------------- text

SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.:,#")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Thanh toán đơn hàng #42", "Thanh toan don hang #42"),
        ("ĐẶT HÀNG: Áo (x2) ~ 50% off!", "DAT HANG: Ao x2 50 off"),
        ("  tabs\tand\nnewlines  ", "tabs and newlines"),
        ("a*b'c(d)e!f~g", "a b c d e f g"),
        ("中文", ""),
    ],
)
def test_sanitize_text(raw: str, expected: str) -> None:
    assert wire.sanitize_text(raw) == expected


@given(st.text(max_size=400))
def test_sanitized_text_is_encoder_neutral_and_short(text: str) -> None:
    cleaned = wire.sanitize_text(text)
    assert set(cleaned) <= SAFE
    assert len(cleaned) <= wire.ORDER_INFO_MAX
    assert cleaned == cleaned.strip()
    # PHP/Java/.NET-style encoding (`quote` with only unreserved safe, then %20 -> +) agrees.
    assert quote_plus(cleaned) == quote(cleaned, safe="-_.").replace("%20", "+")


def test_sanitize_token() -> None:
    assert wire.sanitize_token("rf_01-ABC/9é", 32) == "rf01ABC9e"
    assert len(wire.sanitize_token("x" * 50, 32)) == 32


def test_locale() -> None:
    assert wire.vnp_locale("vi") == "vn"
    assert wire.vnp_locale("vi-VN") == "vn"
    assert wire.vnp_locale("en-US") == "en"


# --------------------------------------------------------------------------- statuses


@pytest.mark.parametrize(
    ("response_code", "transaction_status", "expected"),
    [
        ("00", "00", GatewayStatus.SUCCEEDED),
        ("24", "02", GatewayStatus.CANCELLED),
        ("51", "02", GatewayStatus.FAILED),
        ("11", "02", GatewayStatus.EXPIRED),
        ("07", "07", GatewayStatus.PENDING),
        ("99", "02", GatewayStatus.FAILED),
        ("13", "02", GatewayStatus.FAILED),
        # Success needs both codes: the PHP sample's "either" check is wrong.
        ("00", "01", GatewayStatus.PENDING),
        ("00", "02", GatewayStatus.FAILED),
        ("00", "05", GatewayStatus.PENDING),
        ("55", "00", GatewayStatus.PENDING),  # unknown code: default is pending
        ("", "", GatewayStatus.PENDING),
    ],
)
def test_payment_status(
    response_code: str, transaction_status: str, expected: GatewayStatus
) -> None:
    assert wire.payment_status(response_code, transaction_status) is expected


@pytest.mark.parametrize(
    ("transaction_status", "expected"),
    [
        ("00", GatewayStatus.SUCCEEDED),
        ("01", GatewayStatus.PENDING),
        ("02", GatewayStatus.FAILED),
        ("04", GatewayStatus.FAILED),
        ("07", GatewayStatus.PENDING),
        ("08", GatewayStatus.EXPIRED),
        ("11", GatewayStatus.CANCELLED),
        ("42", GatewayStatus.PENDING),
    ],
)
def test_query_status(transaction_status: str, expected: GatewayStatus) -> None:
    assert wire.query_status(transaction_status) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("05", RefundStatus.PENDING),
        ("06", RefundStatus.PENDING),
        ("00", RefundStatus.SUCCEEDED),
        ("09", RefundStatus.FAILED),
        ("??", RefundStatus.PENDING),
    ],
)
def test_refund_status(status: str, expected: RefundStatus) -> None:
    assert wire.refund_status(status) is expected


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        (ApplyOutcome.APPLIED, "00"),
        (ApplyOutcome.DUPLICATE, "02"),
        (ApplyOutcome.UNKNOWN_PAYMENT, "01"),
        (ApplyOutcome.AMOUNT_MISMATCH, "04"),
        (ApplyOutcome.INVALID_SIGNATURE, "97"),
        (ApplyOutcome.MALFORMED, "99"),
        (ApplyOutcome.ERROR, "99"),
    ],
)
def test_ipn_reply_codes(outcome: ApplyOutcome, code: str) -> None:
    body = json.loads(wire.ipn_reply_body(outcome))
    assert set(body) == {"RspCode", "Message"}
    assert body["RspCode"] == code
    assert (code in wire.IPN_FINAL_CODES) is (
        outcome in (ApplyOutcome.APPLIED, ApplyOutcome.DUPLICATE)
    )


def test_every_outcome_has_a_reply() -> None:
    assert set(wire.IPN_REPLIES) == set(ApplyOutcome)


def test_dedupe_key() -> None:
    params = {
        "vnp_TxnRef": "PH24052100000142AB",
        "vnp_TransactionNo": "14422574",
        "vnp_ResponseCode": "00",
        "vnp_TransactionStatus": "00",
    }
    assert wire.dedupe_key(params) == "PH24052100000142AB:14422574:00:00"
    assert wire.dedupe_key({**params, "vnp_ResponseCode": "24"}) != wire.dedupe_key(params)

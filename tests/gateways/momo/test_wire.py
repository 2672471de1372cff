"""MoMo wire helpers: VND amounts, result-code table, epoch/VN dates, text, exact JSON."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payhub.gateways.base import GatewayStatus
from payhub.gateways.momo import wire
from payhub.money import MAX_AMOUNT_MINOR, Money


@pytest.fixture
def far_away_tz() -> Iterator[None]:
    """Run under a host timezone far from Vietnam (UTC-10) and restore it afterwards."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Honolulu"
    time.tzset()
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = previous
        time.tzset()


# --------------------------------------------------------------------------- amounts


@given(st.integers(min_value=0, max_value=MAX_AMOUNT_MINOR))
def test_amount_round_trip(minor: int) -> None:
    money = Money(minor, "VND")
    wire_amount = wire.amount_to_wire(money)
    assert wire_amount == minor  # VND: MoMo's amount is whole đồng, no ×100
    assert wire.amount_from_wire(wire_amount) == money
    assert wire.amount_from_wire(str(wire_amount)) == money


@pytest.mark.parametrize("text", ["50000.5", "-1000", "", "1e5", "٥٠٠٠", "50 000"])
def test_amount_from_wire_rejects_non_whole_vnd(text: str) -> None:
    with pytest.raises(ValueError):
        wire.amount_from_wire(text)


def test_amount_to_wire_rejects_other_currencies() -> None:
    with pytest.raises(ValueError):
        wire.amount_to_wire(Money(1000, "MYR"))


# --------------------------------------------------------------------------- status table


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (0, GatewayStatus.SUCCEEDED),
        (9000, GatewayStatus.AUTHORIZED),
        (1000, GatewayStatus.PENDING),
        (7000, GatewayStatus.PENDING),
        (7002, GatewayStatus.PENDING),
        (8000, GatewayStatus.PENDING),
        (1001, GatewayStatus.FAILED),
        (1002, GatewayStatus.FAILED),
        (1003, GatewayStatus.CANCELLED),
        (1004, GatewayStatus.FAILED),
        (1005, GatewayStatus.EXPIRED),
        (1006, GatewayStatus.CANCELLED),
        (1007, GatewayStatus.FAILED),
        (1017, GatewayStatus.CANCELLED),
        (1026, GatewayStatus.FAILED),
        (98, GatewayStatus.FAILED),
        (99, GatewayStatus.FAILED),
        (4100, GatewayStatus.FAILED),
    ],
)
def test_status_table(code: int, status: GatewayStatus) -> None:
    assert wire.status_for(code) is status


@pytest.mark.parametrize("code", [12345, -1, 40, 7777])
def test_unknown_codes_default_to_pending(code: int) -> None:
    assert wire.status_for(code) is GatewayStatus.PENDING


# --------------------------------------------------------------------------- times & ids


def test_vietnam_date_ignores_host_timezone(far_away_tz: None) -> None:
    # 2023-11-14 17:30 UTC is already 2023-11-15 00:30 in Hồ Chí Minh City, but still the
    # 14th in Honolulu: the order id must carry the Vietnamese day.
    moment = datetime(2023, 11, 14, 17, 30, tzinfo=UTC)
    assert time.strftime("%d", time.localtime(moment.timestamp())) == "14"
    assert wire.vietnam_date_text(moment) == "231115"
    reference = wire.make_order_id(42, moment)
    assert reference.startswith("PH231115-42-")
    assert wire.order_id_is_valid(reference)


def test_epoch_ms_round_trip(far_away_tz: None) -> None:
    moment = datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    ms = wire.epoch_ms(moment)
    assert ms == 1700000000123
    assert wire.from_epoch_ms(ms) == moment
    later = moment + timedelta(seconds=59, microseconds=877000)
    assert wire.from_epoch_ms("1700000060000") == later
    with pytest.raises(ValueError):
        wire.epoch_ms(datetime(2023, 1, 1))


def test_order_ids_are_fresh_and_valid() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    ids = {wire.make_order_id(7, now) for _ in range(50)}
    assert len(ids) == 50
    assert all(wire.order_id_is_valid(i) for i in ids)


def test_request_ids_fit_momo_limits() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    first, second = wire.make_request_id(now), wire.make_request_id(now)
    assert first != second
    assert len(first) <= wire.REQUEST_ID_MAX


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("MOMO1700000000000", True),
        ("PH231115-42-a1b2c3", True),
        ("a.b_c-d", True),
        ("-abc", False),
        ("abc-", False),
        ("ab c", False),
        ("đơn1", False),
        ("a" * 200, True),
        ("a" * 201, False),
    ],
)
def test_order_id_rule(value: str, valid: bool) -> None:
    assert wire.order_id_is_valid(value) is valid


# --------------------------------------------------------------------------- text


def test_sanitize_keeps_vietnamese_and_enforces_length() -> None:
    assert wire.sanitize_text("  Thanh\ttoán\n đơn  #1 ", 255) == "Thanh toán đơn #1"
    assert wire.sanitize_text("x" * 300, 255) == "x" * 255
    assert wire.sanitize_text("a\x00b", 10) == "a b"


def test_sanitize_normalises_to_nfc() -> None:
    decomposed = "Thanh toa\u0301n"
    assert wire.sanitize_text(decomposed, 50) == "Thanh toán"


@given(st.text(max_size=400))
def test_sanitize_property(text: str) -> None:
    cleaned = wire.sanitize_text(text, wire.ORDER_INFO_MAX)
    assert len(cleaned) <= wire.ORDER_INFO_MAX
    assert not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in cleaned)


def test_extra_data_is_base64_json() -> None:
    # Reference §1.3: {"username": "momo"} -> eyJ1c2VybmFtZSI6ICJtb21vIn0= (with a space
    # after the colon, Python's default); payhub writes compact JSON, decoding takes both.
    assert wire.decode_extra_data("eyJ1c2VybmFtZSI6ICJtb21vIn0=") == {"username": "momo"}
    encoded = wire.encode_extra_data({"payhub_reference": "PH231115-42-a1b2c3"})
    assert wire.decode_extra_data(encoded) == {"payhub_reference": "PH231115-42-a1b2c3"}
    assert wire.encode_extra_data({}) == ""
    assert wire.decode_extra_data("not base64!") == {}


# --------------------------------------------------------------------------- exact JSON


def test_loads_exact_keeps_number_text() -> None:
    parsed = wire.loads_exact(
        b'{"amount": 50000, "transId": 4088878653, "x": 1.50, "s": "Th\\u00e0nh"}'
    )
    assert parsed == {"amount": "50000", "transId": "4088878653", "x": "1.50", "s": "Thành"}


@pytest.mark.parametrize("body", [b"{", b"\xff\xfe", b'{"a": NaN}'])
def test_loads_exact_rejects_bad_json(body: bytes) -> None:
    with pytest.raises(ValueError):
        wire.loads_exact(body)


def test_integral_text() -> None:
    assert wire.integral_text("50000.0") == "50000"
    assert wire.integral_text("50000.5") == "50000.5"
    assert wire.integral_text("50000") == "50000"


@pytest.mark.parametrize("value", [MAX_AMOUNT_MINOR + 1, 2**63, 10**30, -1])
def test_amount_outside_the_bound_is_refused(value: int) -> None:
    with pytest.raises(ValueError):
        wire.amount_from_wire(value)

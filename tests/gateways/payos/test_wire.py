"""PayOS wire helpers: status tables, VND amounts, Vietnam time, descriptions, order codes."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payhub.gateways.base import GatewayStatus
from payhub.gateways.payos import wire
from payhub.money import MAX_AMOUNT_MINOR, Money


@pytest.fixture(autouse=True)
def far_away_timezone() -> Iterator[None]:
    """Run every conversion with the host in Pacific/Honolulu (UTC-10) to catch host-TZ bugs."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Honolulu"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("PENDING", GatewayStatus.PENDING),
        ("PROCESSING", GatewayStatus.PENDING),
        ("PAID", GatewayStatus.SUCCEEDED),
        ("UNDERPAID", GatewayStatus.PARTIALLY_PAID),
        ("CANCELLED", GatewayStatus.CANCELLED),
        ("EXPIRED", GatewayStatus.EXPIRED),
        ("FAILED", GatewayStatus.FAILED),
        ("SOMETHING_NEW", GatewayStatus.PENDING),
        ("", GatewayStatus.PENDING),
    ],
)
def test_link_status_table(status: str, expected: GatewayStatus) -> None:
    assert wire.link_status(status) is expected


def test_webhook_code_table_defaults_to_pending() -> None:
    assert wire.webhook_status("00") is GatewayStatus.SUCCEEDED
    assert wire.webhook_status("01") is GatewayStatus.PENDING


@given(st.integers(min_value=0, max_value=MAX_AMOUNT_MINOR))
def test_amount_round_trip(dong: int) -> None:
    money = Money(dong, "VND")
    assert wire.from_wire_amount(wire.to_wire_amount(money)) == money
    assert wire.to_wire_amount(money) == dong  # no ×100 scaling


def test_amount_refuses_other_currencies_and_non_integers() -> None:
    with pytest.raises(ValueError):
        wire.to_wire_amount(Money(100, "MYR"))
    for bad in (2000.0, "2000", True, None):
        with pytest.raises(ValueError):
            wire.from_wire_amount(bad)


def test_webhook_time_is_vietnam_wall_clock() -> None:
    moment = datetime(2023, 2, 4, 11, 25, tzinfo=UTC)
    assert wire.format_webhook_time(moment) == "2023-02-04 18:25:00"
    assert wire.parse_webhook_time("2023-02-04 18:25:00") == moment
    assert wire.parse_webhook_time("2023-02-04 18:25:00").tzinfo is not None


@pytest.mark.parametrize(
    "text",
    [
        "2023-02-04T18:25:00",  # ISO's separator: not the webhook format
        "2023-2-4 18:25:00",
        "2023-02-04 18:25",
        "2023-02-04 18:25:00+07:00",
        "2023-02-30 18:25:00",  # no such day
        "２０２３-02-04 18:25:00",  # non-ASCII digits
    ],
)
def test_webhook_time_takes_only_the_exact_format(text: str) -> None:
    with pytest.raises(ValueError):
        wire.parse_webhook_time(text)


def test_iso_times() -> None:
    moment = datetime(2025, 12, 12, 2, 0, tzinfo=UTC)
    assert wire.format_iso_local(moment) == "2025-12-12T09:00:00+07:00"
    assert wire.parse_iso_time("2025-12-12T09:00:00+07:00") == moment
    assert wire.parse_iso_time("2025-12-12T02:00:00.000Z") == moment
    assert wire.parse_iso_time("2025-12-12T09:00:00") == moment  # naive means Vietnam


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_webhook_time_round_trip(naive: datetime) -> None:
    moment = naive.replace(microsecond=0, tzinfo=UTC)
    assert wire.parse_webhook_time(wire.format_webhook_time(moment)) == moment


def test_unix_seconds() -> None:
    assert wire.unix_seconds(datetime(2024, 1, 1, tzinfo=UTC)) == 1704067200
    with pytest.raises(ValueError):
        wire.unix_seconds(datetime(2024, 1, 1))  # naive is refused


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thanh toán đơn hàng #123", "Thanh toan don hang 123"),
        ("ĐƠN HÀNG Số 7", "DON HANG So 7"),
        ("Payment for order 2024-0001 (gift)", "Payment for order 2024 00"),
        ("  nhiều   khoảng   trắng  ", "nhieu khoang trang"),
        ("日本語", ""),
    ],
)
def test_sanitize_description(text: str, expected: str) -> None:
    assert wire.sanitize_description(text) == expected


@given(st.text())
def test_sanitized_description_is_short_plain_ascii(text: str) -> None:
    cleaned = wire.sanitize_description(text)
    assert len(cleaned) <= 25
    assert all(ch.isascii() and (ch.isalnum() or ch == " ") for ch in cleaned)
    assert cleaned == cleaned.strip()


def test_sanitize_description_with_short_limit() -> None:
    assert wire.sanitize_description("Thanh toán đơn hàng", 9) == "Thanh toa"


def test_order_code_for_is_in_range_and_unique() -> None:
    now = datetime(2025, 6, 1, tzinfo=UTC)
    codes = {wire.order_code_for(serial, now) for serial in range(1000)}
    assert len(codes) == 1000
    later = now + timedelta(milliseconds=1)
    assert wire.order_code_for(0, later) > max(codes)
    assert all(1 <= code <= wire.MAX_ORDER_CODE for code in codes)
    assert wire.order_code_for(1, datetime(2255, 1, 1, tzinfo=UTC)) <= wire.MAX_ORDER_CODE


@given(
    st.integers(min_value=0, max_value=10**12),
    st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2200, 1, 1)),
)
def test_order_code_reference_round_trip(serial: int, naive: datetime) -> None:
    code = wire.order_code_for(serial, naive.replace(tzinfo=UTC))
    assert wire.order_code_from_reference(str(code)) == code


@pytest.mark.parametrize("bad", ["0", "-1", "12a", "", "9007199254740992", "１２"])
def test_order_code_from_reference_refuses(bad: str) -> None:
    with pytest.raises(ValueError):
        wire.order_code_from_reference(bad)


@pytest.mark.parametrize("value", [MAX_AMOUNT_MINOR + 1, 2**63, 10**30, -1])
def test_amount_outside_the_bound_is_refused(value: int) -> None:
    with pytest.raises(ValueError):
        wire.from_wire_amount(value)

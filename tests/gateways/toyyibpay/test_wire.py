"""ToyyibPay wire rules: sen/ringgit units, status tables, Malaysia time, text, API bodies."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payhub.gateways.base import GatewayStatus
from payhub.gateways.toyyibpay import wire
from payhub.money import Money

sen_amounts = st.integers(min_value=0, max_value=10**12)


# --------------------------------------------------------------------------- units


@given(sen_amounts)
def test_sen_text_round_trips(minor: int) -> None:
    amount = Money(minor, "MYR")
    assert wire.parse_sen(wire.to_sen_text(amount)) == amount


@given(sen_amounts)
def test_ringgit_text_round_trips(minor: int) -> None:
    amount = Money(minor, "MYR")
    text = wire.to_ringgit_text(amount)
    assert wire.parse_ringgit(text) == amount
    assert len(text.split(".")[1]) == 2


@given(sen_amounts)
def test_callback_amount_auto_reads_both_units(minor: int) -> None:
    amount = Money(minor, "MYR")
    assert wire.parse_callback_amount(wire.to_ringgit_text(amount)) == amount
    assert wire.parse_callback_amount(wire.to_sen_text(amount)) == amount


def test_known_unit_examples() -> None:
    assert wire.to_sen_text(Money(100, "MYR")) == "100"  # RM 1 -> 100
    assert wire.to_sen_text(Money(1150, "MYR")) == "1150"  # RM 11.50 -> 1150
    assert wire.parse_ringgit("1.00") == Money(100, "MYR")
    assert wire.parse_ringgit("1,150.00") == Money(115_000, "MYR")
    assert wire.parse_callback_amount("10.50") == Money(1050, "MYR")
    assert wire.parse_callback_amount("1050") == Money(1050, "MYR")
    assert wire.parse_callback_amount("10", unit="ringgit") == Money(1000, "MYR")
    assert wire.parse_callback_amount("10", unit="sen") == Money(10, "MYR")


@pytest.mark.parametrize("text", ["", "abc", "-1.00", "1.005", "NaN", "1e3"])
def test_bad_ringgit_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        wire.parse_ringgit(text)


@pytest.mark.parametrize("text", ["", "10.5", "-5", "+5", "1e3", "١٢"])
def test_bad_sen_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        wire.parse_sen(text)


def test_units_refuse_other_currencies() -> None:
    with pytest.raises(ValueError):
        wire.to_sen_text(Money(1000, "VND"))


def test_lenient_integer_reads_the_pypi_sdk_float_text() -> None:
    assert wire.parse_lenient_integer("10000.0") == 10000
    assert wire.parse_lenient_integer("10000") == 10000
    assert wire.parse_lenient_integer("10000.5") is None
    assert wire.parse_lenient_integer("ten") is None


# --------------------------------------------------------------------------- statuses


def test_callback_status_table() -> None:
    assert wire.callback_status("1") is GatewayStatus.SUCCEEDED
    assert wire.callback_status("2") is GatewayStatus.PENDING
    assert wire.callback_status("3") is GatewayStatus.FAILED
    for unknown in ("0", "4", "", "success", "11"):
        assert wire.callback_status(unknown) is GatewayStatus.PENDING


def test_transaction_status_table() -> None:
    assert wire.transaction_status("1") is GatewayStatus.SUCCEEDED
    assert wire.transaction_status("2") is GatewayStatus.PENDING
    assert wire.transaction_status("3") is GatewayStatus.FAILED
    assert wire.transaction_status("4") is GatewayStatus.PENDING
    assert wire.transaction_status("9") is GatewayStatus.PENDING


def test_payment_channel_choices() -> None:
    assert wire.payment_channel_code("fpx") == "0"
    assert wire.payment_channel_code("CARD") == "1"
    assert wire.payment_channel_code("both") == "2"
    assert wire.payment_channel_code("2") == "2"
    with pytest.raises(ValueError):
        wire.payment_channel_code("duitnow")


# --------------------------------------------------------------------------- Malaysia time


@pytest.mark.usefixtures("los_angeles_host_tz")
def test_expiry_is_malaysia_time_whatever_the_host_zone() -> None:
    assert time.localtime(0).tm_hour == 16  # the host really is in Los Angeles
    moment = datetime(2020, 12, 17, 9, 0, 0, tzinfo=UTC)
    assert wire.format_malaysia_time(moment) == "17-12-2020 17:00:00"
    assert wire.parse_malaysia_time("17-12-2020 17:00:00") == moment
    assert wire.parse_malaysia_time("2020-12-17 17:00:00") == moment


@pytest.mark.usefixtures("los_angeles_host_tz")
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)))
def test_malaysia_time_round_trips_under_far_host_zone(naive: datetime) -> None:
    moment = naive.replace(tzinfo=UTC, microsecond=0)
    assert wire.parse_malaysia_time(wire.format_malaysia_time(moment)) == moment


def test_date_line_crossing() -> None:
    # 20:30 UTC is already the next day in Kuala Lumpur.
    moment = datetime(2024, 10, 20, 20, 30, tzinfo=UTC)
    assert wire.format_malaysia_time(moment) == "21-10-2024 04:30:00"
    assert wire.format_malaysia_time(moment + timedelta(hours=-5)) == "20-10-2024 23:30:00"


def test_unreadable_time_is_refused() -> None:
    with pytest.raises(ValueError):
        wire.parse_malaysia_time("0000-00-00 00:00:00")
    with pytest.raises(ValueError):
        wire.parse_malaysia_time("yesterday")


# --------------------------------------------------------------------------- text


@given(st.text(max_size=300))
def test_sanitised_bill_name_fits_toyyibpay_rules(text: str) -> None:
    name = wire.bill_name(text)
    assert 1 <= len(name) <= wire.BILL_NAME_MAX
    assert wire.ALLOWED_TEXT.match(name)
    assert name == name.strip()
    assert wire.bill_name(name) == name  # sanitising twice changes nothing


@given(st.text(max_size=400))
def test_sanitised_description_fits_toyyibpay_rules(text: str) -> None:
    description = wire.bill_description(text)
    assert 1 <= len(description) <= wire.BILL_DESCRIPTION_MAX
    assert wire.ALLOWED_TEXT.match(description)
    assert wire.bill_description(description) == description


@given(st.text(alphabet="abcXYZ019 _", max_size=30))
def test_already_valid_short_text_keeps_its_words(text: str) -> None:
    expected = " ".join(text.split())
    assert wire.bill_name(text) == (expected or "Payment")


def test_sanitiser_examples() -> None:
    assert wire.bill_name("Đơn hàng #1042 — Café") == "on hang 1042 Cafe"
    assert wire.bill_name("Order No. 42 (2x T-shirt)") == "Order No 42 2x T shirt"
    assert wire.bill_name("!!!") == "Payment"
    long = "Annual membership renewal for the Kuala Lumpur chess club"
    assert wire.bill_name(long) == "Annual membership renewal for"
    assert wire.bill_name("x" * 40) == "x" * 30


def test_phone_sanitiser() -> None:
    assert wire.sanitise_phone("+60 12-345 6789") == "+60123456789"
    assert wire.sanitise_phone("012-3456789") == "0123456789"
    assert wire.sanitise_phone(None) == ""


# --------------------------------------------------------------------------- API bodies


def test_parse_rows() -> None:
    body = wire.parse_api_body('[{"BillCode":"gcbhict9"}]')
    assert body.first("BillCode") == "gcbhict9"
    assert body.error_code is None and not body.garbage


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("[KEY-DID-NOT-EXIST]", "KEY-DID-NOT-EXIST"),
        ("[CATEGORY-DOES-NOT-EXIST]", "CATEGORY-DOES-NOT-EXIST"),
        ("[USER-IS-NOT-ACTIVE]\n", "USER-IS-NOT-ACTIVE"),
        ("[FALSE]", "FALSE"),
        ('["FALSE"]', "FALSE"),
    ],
)
def test_parse_bracketed_codes(text: str, code: str) -> None:
    body = wire.parse_api_body(text)
    assert body.error_code == code
    assert body.first("BillCode") is None


def test_parse_error_object() -> None:
    body = wire.parse_api_body('{"status":"error","msg":"Bill name is required"}')
    assert body.object_status() == "error"
    assert body.object_message() == "Bill name is required"
    assert body.first("BillCode") is None


@pytest.mark.parametrize("text", ["<html>502 Bad Gateway</html>", "42", "[1,2]", "null"])
def test_parse_garbage(text: str) -> None:
    assert wire.parse_api_body(text).garbage


def test_parse_empty() -> None:
    assert wire.parse_api_body("").is_empty
    assert wire.parse_api_body("[]").is_empty
    assert not wire.parse_api_body("[FALSE]").is_empty


def test_reference_rule() -> None:
    assert wire.reference_is_valid("PH241021000042")
    assert not wire.reference_is_valid("")
    assert not wire.reference_is_valid("has space")
    assert not wire.reference_is_valid("x" * 41)

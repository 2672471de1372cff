"""Money in the console's languages, amounts typed by operators, CSV cells, SVG charts."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payhub.domain.errors import InvalidRequest
from payhub.web.console.charts import Series, bar_chart, rate_chart
from payhub.web.console.formatting import format_duration, format_money
from payhub.web.console.orders import csv_cell, parse_amount

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "shown"),
    [
        (40_000, "VND", "vi", f"40.000{NBSP}₫"),
        (1_050, "MYR", "en", f"RM{NBSP}10.50"),
        (1_050, "MYR", "vi", f"10,50{NBSP}RM"),
        (40_000, "VND", "en", f"₫{NBSP}40,000"),
        (1_234_567_00, "MYR", "en", f"RM{NBSP}1,234,567.00"),
        (5, "MYR", "xx", f"RM{NBSP}0.05"),
    ],
)
def test_format_money(amount: int, currency: str, locale: str, shown: str) -> None:
    assert format_money(amount, currency, locale) == shown


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("20000", "VND", 20_000),
        ("20.000", "VND", 20_000),
        ("20,000", "VND", 20_000),
        (" 20 000 ", "VND", 20_000),
        ("10.50", "MYR", 1_050),
        ("10,50", "MYR", 1_050),
        ("1,234.50", "MYR", 123_450),
        ("7", "MYR", 700),
    ],
)
def test_parse_amount(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("abc", "VND"),
        ("0", "VND"),
        ("-5", "MYR"),
        ("10.505", "MYR"),
        ("NaN", "MYR"),
        ("sNaN", "VND"),
        ("Infinity", "MYR"),
        ("1e30", "VND"),
        ("", "VND"),
        ("1", "XXX"),
    ],
)
def test_parse_amount_refuses(text: str, currency: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_amount(text, currency)


@given(st.text(max_size=30))
def test_parse_amount_never_fails_otherwise(text: str) -> None:
    for currency in ("VND", "MYR"):
        with contextlib.suppress(InvalidRequest):
            assert 0 < parse_amount(text, currency) <= 10**12


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("ok=1", "ok=1"),
        (None, ""),
        (20000, "20000"),
    ],
)
def test_csv_cells_never_start_a_formula(value: object, cell: str) -> None:
    assert csv_cell(value) == cell


def test_charts_escape_their_text_and_describe_their_figures() -> None:
    bars = bar_chart("v", "<b>Volume</b>", ["1/12", "2/12"], [0, 5], ["0 ₫", "5 ₫"], "5 ₫")
    assert "<b>" not in bars and "&lt;b&gt;Volume" in bars
    assert 'role="img"' in bars and "<desc" in bars and "2/12: 5 ₫" in bars
    assert "style=" not in bars  # the CSP allows no inline style
    lines = rate_chart("r", "Rate", ["a", "b"], [Series("<i>x</i>", [0.5, None])])
    assert "&lt;i&gt;x" in lines and "<i>" not in lines and "50%" in lines


def test_format_duration() -> None:
    assert [format_duration(s) for s in (None, 4.4, 65, 7800)] == [
        "—",
        "4 s",
        "1 min 5 s",
        "2 h 10 min",
    ]

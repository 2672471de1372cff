"""Money: integer minor units, exact parsing, no floats."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payhub.money import CurrencyMismatch, Money


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_major_text_round_trips(minor: int) -> None:
    for currency in ("VND", "MYR"):
        money = Money(minor, currency)
        assert Money.parse(money.major_text(), currency) == money


def test_parse_rejects_excess_precision_and_floats() -> None:
    with pytest.raises(ValueError):
        Money.parse("10.505", "MYR")
    with pytest.raises(ValueError):
        Money.parse("1.5", "VND")
    with pytest.raises(TypeError):
        Money(10.5, "MYR")  # type: ignore[arg-type]


def test_currencies_never_mix() -> None:
    with pytest.raises(CurrencyMismatch):
        Money(1, "VND") + Money(1, "MYR")


def test_display() -> None:
    assert Money(150_000, "VND").display() == "150,000 ₫"
    assert Money(1050, "MYR").display() == "RM 10.50"

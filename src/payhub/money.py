"""Money as an integer count of minor units plus an ISO 4217 currency code.

There are no floats anywhere in payhub's money path. VND has exponent 0 (one đồng is the
smallest unit), MYR has exponent 2 (amounts are counted in sen). Gateway-specific unit quirks
(an amount sent ×100, sen written as strings) live in each gateway package, never here.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

CURRENCY_EXPONENTS: Final[dict[str, int]] = {"VND": 0, "MYR": 2, "USD": 2, "SGD": 2}

# Bounds of the integers that enter payhub (API fields, query parameters, order totals),
# checked before any arithmetic or write, so a huge number is a 422 and never an overflow.
# An amount: above every gateway's own maximum (the largest today is 10^10 ₫), and still
# exact after the largest unit quirk (a gateway that sends ×100: 10^14) in a JSON number
# (2^53 ≈ 9·10^15) and in a signed 64-bit column, with room left for sums of many.
MAX_AMOUNT_MINOR: Final = 10**12
# Units of one item in an order (order_items.quantity is a 32-bit column).
MAX_QUANTITY: Final = 10_000
# Credits granted by one order, or per unit of one item (64-bit balances).
MAX_CREDITS: Final = 10**12
# Stock of one product, and its low-stock threshold (a 32-bit column).
MAX_STOCK: Final = 10**9


def bounded_amount(minor: int) -> int:
    """`minor` when it is an amount payhub takes (0 to MAX_AMOUNT_MINOR), else ValueError."""
    if not 0 <= minor <= MAX_AMOUNT_MINOR:
        raise ValueError(f"amount {minor} is outside 0..{MAX_AMOUNT_MINOR}")
    return minor


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were combined or compared."""


class UnknownCurrency(ValueError):
    """A currency code payhub does not know the exponent of."""


def exponent_of(currency: str) -> int:
    """Number of decimal places of the currency's minor unit."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrency(f"unsupported currency {currency!r}") from None


@dataclass(frozen=True, slots=True, order=False)
class Money:
    """An exact amount: `minor` units of `currency` (e.g. Money(1050, "MYR") is RM10.50)."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise TypeError(f"Money.minor must be an int, got {type(self.minor).__name__}")
        exponent_of(self.currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Parse a decimal major-unit string ("10.50") exactly; reject excess precision."""
        exp = exponent_of(currency)
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            raise ValueError(f"not a decimal amount: {text!r}") from None
        if not value.is_finite():
            raise ValueError(f"not a finite amount: {text!r}")
        scaled = value.scaleb(exp)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{text!r} has more than {exp} decimal places for {currency}")
        return cls(int(scaled), currency)

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(f"{self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.minor >= other.minor

    def is_zero(self) -> bool:
        return self.minor == 0

    def major_text(self) -> str:
        """Exact decimal text in major units: Money(1050, "MYR") -> "10.50"."""
        exp = exponent_of(self.currency)
        if exp == 0:
            return str(self.minor)
        sign = "-" if self.minor < 0 else ""
        whole, frac = divmod(abs(self.minor), 10**exp)
        return f"{sign}{whole}.{frac:0{exp}d}"

    def display(self) -> str:
        """Human text: "150,000 ₫" or "RM 10.50"."""
        if self.currency == "VND":
            return f"{self.minor:,} ₫"
        if self.currency == "MYR":
            return f"RM {self.major_text()}"
        return f"{self.major_text()} {self.currency}"

    def __str__(self) -> str:
        return f"{self.major_text()} {self.currency}"

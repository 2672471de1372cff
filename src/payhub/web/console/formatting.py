"""Amounts and times as the console's locale writes them (Babel).

`format_money(40000, "VND", "vi")` is "40.000 ₫" (VND has no minor unit); MYR counts
sen: `format_money(1050, "MYR", "en")` is "RM 10.50". The currency's symbol is the one its
own country writes (RM, ₫), the digits and separators the reader's.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, get_currency_symbol

from payhub.money import UnknownCurrency, exponent_of

LOCALES = ("vi", "en")
# Where each currency's own symbol is taken from: Malaysians write RM, not MYR.
_SYMBOL_LOCALE = {"MYR": "ms_MY", "VND": "vi_VN"}
_NBSP = "\u00a0"


def format_money(amount_minor: int, currency: str, locale: str) -> str:
    """An amount in minor units as `locale` writes it: "40.000 ₫", "RM 10.50"."""
    lang = locale if locale in LOCALES else "en"
    try:
        exponent = exponent_of(currency)
    except UnknownCurrency:
        return f"{amount_minor} {currency}"
    amount = Decimal(amount_minor).scaleb(-exponent)
    pattern = "#,##0" + ("." + "0" * exponent if exponent else "")
    number = format_decimal(amount, format=pattern, locale=lang)
    symbol = get_currency_symbol(currency, locale=_SYMBOL_LOCALE.get(currency, lang))
    standard = Locale.parse(lang).currency_formats["standard"].pattern
    if standard.lstrip().startswith("¤"):
        return f"{symbol}{_NBSP}{number}"
    return f"{number}{_NBSP}{symbol}"


def format_time(at: datetime | None, locale: str, zone: ZoneInfo) -> str:
    """A moment in the console's zone, short and in the reader's language."""
    if at is None:
        return "—"
    lang = locale if locale in LOCALES else "en"
    return format_datetime(at.astimezone(zone), "yyyy-MM-dd HH:mm:ss", locale=lang)


def format_day(day: date, locale: str) -> str:
    """A day of a chart's axis: "01/12" in Vietnamese, "Dec 1" in English."""
    lang = locale if locale in LOCALES else "en"
    return format_date(day, "dd/MM" if lang == "vi" else "MMM d", locale=lang)


def format_duration(seconds: float | None) -> str:
    """A short duration: "42 s", "3 min 5 s", "2 h 10 min"."""
    if seconds is None:
        return "—"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"

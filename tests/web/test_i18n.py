"""The customer pages' language choice, money formatting and brand contrast, without a
browser: `web.i18n` (Babel's negotiation and formatting) and `web.theme` (WCAG contrast)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payhub.web.i18n import (
    LOCALES,
    MESSAGES,
    Translator,
    choose_locale,
    negotiate,
    parse_accept_language,
)
from payhub.web.theme import brand_hex, contrast_ratio, text_on, theme_css


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7", "vi"),
        ("ms-MY", "ms"),
        ("ms_MY, en;q=0.5", "ms"),
        ("fr-FR,fr;q=0.9,en;q=0.5", "en"),
        ("en;q=0.2, vi;q=0.8", "vi"),
        ("fr, de", None),
        ("vi;q=0, en", "en"),
        ("*", None),
        ("", None),
        (None, None),
    ],
)
def test_accept_language_is_negotiated_by_babel(header: str | None, expected: str | None) -> None:
    assert negotiate(header) == expected


def test_the_choice_goes_query_order_merchant_browser_english() -> None:
    assert choose_locale("ms", "vi", "en", "vi") == "ms"
    assert choose_locale(None, "vi", "en", "ms") == "vi"
    assert choose_locale("xx", None, "ms", "vi") == "ms"
    assert choose_locale(None, None, None, "vi-VN") == "vi"
    assert choose_locale(None, None, None, "ja") == "en"
    assert choose_locale("<script>", "zz", "??", None) == "en"


@given(st.text(max_size=300))
def test_any_header_gives_one_of_our_languages(header: str) -> None:
    assert parse_accept_language(header) is not None
    assert choose_locale(None, None, None, header) in LOCALES


@pytest.mark.parametrize(
    ("locale", "minor", "currency", "expected"),
    [
        ("vi", 40_000, "VND", "40.000\xa0₫"),
        ("en", 40_000, "VND", "₫40,000"),
        ("ms", 40_000, "VND", "₫40,000"),
        ("ms", 1_050, "MYR", "RM10.50"),
        ("en", 1_050, "MYR", "MYR10.50"),
        ("vi", 1_050, "MYR", "10,50\xa0MYR"),
        ("vi", 1_234_567_890, "VND", "1.234.567.890\xa0₫"),
    ],
)
def test_amounts_are_written_as_each_language_writes_them(
    locale: str, minor: int, currency: str, expected: str
) -> None:
    assert Translator(locale).money(minor, currency) == expected


def test_every_message_has_three_languages_and_the_same_placeholders() -> None:
    import string

    for key, texts in MESSAGES.items():
        assert len(texts) == 3 and all(texts), key
        fields = [{f for _, f, _, _ in string.Formatter().parse(t) if f} for t in texts]
        assert fields[0] == fields[1] == fields[2], key


def test_a_translator_fills_placeholders_in_its_language() -> None:
    assert Translator("vi")("pay_with", gateway="MoMo") == "Thanh toán bằng MoMo"
    assert Translator("ms")("pay_with", gateway="MoMo") == "Bayar dengan MoMo"
    assert Translator("de")("pay_with", gateway="MoMo") == "Pay with MoMo"  # falls back


@given(st.from_regex(r"[0-9a-f]{6}", fullmatch=True))
def test_button_text_always_reaches_wcag_aa_on_the_brand_colour(brand: str) -> None:
    assert contrast_ratio(brand, text_on(brand)) >= 4.5


def test_brand_colours_are_validated_and_styled() -> None:
    assert brand_hex("#FFD43B") == "ffd43b"
    assert brand_hex(None) == brand_hex("red") == brand_hex("#12345") == "1f4fd1"
    assert text_on("ffd43b") == "000000" and text_on("1f4fd1") == "ffffff"
    assert theme_css("ffd43b") == ":root{--brand:#ffd43b;--brand-text:#000000}\n"

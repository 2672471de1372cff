"""Notification rendering without a database: money in each locale (Babel, from integer
minor units), the locale fallback, and the sandbox refusing unsafe templates."""

from __future__ import annotations

import pytest

from payhub.domain.errors import InvalidRequest
from payhub.services.notify_render import (
    BUILT_IN,
    LOCALES,
    RenderFailed,
    TemplateSource,
    built_in_source,
    check_template,
    choose_locale,
    format_money,
    render,
)


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "shown"),
    [
        (40_000, "VND", "vi", "40.000\xa0₫"),
        (40_000, "VND", "en", "₫40,000"),
        (1_050, "MYR", "ms", "RM10.50"),
        (1_050, "MYR", "en", "MYR10.50"),
        (1_234_567_890, "VND", "vi", "1.234.567.890\xa0₫"),
        (1, "MYR", "ms", "RM0.01"),
    ],
)
def test_money_is_formatted_for_the_locale(
    minor: int, currency: str, locale: str, shown: str
) -> None:
    assert format_money(minor, currency, locale) == shown


def test_locale_falls_back_from_order_to_merchant_to_english() -> None:
    assert choose_locale("ms", "vi") == "ms"
    assert choose_locale(None, "vi") == "vi"
    assert choose_locale("fr", None) == "en"


def test_every_customer_template_exists_in_every_locale_and_renders() -> None:
    context = {
        "merchant_name": "Shop",
        "merchant_reference": "r-1",
        "items": [{"name": "Tee", "quantity": 2, "total": 300_000}],
        "amount": 300_000,
        "refund_amount": 100_000,
        "currency": "VND",
        "gateway_name": "MoMo",
        "retry_url": "http://hub/pay/ord_1?token=t",
        "headline": "Low stock",
        "details": [["SKU", "tee"]],
    }
    for name in BUILT_IN:
        for locale in LOCALES if name != "operator_alert" else ("en",):
            source = built_in_source(name, locale)
            assert source is not None, (name, locale)
            message = render(source, context, locale)
            assert message.subject and message.text and message.html, (name, locale)
            assert "\n" not in message.subject


def test_unsafe_and_broken_templates_are_refused() -> None:
    with pytest.raises(InvalidRequest):
        check_template(TemplateSource("{% if %}", "x", None))
    unsafe = TemplateSource("s", "{{ ''.__class__.__mro__[1].__subclasses__() }}", None)
    with pytest.raises(RenderFailed, match="SecurityError"):
        render(unsafe, {}, "en")

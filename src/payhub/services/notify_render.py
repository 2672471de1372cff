"""Rendering notifications: Jinja2 templates (subject, text, HTML) in Vietnamese, English and
Malay, built in (`notify_templates/<name>/<locale>.{subject,txt,html}`) or overridden by the
merchant (stored in `notification_templates`).

Every template, ours and the merchant's, runs in a sandboxed environment; the HTML body is
autoescaped. Amounts are formatted for the locale by Babel from integer minor units
(`Decimal`, never a float): `40.000 ₫` in Vietnamese, `RM10.50` in Malay.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.numbers import format_currency
from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment

from payhub.domain.errors import InvalidRequest
from payhub.money import exponent_of

LOCALES = ("vi", "en", "ms")
FALLBACK_LOCALE = "en"
TEMPLATES = Path(__file__).with_name("notify_templates")
BUILT_IN = ("payment_confirmation", "payment_failed", "refund_issued", "operator_alert")
TELEGRAM_SUFFIX = "_telegram"  # `operator_alert_telegram`: the Telegram text of an alert


@dataclass(frozen=True, slots=True)
class TemplateSource:
    """One template's three parts; `html` is None for a text-only message."""

    subject: str
    text: str
    html: str | None


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    subject: str
    text: str
    html: str | None


def choose_locale(*candidates: str | None) -> str:
    """The first supported locale among the candidates (order, then merchant), else en."""
    for locale in candidates:
        if locale in LOCALES:
            return str(locale)
    return FALLBACK_LOCALE


def format_money(minor: int, currency: str, locale: str) -> str:
    """Integer minor units as the locale writes money: `40.000 ₫` (vi), `RM10.50` (ms)."""
    amount = Decimal(int(minor)).scaleb(-exponent_of(currency))
    return str(format_currency(amount, currency, locale=choose_locale(locale)))


def built_in_source(name: str, locale: str) -> TemplateSource | None:
    """Our template `name` in `locale` (None when we ship none)."""
    folder = TEMPLATES / name
    text_file = folder / f"{locale}.txt"
    if not text_file.is_file():
        return None
    subject_file = folder / f"{locale}.subject"
    html_file = folder / f"{locale}.html"
    return TemplateSource(
        subject=subject_file.read_text(encoding="utf-8").strip() if subject_file.is_file() else "",
        text=text_file.read_text(encoding="utf-8"),
        html=html_file.read_text(encoding="utf-8") if html_file.is_file() else None,
    )


class _Quiet(Undefined):
    """A missing variable renders as nothing (merchants' templates may name fields an
    event does not have)."""


_TEXT = SandboxedEnvironment(autoescape=False, undefined=_Quiet, keep_trailing_newline=True)
_HTML = SandboxedEnvironment(autoescape=True, undefined=_Quiet, keep_trailing_newline=True)
_CHECK = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


def check_template(source: TemplateSource) -> None:
    """Refuse a merchant's template that does not compile (before it is stored)."""
    for part in (source.subject, source.text, source.html or ""):
        try:
            _CHECK.parse(part)
        except TemplateError as exc:
            raise InvalidRequest(f"template does not compile: {exc}") from None


class RenderFailed(Exception):
    """A template raised while rendering (e.g. the sandbox refused an operation)."""


def render(source: TemplateSource, context: dict[str, Any], locale: str) -> RenderedMessage:
    """Render a template's parts with the event's context; `money(minor, currency)` formats
    for the locale. The subject is one line."""
    values = {
        **context,
        "locale": locale,
        "money": lambda minor, currency: format_money(minor, currency, locale),
    }
    try:
        subject = _TEXT.from_string(source.subject).render(values)
        text = _TEXT.from_string(source.text).render(values)
        html = _HTML.from_string(source.html).render(values) if source.html else None
    except TemplateError as exc:
        raise RenderFailed(f"template failed: {type(exc).__name__}: {exc}"[:300]) from None
    return RenderedMessage(subject=" ".join(subject.split())[:300], text=text, html=html)

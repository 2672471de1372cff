"""PayOS wire shapes: status tables, VND amounts, Vietnam-local times, description text.

PayOS amounts are whole đồng (VND has no minor unit, so no scaling). Times come in two
forms: ISO-8601 with an offset in link objects (`createdAt`, transaction times) and a naive
`YYYY-MM-DD HH:mm:ss` Vietnam wall-clock time in webhooks. Descriptions end up in a bank
transfer memo, so they are kept to plain ASCII and at most 25 characters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Final

from payhub.clock import VIETNAM, ensure_utc, from_local, to_local
from payhub.gateways.base import GatewayStatus
from payhub.money import Money, bounded_amount

CURRENCY: Final = "VND"
MAX_ORDER_CODE: Final = 2**53 - 1  # JavaScript's Number.MAX_SAFE_INTEGER
MAX_EXPIRED_AT: Final = 2**31 - 1  # expiredAt is an Int32 of unix seconds
DESCRIPTION_LIMIT: Final = 25
WEBHOOK_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
_WEBHOOK_TIME: Final = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.ASCII)
SUCCESS_CODE: Final = "00"
# The code of "no such payment link" (a get of an orderCode PayOS never saw). [unconfirmed]:
# PayOS does not document its number; the sandbox answers this one.
NOT_FOUND_CODE: Final = "101"
# Where PayOS's hosted page of a link lives in production; a sandbox serves it at its origin.
CHECKOUT_ORIGIN: Final = "https://pay.payos.vn"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

# Payment link `status` -> payhub status. Anything not listed stays PENDING.
LINK_STATUS_TABLE: Final[Mapping[str, GatewayStatus]] = MappingProxyType(
    {
        "PENDING": GatewayStatus.PENDING,
        "PROCESSING": GatewayStatus.PENDING,
        "PAID": GatewayStatus.SUCCEEDED,
        "UNDERPAID": GatewayStatus.PARTIALLY_PAID,
        "CANCELLED": GatewayStatus.CANCELLED,
        "EXPIRED": GatewayStatus.EXPIRED,
        "FAILED": GatewayStatus.FAILED,
    }
)

# Webhook `data.code` -> payhub status. PayOS only documents webhooks for money received
# ("00"); any other code is recorded but settles nothing.
WEBHOOK_CODE_TABLE: Final[Mapping[str, GatewayStatus]] = MappingProxyType(
    {SUCCESS_CODE: GatewayStatus.SUCCEEDED}
)


def link_status(status: str) -> GatewayStatus:
    return LINK_STATUS_TABLE.get(status, GatewayStatus.PENDING)


def webhook_status(code: str) -> GatewayStatus:
    return WEBHOOK_CODE_TABLE.get(code, GatewayStatus.PENDING)


# --------------------------------------------------------------------------- money


def to_wire_amount(amount: Money) -> int:
    """Money -> PayOS `amount` (integer đồng)."""
    if amount.currency != CURRENCY:
        raise ValueError(f"PayOS takes VND only, not {amount.currency}")
    return amount.minor


def from_wire_amount(value: object) -> Money:
    """PayOS `amount`/`amountPaid` (integer đồng) -> Money; anything but an int is refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"PayOS amount must be an integer, got {type(value).__name__}")
    return Money(bounded_amount(value), CURRENCY)


# --------------------------------------------------------------------------- time


def format_webhook_time(moment: datetime) -> str:
    """Aware datetime -> `YYYY-MM-DD HH:mm:ss` Vietnam wall-clock time (webhook form)."""
    return to_local(moment, VIETNAM).strftime(WEBHOOK_TIME_FORMAT)


def parse_webhook_time(text: str) -> datetime:
    """Webhook `transactionDateTime` (Vietnam wall clock) -> aware UTC."""
    # The exact shape first (strptime's job), then the fast parser: strptime costs more
    # than the webhook's HMAC.
    if _WEBHOOK_TIME.fullmatch(text) is None:
        raise ValueError(f"time data {text!r} does not match format {WEBHOOK_TIME_FORMAT!r}")
    return from_local(datetime.fromisoformat(text), VIETNAM)


def format_iso_local(moment: datetime) -> str:
    """Aware datetime -> ISO-8601 in Vietnam time with offset, e.g. 2025-12-12T09:00:00+07:00."""
    return to_local(moment, VIETNAM).replace(microsecond=0).isoformat()


def parse_iso_time(text: str) -> datetime:
    """ISO-8601 from a link object (`...Z`, `+07:00`; naive means Vietnam time) -> aware UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        return from_local(value, VIETNAM)
    return ensure_utc(value)


def unix_seconds(moment: datetime) -> int:
    """Aware datetime -> `expiredAt` (unix seconds, truncated)."""
    return int(ensure_utc(moment).timestamp())


# --------------------------------------------------------------------------- text

_LETTER_REPLACEMENTS: Final = str.maketrans({"đ": "d", "Đ": "D"})
_NOT_SAFE: Final = re.compile(r"[^A-Za-z0-9 ]+")
_SPACES: Final = re.compile(r"\s+")


def to_ascii(text: str) -> str:
    """Vietnamese (or any Latin) text without diacritics; other characters become spaces."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LETTER_REPLACEMENTS))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", _NOT_SAFE.sub(" ", stripped)).strip()


def sanitize_description(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """Description PayOS and the banks accept: letters, digits, spaces; at most `limit`."""
    return to_ascii(text)[:limit].rstrip()


# --------------------------------------------------------------------------- references


def order_code_from_reference(reference: str) -> int:
    """payhub's reference for a PayOS attempt is the decimal orderCode."""
    if not reference.isascii() or not reference.isdigit():
        raise ValueError(f"PayOS reference must be a decimal orderCode, got {reference!r}")
    code = int(reference)
    if not 1 <= code <= MAX_ORDER_CODE:
        raise ValueError(f"orderCode {code} outside 1..{MAX_ORDER_CODE}")
    return code


def order_code_for(serial: int, now: datetime) -> int:
    """A fresh orderCode: unix milliseconds × 1000 + serial mod 1000.

    Two attempts collide only if they share the same millisecond and the same serial mod
    1000, which an increasing serial rules out. The value stays below 2^53 until year 2255.
    """
    millis = (ensure_utc(now) - _EPOCH) // timedelta(milliseconds=1)
    code = millis * 1000 + serial % 1000
    if not 1 <= code <= MAX_ORDER_CODE:
        raise ValueError("clock outside the range PayOS order codes can encode")
    return code

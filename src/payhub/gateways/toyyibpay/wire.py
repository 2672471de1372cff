"""ToyyibPay wire shapes: units, status tables, Malaysia-time formats, text rules, responses.

ToyyibPay speaks in two money units: `billAmount` on createBill is an integer count of sen,
while getBillTransactions reports `billpaymentAmount` in ringgit with two decimals. The
callback `amount` is seen in both units in the wild, so it is parsed by an explicit rule
(`parse_callback_amount`). Times are wall-clock Malaysia time (UTC+8) with no zone marker.
Every API answers HTTP 200, with either a JSON array, a JSON error object or a bracketed
plain-text code such as `[KEY-DID-NOT-EXIST]`; `parse_api_body` turns all three into one shape.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Final

from payhub.clock import MALAYSIA, from_local, to_local
from payhub.gateways.base import GatewayStatus
from payhub.money import Money, bounded_amount

CURRENCY: Final = "MYR"
API_PREFIX: Final = "/index.php/api/"

BILL_NAME_MAX: Final = 30
BILL_DESCRIPTION_MAX: Final = 100
# billName and billDescription accept only these characters.
_DISALLOWED_TEXT: Final = re.compile(r"[^A-Za-z0-9 _]+")
ALLOWED_TEXT: Final = re.compile(r"^[A-Za-z0-9 _]*$")

EXPIRY_FORMAT: Final = "%d-%m-%Y %H:%M:%S"  # billExpiryDate, billPaymentDate
TRANSACTION_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"  # callback transaction_time [unconfirmed]

# Callback `status` and return `status_id`. Anything else stays pending.
CALLBACK_STATUS: Final[dict[str, GatewayStatus]] = {
    "1": GatewayStatus.SUCCEEDED,
    "2": GatewayStatus.PENDING,
    "3": GatewayStatus.FAILED,
}

# getBillTransactions `billpaymentStatus`. Anything else stays pending.
TRANSACTION_STATUS: Final[dict[str, GatewayStatus]] = {
    "1": GatewayStatus.SUCCEEDED,
    "2": GatewayStatus.PENDING,
    "3": GatewayStatus.FAILED,
    "4": GatewayStatus.PENDING,
}

PAYMENT_CHANNELS: Final[dict[str, str]] = {
    "fpx": "0",
    "card": "1",
    "both": "2",
    "0": "0",
    "1": "1",
    "2": "2",
}


def callback_status(code: str) -> GatewayStatus:
    return CALLBACK_STATUS.get(code.strip(), GatewayStatus.PENDING)


def transaction_status(code: str) -> GatewayStatus:
    return TRANSACTION_STATUS.get(code.strip(), GatewayStatus.PENDING)


def payment_channel_code(choice: str) -> str:
    """`fpx` / `card` / `both` (or the raw `0`/`1`/`2`) -> billPaymentChannel."""
    try:
        return PAYMENT_CHANNELS[choice.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown payment channel {choice!r}; use fpx, card or both") from None


# --------------------------------------------------------------------------- money units


def to_sen_text(amount: Money) -> str:
    """billAmount: Money(1150, "MYR") -> "1150"."""
    _require_myr(amount)
    return str(amount.minor)


def to_ringgit_text(amount: Money) -> str:
    """Ringgit with two decimals, as getBillTransactions shows it: Money(1150) -> "11.50"."""
    _require_myr(amount)
    return amount.major_text()


def parse_sen(text: str) -> Money:
    """An integer count of sen ("1150") -> Money; rejects decimals and signs."""
    cleaned = text.strip()
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned) > 15:
        raise ValueError(f"not a sen amount: {text!r}")
    return Money(bounded_amount(int(cleaned)), CURRENCY)


def parse_ringgit(text: str) -> Money:
    """Ringgit text ("11.50", "1,150.00", "5") -> Money; rejects more than 2 decimals."""
    cleaned = text.strip().replace(",", "")
    if not _RINGGIT.fullmatch(cleaned) or len(cleaned) > 18:
        raise ValueError(f"not a ringgit amount: {text!r}")
    amount = Money.parse(cleaned, CURRENCY)
    bounded_amount(amount.minor)
    return amount


_RINGGIT: Final = re.compile(r"[0-9]+(\.[0-9]{1,2})?")


def parse_callback_amount(text: str, unit: str = "auto") -> Money:
    """The callback's `amount`, whose unit ToyyibPay never pinned down.

    `unit="auto"`: text with a decimal point is ringgit ("10.50"); a bare integer is sen
    ("1050", as in the OpenAPI example). `ringgit` and `sen` force one reading. The hub never
    settles on this number alone: it confirms with getBillTransactions.
    """
    if unit == "sen":
        return parse_sen(text)
    if unit == "ringgit":
        return parse_ringgit(text)
    if unit != "auto":
        raise ValueError(f"unknown callback amount unit {unit!r}")
    if "." in text:
        return parse_ringgit(text)
    return parse_sen(text)


def _require_myr(amount: Money) -> None:
    if amount.currency != CURRENCY:
        raise ValueError(f"ToyyibPay only takes MYR, got {amount.currency}")


def parse_lenient_integer(text: str) -> int | None:
    """ "10000" or "10000.0" -> 10000; "10000.5" or garbage -> None (simulator flag use)."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not value.is_finite() or value != value.to_integral_value():
        return None
    return int(value)


# --------------------------------------------------------------------------- Malaysia time


def format_malaysia_time(value: datetime, fmt: str = EXPIRY_FORMAT) -> str:
    """An aware datetime as ToyyibPay's Malaysia wall time (never the host's zone)."""
    return to_local(value, MALAYSIA).strftime(fmt)


def parse_malaysia_time(text: str) -> datetime:
    """`dd-mm-YYYY HH:MM:SS` or `YYYY-mm-dd HH:MM:SS` Malaysia wall time -> aware UTC."""
    cleaned = text.strip()
    for fmt in (EXPIRY_FORMAT, TRANSACTION_TIME_FORMAT):
        try:
            naive = datetime.strptime(cleaned, fmt)  # naive; zone applied below
        except ValueError:
            continue
        return from_local(naive, MALAYSIA)
    raise ValueError(f"not a ToyyibPay time: {text!r}")


# --------------------------------------------------------------------------- text


def sanitise_text(text: str, max_length: int, fallback: str = "Payment") -> str:
    """Fold `text` into ToyyibPay's billName/billDescription charset and length.

    Accents are transliterated (é -> e), every other disallowed run becomes one space, spaces
    are collapsed, and the result is cut at a word boundary when one is near the limit.
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = " ".join(_DISALLOWED_TEXT.sub(" ", folded).split())
    if len(cleaned) > max_length:
        cut = cleaned[:max_length]
        space = cut.rfind(" ")
        cleaned = cut[:space] if space >= max_length // 2 else cut
        cleaned = cleaned.strip()
    if not cleaned:
        cleaned = sanitise_text(fallback, max_length, fallback="Payment") if fallback else ""
    return cleaned


def bill_name(text: str) -> str:
    return sanitise_text(text, BILL_NAME_MAX)


def bill_description(text: str) -> str:
    return sanitise_text(text, BILL_DESCRIPTION_MAX)


def sanitise_phone(text: str | None) -> str:
    """Digits (and a leading +) only: "+60 12-345 6789" -> "+60123456789"."""
    if not text:
        return ""
    stripped = text.strip()
    digits = re.sub(r"\D", "", stripped)
    return ("+" + digits) if stripped.startswith("+") and digits else digits


# --------------------------------------------------------------------------- API bodies

_BRACKETED: Final = re.compile(r"^\[([A-Za-z0-9_-]+)\]\s*(.*)$", re.DOTALL)

# Bracketed codes that mean the account itself is wrong, not this one request.
MISCONFIGURATION_CODES: Final = frozenset(
    {"KEY-DID-NOT-EXIST", "USER-IS-NOT-ACTIVE", "CATEGORY-DOES-NOT-EXIST"}
)


@dataclass(frozen=True, slots=True)
class ApiBody:
    """One ToyyibPay API answer, whatever its shape.

    Exactly one of `rows` (a JSON array of objects), `obj` (a JSON object) or `error_code`
    (a bracketed text code) is set; `garbage` marks a body that is none of these.
    """

    text: str
    rows: tuple[dict[str, object], ...] | None = None
    obj: dict[str, object] | None = None
    error_code: str | None = None
    error_detail: str = ""
    garbage: bool = False

    @property
    def is_empty(self) -> bool:
        return self.rows == () or (self.text.strip() == "" and not self.garbage)

    def object_message(self) -> str:
        """`msg` / `message` / `result` of a JSON object answer."""
        if self.obj is None:
            return ""
        for key in ("msg", "message", "result", "error"):
            value = self.obj.get(key)
            if value:
                return str(value)
        return ""

    def object_status(self) -> str:
        return str(self.obj.get("status", "")) if self.obj is not None else ""

    def first(self, key: str) -> str | None:
        """`[0].key` of an array answer, as text; None when absent or empty."""
        if not self.rows:
            return None
        value = self.rows[0].get(key)
        return str(value) if value not in (None, "") else None


def parse_api_body(text: str) -> ApiBody:
    """Parse JSON-or-bracketed-text the way a careful client must."""
    stripped = text.strip()
    if not stripped:
        return ApiBody(text=text)
    try:
        decoded = json.loads(stripped)
    except ValueError:
        decoded = None
    else:
        if isinstance(decoded, list):
            if all(isinstance(row, dict) for row in decoded):
                return ApiBody(text=text, rows=tuple(decoded))
            # e.g. ["FALSE"]: an array that is not rows is treated like a bracketed code.
            if len(decoded) == 1 and isinstance(decoded[0], str):
                return ApiBody(text=text, error_code=decoded[0].strip().upper())
            return ApiBody(text=text, garbage=True)
        if isinstance(decoded, dict):
            return ApiBody(text=text, obj=decoded)
        return ApiBody(text=text, garbage=True)
    match = _BRACKETED.match(stripped)
    if match:
        return ApiBody(
            text=text, error_code=match.group(1).upper(), error_detail=match.group(2).strip()
        )
    return ApiBody(text=text, garbage=True)


# --------------------------------------------------------------------------- references


def reference_is_valid(reference: str) -> bool:
    """billExternalReferenceNo as payhub makes them: 1–40 of `A-Z a-z 0-9 - _`."""
    return bool(re.fullmatch(r"[A-Za-z0-9_-]{1,40}", reference))

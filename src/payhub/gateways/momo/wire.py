"""MoMo v2 wire shapes: amounts, result codes, times, text limits and exact JSON parsing.

MoMo amounts are whole đồng (VND has no minor unit, so the wire amount *is* `Money.minor`).
Times on the wire are epoch milliseconds, so no timezone is involved there; the only local
time payhub shows MoMo is the Vietnamese calendar date inside its order ids.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from payhub.clock import VIETNAM, to_local
from payhub.gateways.base import AmountLimits, GatewayStatus
from payhub.gateways.strict_json import loads_strict
from payhub.money import Money, bounded_amount

CURRENCY: Final = "VND"
API_PREFIX: Final = "/v2/gateway/api"
ORDER_TYPE: Final = "momo_wallet"

CAPTURE_WALLET: Final = "captureWallet"
PAY_WITH_METHOD: Final = "payWithMethod"
PAY_WITH_ATM: Final = "payWithATM"
PAY_WITH_CC: Final = "payWithCC"

# Request types payhub's adapter creates; the simulator also accepts ATM and card pages.
ADAPTER_REQUEST_TYPES: Final = (CAPTURE_WALLET, PAY_WITH_METHOD)

# Inclusive amount limits in VND per request type (current MoMo documentation; older copies
# say 20.000.000 for the wallet maximum, and card pages have a 10.000.000 variant).
AMOUNT_LIMITS: Final[Mapping[str, AmountLimits]] = {
    CAPTURE_WALLET: AmountLimits(1_000, 50_000_000),
    PAY_WITH_METHOD: AmountLimits(1_000, 50_000_000),
    PAY_WITH_ATM: AmountLimits(10_000, 50_000_000),
    PAY_WITH_CC: AmountLimits(1_000, 50_000_000),
}
REFUND_LIMITS: Final = AmountLimits(1_000, 50_000_000)

ORDER_ID_PATTERN: Final = re.compile(r"^[0-9a-zA-Z]([-_.]*[0-9a-zA-Z]+)*$")
ORDER_ID_MAX: Final = 200
REQUEST_ID_MAX: Final = 50
ORDER_INFO_MAX: Final = 255
EXTRA_DATA_MAX: Final = 1000
ITEMS_MAX: Final = 50
DESCRIPTION_MAX: Final = 255

# --------------------------------------------------------------------------- result codes

SUCCESS: Final = 0
AUTHORIZED: Final = 9000
PENDING_INITIATED: Final = 1000
NOT_FOUND: Final = 42
OVER_REFUND: Final = 1081

# resultCode -> status of the *payment*. Anything not listed is PENDING: payhub never guesses
# a final state from a code it does not know; a later query settles it.
RESULT_STATUS: Final[Mapping[int, GatewayStatus]] = {
    0: GatewayStatus.SUCCEEDED,
    # Money held but not captured (autoCapture=false). payhub never asks for that, so this
    # is a transient state: not paid yet, a final 0 or 1003 follows.
    9000: GatewayStatus.AUTHORIZED,
    1000: GatewayStatus.PENDING,
    7000: GatewayStatus.PENDING,
    7002: GatewayStatus.PENDING,
    8000: GatewayStatus.PENDING,
    98: GatewayStatus.FAILED,
    99: GatewayStatus.FAILED,
    1001: GatewayStatus.FAILED,
    1002: GatewayStatus.FAILED,
    1003: GatewayStatus.CANCELLED,
    1004: GatewayStatus.FAILED,
    1005: GatewayStatus.EXPIRED,
    1006: GatewayStatus.CANCELLED,
    1007: GatewayStatus.FAILED,
    1017: GatewayStatus.CANCELLED,
    1026: GatewayStatus.FAILED,
    2019: GatewayStatus.FAILED,
    4001: GatewayStatus.FAILED,
    4002: GatewayStatus.FAILED,
    4100: GatewayStatus.FAILED,
}

# Codes that describe the API call itself rather than a transaction; a query answering with
# one of them says nothing about the payment.
CALL_ERROR_CODES: Final = frozenset({10, 11, 12, 13, 20, 21, 22, 40, 41, 43, 45, 47, 99})
MISCONFIGURED_CODES: Final = frozenset({11, 12, 13})
RETRY_LATER_CODES: Final = frozenset({10, 43, 98})
IN_FLIGHT_CODES: Final = frozenset({7000, 7002})


def status_for(result_code: int) -> GatewayStatus:
    """The payment status a resultCode means (default PENDING)."""
    return RESULT_STATUS.get(result_code, GatewayStatus.PENDING)


# --------------------------------------------------------------------------- amounts


def amount_to_wire(amount: Money) -> int:
    """Money -> MoMo `amount` (whole đồng)."""
    if amount.currency != CURRENCY:
        raise ValueError(f"MoMo only takes VND, not {amount.currency}")
    return amount.minor


def amount_from_wire(value: str | int) -> Money:
    """MoMo `amount` (JSON number text or int) -> Money; rejects fractions and signs."""
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 15:
        raise ValueError(f"not a whole VND amount: {text!r}")
    return Money(bounded_amount(int(text)), CURRENCY)


# --------------------------------------------------------------------------- times


def epoch_ms(moment: datetime) -> int:
    """Aware datetime -> epoch milliseconds (MoMo `responseTime`)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return int(moment.timestamp() * 1000)


def from_epoch_ms(value: str | int) -> datetime:
    """Epoch milliseconds -> aware UTC datetime."""
    return datetime.fromtimestamp(int(str(value)) / 1000, tz=UTC)


def vietnam_date_text(moment: datetime) -> str:
    """`yymmdd` of the Vietnamese calendar day (Asia/Ho_Chi_Minh), whatever the host TZ."""
    return to_local(moment, VIETNAM).strftime("%y%m%d")


# --------------------------------------------------------------------------- identifiers


def order_id_is_valid(value: str) -> bool:
    return len(value) <= ORDER_ID_MAX and ORDER_ID_PATTERN.fullmatch(value) is not None


def make_order_id(serial: int, now: datetime) -> str:
    """A fresh orderId: `PH<yymmdd VN>-<serial>-<6 hex>`, e.g. `PH231115-42-a1b2c3`.

    The random tail keeps ids unique even if payhub's attempt serial restarts (a new
    database against the same MoMo account): MoMo refuses a reused orderId forever (41).
    """
    if serial < 0:
        raise ValueError("serial must not be negative")
    return f"PH{vietnam_date_text(now)}-{serial}-{secrets.token_hex(3)}"


def make_request_id(now: datetime) -> str:
    """A fresh requestId for one API call (MoMo's idempotency key), ≤ 50 characters."""
    return f"RQ{epoch_ms(now)}{secrets.token_hex(6)}"


# --------------------------------------------------------------------------- text


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SPACES = re.compile(r"\s+")


def sanitize_text(text: str, limit: int) -> str:
    """NFC-normalised single-line text of at most `limit` characters (UTF-8 is fine)."""
    cleaned = _CONTROL.sub(" ", unicodedata.normalize("NFC", text))
    cleaned = _SPACES.sub(" ", cleaned).strip()
    return cleaned[:limit].rstrip()


def encode_extra_data(data: Mapping[str, Any]) -> str:
    """`extraData`: base64 of a compact JSON object ("" for an empty mapping)."""
    if not data:
        return ""
    raw = json.dumps(dict(data), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    encoded = base64.b64encode(raw.encode("utf-8")).decode("ascii")
    if len(encoded) > EXTRA_DATA_MAX:
        raise ValueError("extraData is longer than 1000 characters")
    return encoded


def decode_extra_data(value: str) -> dict[str, Any]:
    """Best-effort inverse of `encode_extra_data`; {} for anything that is not base64 JSON."""
    if not value:
        return {}
    try:
        decoded = loads_strict(base64.b64decode(value, validate=True))
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


# --------------------------------------------------------------------------- exact JSON


class _NotJson(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not valid JSON")


def loads_exact(body: bytes) -> Any:
    """Parse JSON keeping every number as its exact JSON text (50000 stays "50000").

    MoMo signs numbers as their decimal text, so they must not round-trip through int or
    float before verification.
    """
    try:
        return loads_strict(body, parse_int=str, parse_float=str, parse_constant=_reject_constant)
    except ValueError as exc:
        raise ValueError(f"not UTF-8 JSON: {exc}") from None


def signing_text(value: Any) -> str:
    """A value parsed by `loads_exact` (or taken from a query string) as MoMo signs it."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    raise ValueError(f"cannot sign a {type(value).__name__}")


_INTEGRAL_FLOAT = re.compile(r"^(-?\d+)\.0+$")


def integral_text(text: str) -> str:
    """`50000.0` -> `50000` (how MoMo's own stack prints a whole number); others unchanged."""
    match = _INTEGRAL_FLOAT.match(text)
    return match.group(1) if match else text


@dataclass(frozen=True, slots=True)
class WireError:
    """An error answer from MoMo, as payhub reads it."""

    http_status: int
    result_code: int | None
    message: str
    sub_errors: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        parts = [f"MoMo HTTP {self.http_status}"]
        if self.result_code is not None:
            parts.append(f"resultCode {self.result_code}")
        if self.message:
            parts.append(self.message)
        text = ": ".join([parts[0], ", ".join(parts[1:])]) if len(parts) > 1 else parts[0]
        for field_name, detail in self.sub_errors:
            text += f"; {field_name}: {detail}"
        return text


def parse_result_code(value: Any) -> int | None:
    """resultCode from a parsed body (number or numeric string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None

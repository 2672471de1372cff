"""PayOS signatures: HMAC-SHA256 with the channel's checksum key, lowercase hex.

Three schemes, all pure functions over values exactly as they were received or will be sent:

* the create-payment-link request signs a fixed five-field string (`payment_request_string`);
* responses and webhooks sign the `data` object with `data_signing_string` (keys sorted,
  null and the strings "null"/"undefined" become "", arrays become compact JSON whose object
  elements have their top-level keys sorted, non-ASCII kept raw);
* payouts sign a percent-encoded, deep-sorted form in the `x-signature` header
  (`encoded_signing_string`). payhub does not make payouts; it is here so the official test
  vectors can be checked in one place.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

PAYMENT_REQUEST_FIELDS: Final = ("amount", "cancelUrl", "description", "orderCode", "returnUrl")
_EMPTY_STRINGS: Final = frozenset({"null", "undefined"})


def hmac_sha256_hex(key: str, message: str) -> str:
    """HMAC-SHA256 of the UTF-8 message under the UTF-8 key, lowercase hex."""
    return hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def signatures_match(expected: str, received: str) -> bool:
    """Constant-time comparison of two hex signatures (case-insensitive, as hex is). A
    received signature with any non-ASCII character (a look-alike digit, a full-width
    letter) is no hex and never matches."""
    if not received.isascii():
        return False
    return hmac.compare_digest(expected.lower().encode("ascii"), received.lower().encode("ascii"))


def _scalar_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------- 1.5a request


def payment_request_string(fields: Mapping[str, object]) -> str:
    """`amount=..&cancelUrl=..&description=..&orderCode=..&returnUrl=..`, values raw."""
    missing = [name for name in PAYMENT_REQUEST_FIELDS if name not in fields]
    if missing:
        raise KeyError(f"payment request lacks {', '.join(missing)}")
    return "&".join(f"{name}={_scalar_text(fields[name])}" for name in PAYMENT_REQUEST_FIELDS)


def sign_payment_request(fields: Mapping[str, object], checksum_key: str) -> str:
    return hmac_sha256_hex(checksum_key, payment_request_string(fields))


def verify_payment_request(fields: Mapping[str, object], signature: str, checksum_key: str) -> bool:
    try:
        expected = sign_payment_request(fields, checksum_key)
    except KeyError:
        return False
    return signatures_match(expected, signature)


# --------------------------------------------------------------------------- 1.5b data


def _data_value_text(value: object) -> str:
    if isinstance(value, list):
        elements = [
            {key: item[key] for key in sorted(item)} if isinstance(item, dict) else item
            for item in value
        ]
        return json.dumps(elements, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, str) and value in _EMPTY_STRINGS:
        return ""
    return _scalar_text(value)


def data_signing_string(data: Mapping[str, Any]) -> str:
    """The string PayOS signs for a response or webhook `data` object, as received."""
    return "&".join(f"{key}={_data_value_text(data[key])}" for key in sorted(data))


def sign_data(data: Mapping[str, Any], checksum_key: str) -> str:
    return hmac_sha256_hex(checksum_key, data_signing_string(data))


def verify_data(data: Mapping[str, Any], signature: str, checksum_key: str) -> bool:
    """True when `signature` is PayOS's signature of `data` (constant-time)."""
    return signatures_match(sign_data(data, checksum_key), signature)


# --------------------------------------------------------------------------- 1.5d payouts


def _deep_sorted(value: object) -> object:
    if isinstance(value, dict):
        return {key: _deep_sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_deep_sorted(item) for item in value]
    return value


def encoded_signing_string(data: Mapping[str, Any]) -> str:
    """The payout `x-signature` string: deep-sorted, JSON for containers, percent-encoded."""
    ordered = _deep_sorted(dict(data))
    assert isinstance(ordered, dict)
    parts = []
    for key, value in ordered.items():
        if isinstance(value, list | dict):
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        else:
            text = _scalar_text(value)
        parts.append(f"{quote(str(key))}={quote(text)}")
    return "&".join(parts)


def sign_encoded(data: Mapping[str, Any], checksum_key: str) -> str:
    return hmac_sha256_hex(checksum_key, encoded_signing_string(data))

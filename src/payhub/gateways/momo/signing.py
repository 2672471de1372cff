"""MoMo v2 request/response signatures: HMAC-SHA256 over a fixed `k=v&k=v` string.

Every MoMo v2 call signs `rawSignature`, the alphabetically sorted, API-specific list of keys
below joined as `key=value` with `&`. Values go in raw (not URL-encoded, UTF-8 text, empty
values kept as `key=`); `accessKey` is part of the string even though it is not sent in the
body. The signature is the lowercase hex HMAC-SHA256 of that string keyed with `secretKey`.

These functions are pure: callers assemble the values exactly as sent or received.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from typing import Final

CREATE_FIELDS: Final[tuple[str, ...]] = (
    "accessKey",
    "amount",
    "extraData",
    "ipnUrl",
    "orderId",
    "orderInfo",
    "partnerCode",
    "redirectUrl",
    "requestId",
    "requestType",
)

# The create response as MoMo documents it.
CREATE_RESPONSE_FIELDS: Final[tuple[str, ...]] = (
    "accessKey",
    "amount",
    "orderId",
    "partnerCode",
    "payUrl",
    "requestId",
    "responseTime",
    "resultCode",
)

# A variant seen in third-party code with `message` after `amount`; accepted, never produced.
CREATE_RESPONSE_FIELDS_WITH_MESSAGE: Final[tuple[str, ...]] = (
    "accessKey",
    "amount",
    "message",
    "orderId",
    "partnerCode",
    "payUrl",
    "requestId",
    "responseTime",
    "resultCode",
)

# IPN body and browser redirect parameters share one formula (13 keys).
RESULT_FIELDS: Final[tuple[str, ...]] = (
    "accessKey",
    "amount",
    "extraData",
    "message",
    "orderId",
    "orderInfo",
    "orderType",
    "partnerCode",
    "payType",
    "requestId",
    "responseTime",
    "resultCode",
    "transId",
)

QUERY_FIELDS: Final[tuple[str, ...]] = ("accessKey", "orderId", "partnerCode", "requestId")

REFUND_FIELDS: Final[tuple[str, ...]] = (
    "accessKey",
    "amount",
    "description",
    "orderId",
    "partnerCode",
    "requestId",
    "transId",
)

CONFIRM_FIELDS: Final[tuple[str, ...]] = (
    "accessKey",
    "amount",
    "description",
    "orderId",
    "partnerCode",
    "requestId",
    "requestType",
)

_ACCESS_KEY_PART = re.compile(r"(^|&)accessKey=[^&]*")


def raw_signature(fields: Sequence[str], values: Mapping[str, str]) -> str:
    """The `rawSignature` string for `fields`; every field must be present in `values`."""
    return "&".join(f"{name}={values[name]}" for name in fields)


def sign(secret_key: str, raw: str) -> str:
    """Lowercase hex HMAC-SHA256 of the UTF-8 bytes of `raw`."""
    return hmac.new(secret_key.encode("utf-8"), raw.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(secret_key: str, raw: str, signature: str) -> bool:
    """Constant-time check of a received hex signature (case-insensitive hex)."""
    expected = sign(secret_key, raw)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().lower().encode())


def mask_access_key(raw: str) -> str:
    """`raw` with the accessKey value replaced by `*****`, as MoMo echoes it in errors."""
    return _ACCESS_KEY_PART.sub(lambda m: f"{m.group(1)}accessKey=*****", raw)

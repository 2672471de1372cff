"""VNPay 2.1.0 checksums: pure functions, no I/O.

Two schemes exist and both are HMAC-SHA512 with the terminal's `vnp_HashSecret`, lowercase
hex:

* pay URL, browser return and IPN: every `vnp_*` parameter except `vnp_SecureHash` and
  `vnp_SecureHashType`, empty values dropped, sorted by key, joined as a form-encoded query
  string (`urllib.parse.quote_plus`, space -> `+`);
* querydr and refund (JSON API): the raw values of a fixed field list joined with `|`
  (absent fields count as empty strings).

Received hashes are compared case-insensitively and in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Final
from urllib.parse import quote_plus

HASH_FIELDS: Final = frozenset({"vnp_SecureHash", "vnp_SecureHashType"})

QUERYDR_REQUEST_FIELDS: Final = (
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_TransactionDate",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
)
QUERYDR_RESPONSE_FIELDS: Final = (
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
    "vnp_PromotionCode",
    "vnp_PromotionAmount",
)
REFUND_REQUEST_FIELDS: Final = (
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TransactionType",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_TransactionNo",
    "vnp_TransactionDate",
    "vnp_CreateBy",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
)
REFUND_RESPONSE_FIELDS: Final = (
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
)


def hmac_sha512(secret: str, message: str) -> str:
    """Lowercase hex HMAC-SHA512 of `message` under `secret` (both UTF-8)."""
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha512).hexdigest()


def hashes_equal(expected: str, received: str) -> bool:
    """Case-insensitive, constant-time comparison of two hex digests."""
    return hmac.compare_digest(
        expected.lower().encode("ascii", "replace"), received.lower().encode("ascii", "replace")
    )


def _pairs(params: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    items = params.items() if isinstance(params, Mapping) else params
    return [(str(key), str(value)) for key, value in items]


def canonical_query(params: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """The string VNPay hashes for pay/return/IPN: sorted, form-encoded `vnp_*` params.

    `params` are decoded values (as a parsed query string gives them). Non-`vnp_` keys
    (e.g. the hub's own query parameters on its IPN URL) are not part of the checksum.
    """
    kept = sorted(
        (key, value)
        for key, value in _pairs(params)
        if key.startswith("vnp_") and key not in HASH_FIELDS and value != ""
    )
    return "&".join(f"{key}={quote_plus(value)}" for key, value in kept)


def sign_query(secret: str, params: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """`vnp_SecureHash` for a pay URL, return or IPN."""
    return hmac_sha512(secret, canonical_query(params))


def verify_query(
    secret: str, params: Mapping[str, str] | Iterable[tuple[str, str]], received: str
) -> bool:
    """Whether `received` is the checksum of `params` (decoded values)."""
    return hashes_equal(sign_query(secret, params), received)


def pipe_string(data: Mapping[str, object], fields: Iterable[str]) -> str:
    """Raw values of `fields` joined with `|`; absent or null fields are empty strings."""
    parts: list[str] = []
    for name in fields:
        value = data.get(name)
        parts.append("" if value is None else str(value))
    return "|".join(parts)


def sign_fields(secret: str, data: Mapping[str, object], fields: Iterable[str]) -> str:
    """`vnp_SecureHash` of a querydr/refund request or response."""
    return hmac_sha512(secret, pipe_string(data, fields))


def verify_fields(
    secret: str, data: Mapping[str, object], fields: Iterable[str], received: str
) -> bool:
    return hashes_equal(sign_fields(secret, data, fields), received)

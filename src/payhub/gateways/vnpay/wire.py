"""VNPay 2.1.0 wire shapes: paths, units, GMT+7 timestamps, text limits and status tables.

Everything here is pure. Amounts travel as VND × 100 in both directions; timestamps are
`yyyyMMddHHmmss` wall-clock time in Asia/Ho_Chi_Minh whatever the host's timezone is.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from payhub.clock import VIETNAM, from_local, to_local
from payhub.gateways.base import ApplyOutcome, GatewayStatus, RefundStatus
from payhub.money import Money

VERSION: Final = "2.1.0"
CURRENCY: Final = "VND"
PAY_PATH: Final = "/paymentv2/vpcpay.html"
API_PATH: Final = "/merchant_webapi/api/transaction"
CHECKOUT_PATH: Final = "/paymentv2/Transaction/PaymentMethod.html"
ERROR_PATH: Final = "/paymentv2/Payment/Error.html"

TIME_FORMAT: Final = "%Y%m%d%H%M%S"
_TIME_RE: Final = re.compile(r"^\d{14}$")
_DIGITS_RE: Final = re.compile(r"^[0-9]{1,12}$")  # ASCII digits only: int() takes "١٢"

# Only these survive every VNPay encoder identically (PHP, Python, Java, .NET, Node).
SAFE_TEXT_RE: Final = re.compile(r"[^A-Za-z0-9 \-_.:,#]")
ORDER_INFO_MAX: Final = 255
TXN_REF_MAX: Final = 100
REQUEST_ID_MAX: Final = 32
CREATE_BY_MAX: Final = 250

# Fields an IPN / return must carry to be a VNPay payment callback.
CALLBACK_REQUIRED: Final = (
    "vnp_TmnCode",
    "vnp_Amount",
    "vnp_TxnRef",
    "vnp_ResponseCode",
    "vnp_TransactionStatus",
)

# --------------------------------------------------------------------------- units


def to_vnp_amount(amount: Money) -> str:
    """Money(10_000, "VND") -> "1000000" (VNPay counts hundredths of a đồng)."""
    if amount.currency != CURRENCY:
        raise ValueError(f"VNPay only takes VND, not {amount.currency}")
    if amount.minor <= 0:
        raise ValueError("VNPay amounts must be positive")
    return str(amount.minor * 100)


def from_vnp_amount(text: str) -> Money:
    """ "1000000" -> Money(10_000, "VND"); rejects anything that is not a whole đồng."""
    text = str(text).strip()
    if not _DIGITS_RE.match(text):
        raise ValueError(f"not a VNPay amount: {text!r}")
    value = int(text)
    if value % 100:
        raise ValueError(f"VNPay amount {text!r} is not a whole number of đồng")
    return Money(value // 100, CURRENCY)


# --------------------------------------------------------------------------- time


def format_vnp_time(moment: datetime) -> str:
    """Aware datetime -> `yyyyMMddHHmmss` in GMT+7 (never the host's zone)."""
    return to_local(moment, VIETNAM).strftime(TIME_FORMAT)


def parse_vnp_time(text: str) -> datetime:
    """`yyyyMMddHHmmss` GMT+7 -> aware UTC datetime."""
    text = str(text).strip()
    if not _TIME_RE.match(text):
        raise ValueError(f"not a VNPay timestamp: {text!r}")
    return from_local(datetime.strptime(text, TIME_FORMAT), VIETNAM)


def is_vnp_time(text: str) -> bool:
    try:
        parse_vnp_time(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- text


def strip_diacritics(text: str) -> str:
    """Vietnamese without diacritics: "Thanh toán đơn" -> "Thanh toan don"."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def sanitize_text(text: str, max_length: int = ORDER_INFO_MAX) -> str:
    """Reduce merchant text to the charset every VNPay encoder agrees on, within `max_length`.

    Diacritics are removed, any other character outside `[A-Za-z0-9 ]` and `- _ . : , #`
    becomes a space, runs of spaces collapse, and the result is trimmed.
    """
    cleaned = SAFE_TEXT_RE.sub(" ", strip_diacritics(text))
    cleaned = " ".join(cleaned.split())
    return cleaned[:max_length].rstrip()


def sanitize_token(text: str, max_length: int) -> str:
    """Only `[A-Za-z0-9]`, for identifiers such as `vnp_RequestId`."""
    return re.sub(r"[^A-Za-z0-9]", "", strip_diacritics(text))[:max_length]


def vnp_locale(locale: str) -> str:
    """payhub locale ("vi", "vi-VN", "en", "ms") -> VNPay's `vn` / `en`: VNPay's page has
    only these two, and a Malay reader is better served by English than by Vietnamese."""
    return "vn" if locale.lower().startswith("vi") else "en"


# --------------------------------------------------------------------------- statuses

# vnp_ResponseCode of a payment (IPN / return), consulted when it is not a clean success.
RESPONSE_CODE_STATUS: Final[Mapping[str, GatewayStatus]] = {
    "24": GatewayStatus.CANCELLED,  # customer cancelled on VNPay's page
    "11": GatewayStatus.EXPIRED,  # payment wait time expired
    # 07: money deducted but VNPay flags the transaction as suspected; it is neither paid
    # nor failed until VNPay resolves it, so it stays pending (review by an operator).
    "07": GatewayStatus.PENDING,
    "01": GatewayStatus.FAILED,
    "02": GatewayStatus.FAILED,
    "03": GatewayStatus.FAILED,
    "04": GatewayStatus.FAILED,
    "05": GatewayStatus.FAILED,
    "06": GatewayStatus.FAILED,
    "08": GatewayStatus.FAILED,
    "09": GatewayStatus.FAILED,
    "10": GatewayStatus.FAILED,
    "12": GatewayStatus.FAILED,
    "13": GatewayStatus.FAILED,
    "51": GatewayStatus.FAILED,
    "65": GatewayStatus.FAILED,
    "75": GatewayStatus.FAILED,
    "79": GatewayStatus.FAILED,
    "99": GatewayStatus.FAILED,
}

# vnp_TransactionStatus, the state of the payment itself (querydr and callbacks).
TRANSACTION_STATUS: Final[Mapping[str, GatewayStatus]] = {
    "00": GatewayStatus.SUCCEEDED,
    "01": GatewayStatus.PENDING,  # not completed
    "02": GatewayStatus.FAILED,
    "04": GatewayStatus.FAILED,  # reversed: the bank debit was returned
    # 05/06/09 describe a refund of a payment that did succeed.
    "05": GatewayStatus.SUCCEEDED,
    "06": GatewayStatus.SUCCEEDED,
    "09": GatewayStatus.SUCCEEDED,
    "07": GatewayStatus.PENDING,  # suspected fraud, see 07 above
    "08": GatewayStatus.EXPIRED,
    "11": GatewayStatus.CANCELLED,
}


def payment_status(response_code: str, transaction_status: str) -> GatewayStatus:
    """Normalised status of a pay callback; success needs BOTH codes to be `00`."""
    if response_code == "00" and transaction_status == "00":
        return GatewayStatus.SUCCEEDED
    if response_code in RESPONSE_CODE_STATUS:
        return RESPONSE_CODE_STATUS[response_code]
    if response_code == "00":
        # ResponseCode 00 with a non-00 status: trust the status, but never as a success.
        status = TRANSACTION_STATUS.get(transaction_status, GatewayStatus.PENDING)
        return GatewayStatus.PENDING if status is GatewayStatus.SUCCEEDED else status
    return GatewayStatus.PENDING


def query_status(transaction_status: str) -> GatewayStatus:
    """Normalised status from a querydr answer's `vnp_TransactionStatus`."""
    return TRANSACTION_STATUS.get(transaction_status, GatewayStatus.PENDING)


REFUND_TRANSACTION_STATUS: Final[Mapping[str, RefundStatus]] = {
    "00": RefundStatus.SUCCEEDED,
    "05": RefundStatus.PENDING,  # VNPay is processing the refund
    "06": RefundStatus.PENDING,  # sent to the bank, not yet confirmed
    "09": RefundStatus.FAILED,  # refund rejected
}


def refund_status(transaction_status: str) -> RefundStatus:
    return REFUND_TRANSACTION_STATUS.get(transaction_status, RefundStatus.PENDING)


# --------------------------------------------------------------------------- IPN replies

IPN_REPLIES: Final[Mapping[ApplyOutcome, tuple[str, str]]] = {
    ApplyOutcome.APPLIED: ("00", "Confirm Success"),
    ApplyOutcome.DUPLICATE: ("02", "Order already confirmed"),
    ApplyOutcome.UNKNOWN_PAYMENT: ("01", "Order not found"),
    ApplyOutcome.AMOUNT_MISMATCH: ("04", "invalid amount"),
    ApplyOutcome.INVALID_SIGNATURE: ("97", "Invalid signature"),
    ApplyOutcome.MALFORMED: ("99", "Invalid request"),
    ApplyOutcome.ERROR: ("99", "Unknow error"),
}

# RspCodes after which VNPay stops re-sending the IPN.
IPN_FINAL_CODES: Final = frozenset({"00", "02"})


def ipn_reply_body(outcome: ApplyOutcome) -> bytes:
    code, message = IPN_REPLIES[outcome]
    return json.dumps({"RspCode": code, "Message": message}, separators=(",", ":")).encode()


def dedupe_key(params: Mapping[str, str]) -> str:
    """One fact per TxnRef, VNPay transaction number and result pair."""
    return ":".join(
        params.get(name, "")
        for name in ("vnp_TxnRef", "vnp_TransactionNo", "vnp_ResponseCode", "vnp_TransactionStatus")
    )

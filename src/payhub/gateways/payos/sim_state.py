"""State and behaviour of payhub's local PayOS sandbox, independent of HTTP routing.

One `PayOSSimulator` is one sandbox channel: its payment links, the transfers paid to them,
the signed answers of the payment-request API (as `(HTTP status, JSON body)`), and the
webhooks it sends through the shared `simkit.Notifier`. The routes are in `simulator.py`,
the pages in `sim_pages.py`.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from payhub.gateways import simkit
from payhub.gateways.base import SandboxProfile
from payhub.gateways.payos import signing, wire

ENV_PREFIX: Final = "PAYHUB_SANDBOX_PAYOS_"
DEFAULT_PORT: Final = 8101
DEFAULT_CLIENT_ID: Final = "payhub-sandbox-client-id"
DEFAULT_API_KEY: Final = "payhub-sandbox-api-key"
# The checksum key of payOS's own webhook documentation, so the confirm-webhook sample
# this sandbox sends carries the documented signature 412e915d....
DEFAULT_CHECKSUM_KEY: Final = "1a54716c8f0efb2744fb28b6e38b25da7f67a925d98bc1c18bd8faaecadd7675"
DEFAULT_WEBHOOK_ATTEMPTS: Final = 3
DEFAULT_WEBHOOK_INTERVAL: Final = 5.0

BANK_BIN: Final = "970422"
ACCOUNT_NUMBER: Final = "0000123456789"
ACCOUNT_NAME: Final = "PAYHUB SANDBOX"
CODE_INVALID_INPUT: Final = "20"
CODE_BAD_SIGNATURE: Final = "201"
CODE_DUPLICATE_ORDER: Final = "231"
CODE_NOT_FOUND: Final = "101"  # [unconfirmed] the real number is not documented
CODE_NOT_CANCELLABLE: Final = "102"  # [unconfirmed]

# The webhook payOS sends when a URL is confirmed (payos.vn docs sample, orderCode 123).
CONFIRM_SAMPLE_DATA: Final[dict[str, Any]] = {
    "orderCode": 123,
    "amount": 3000,
    "description": "VQRIO123",
    "accountNumber": "12345678",
    "reference": "TF230204212323",
    "transactionDateTime": "2023-02-04 18:25:00",
    "currency": "VND",
    "paymentLinkId": "124c33293c43417ab7879e14c8d9eb18",
    "code": "00",
    "desc": "Thành công",
    "counterAccountBankId": "",
    "counterAccountBankName": "",
    "counterAccountName": "",
    "counterAccountNumber": "",
    "virtualAccountName": "",
    "virtualAccountNumber": "",
}


def sandbox_profile() -> SandboxProfile:
    """The sandbox channel: PAYHUB_SANDBOX_PAYOS_{CLIENT_ID,API_KEY,CHECKSUM_KEY} or defaults."""
    return SandboxProfile(
        credentials={
            "client_id": os.environ.get(ENV_PREFIX + "CLIENT_ID") or DEFAULT_CLIENT_ID,
            "api_key": os.environ.get(ENV_PREFIX + "API_KEY") or DEFAULT_API_KEY,
            "checksum_key": os.environ.get(ENV_PREFIX + "CHECKSUM_KEY") or DEFAULT_CHECKSUM_KEY,
        },
        default_port=DEFAULT_PORT,
        notify_url_option="webhook_url",
    )


def default_retry_policy() -> simkit.RetryPolicy:
    return simkit.RetryPolicy(
        max_attempts=simkit.env_int(ENV_PREFIX + "WEBHOOK_ATTEMPTS", DEFAULT_WEBHOOK_ATTEMPTS),
        interval_seconds=simkit.env_float(
            ENV_PREFIX + "WEBHOOK_INTERVAL", DEFAULT_WEBHOOK_INTERVAL
        ),
        backoff=1.0,
        timeout_seconds=10.0,
    )


def webhook_data_keys() -> tuple[str, ...]:
    """The 16 keys of webhook `data`, no more, no fewer (the SDK refuses extra keys)."""
    return tuple(CONFIRM_SAMPLE_DATA)


def paid_webhook_data(
    *,
    order_code: int,
    amount: int,
    description: str,
    reference: str,
    paid_at: datetime,
    link_id: str,
    account_number: str = ACCOUNT_NUMBER,
) -> dict[str, Any]:
    """Webhook `data` for a transfer of `amount` to a link, as the sandbox sends it."""
    return {
        "orderCode": order_code,
        "amount": amount,
        "description": description,
        "accountNumber": account_number,
        "reference": reference,
        "transactionDateTime": wire.format_webhook_time(paid_at),
        "currency": wire.CURRENCY,
        "paymentLinkId": link_id,
        "code": "00",
        "desc": "success",
        "counterAccountBankId": "",
        "counterAccountBankName": "",
        "counterAccountName": "",
        "counterAccountNumber": "",
        "virtualAccountName": "",
        "virtualAccountNumber": "",
    }


def webhook_body(data: dict[str, Any], signature: str) -> bytes:
    """The webhook's JSON body around `data` and its signature."""
    body = {"code": "00", "desc": "success", "success": True, "data": data, "signature": signature}
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def signed_webhook(data: dict[str, Any], checksum_key: str) -> bytes:
    """The webhook body for `data`, signed as the gateway signs it."""
    return webhook_body(data, signing.sign_data(data, checksum_key))


@dataclass(slots=True)
class Link:
    id: str
    order_code: int
    amount: int
    description: str
    cancel_url: str
    return_url: str
    expired_at: int | None
    created_at: datetime
    status: str = "PENDING"
    amount_paid: int = 0
    transactions: list[dict[str, Any]] = field(default_factory=list)
    canceled_at: str | None = None
    cancellation_reason: str | None = None
    qr_code: str = ""  # the VietQR string the create answer carried; the page draws it

    def expire_if_due(self, now: datetime) -> None:
        if (
            self.status == "PENDING"
            and self.expired_at is not None
            and now.timestamp() >= self.expired_at
        ):
            self.status = "EXPIRED"

    @property
    def payable(self) -> bool:
        return self.status in ("PENDING", "UNDERPAID")

    @property
    def amount_remaining(self) -> int:
        return max(self.amount - self.amount_paid, 0)

    def as_wire(self) -> dict[str, Any]:
        """The 10-key link object of GET and cancel."""
        return {
            "id": self.id,
            "orderCode": self.order_code,
            "amount": self.amount,
            "amountPaid": self.amount_paid,
            "amountRemaining": self.amount_remaining,
            "status": self.status,
            "createdAt": wire.format_iso_local(self.created_at),
            "transactions": list(self.transactions),
            "canceledAt": self.canceled_at,
            "cancellationReason": self.cancellation_reason,
        }


# An API answer: (HTTP status, JSON body); `simulator.py` encodes it as PayOS does.
Answer = tuple[int, Any]


def error(code: str, desc: str, status_code: int = 200, data: Any = None) -> Answer:
    return status_code, {"code": code, "desc": desc, "data": data}


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _crc16_ccitt(text: str) -> str:
    crc = 0xFFFF
    for byte in text.encode("utf-8"):
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def _tlv(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def vietqr_payload(amount: int, memo: str) -> str:
    """An EMVCo VietQR string for a transfer to the sandbox account (display only)."""
    account = (
        _tlv("00", "A000000727")
        + _tlv("01", _tlv("00", BANK_BIN) + _tlv("01", ACCOUNT_NUMBER))
        + _tlv("02", "QRIBFTTA")
    )
    body = (
        _tlv("00", "01")
        + _tlv("01", "12")
        + _tlv("38", account)
        + _tlv("53", "704")
        + _tlv("54", str(amount))
        + _tlv("58", "VN")
        + _tlv("62", _tlv("08", memo))
        + "6304"
    )
    return body + _crc16_ccitt(body)


class PayOSSimulator:
    """State and behaviour of one sandbox channel."""

    def __init__(self, options: simkit.SimulatorOptions) -> None:
        self.options = options
        self.public_url = options.public_url.rstrip("/")
        creds = options.profile.credentials
        self.client_id = creds["client_id"]
        self.api_key = creds["api_key"]
        self.checksum_key = creds["checksum_key"]
        self.notifier = simkit.Notifier(
            options.retry or default_retry_policy(),
            is_acknowledged=lambda response: 200 <= response.status_code < 300,
            transport=options.transport,
        )
        self.initial_webhook_url = (
            options.extra.get("webhook_url") or os.environ.get(ENV_PREFIX + "WEBHOOK_URL") or None
        )
        self.webhook_url: str | None = self.initial_webhook_url
        self.links: dict[str, Link] = {}
        self.by_order_code: dict[int, str] = {}
        self._reference_counter = 0

    def reset(self) -> None:
        self.links.clear()
        self.by_order_code.clear()
        self.notifier.reset()
        self.webhook_url = self.initial_webhook_url

    # ------------------------------------------------------------------ helpers

    def authorised(self, client_id: str, api_key: str) -> bool:
        """The request's x-client-id and x-api-key headers are this channel's."""
        id_ok = secrets.compare_digest(client_id.encode(), self.client_id.encode())
        key_ok = secrets.compare_digest(api_key.encode(), self.api_key.encode())
        return id_ok and key_ok

    def find(self, link_or_order: str) -> Link | None:
        link_id = link_or_order
        if link_or_order.isdigit():
            link_id = self.by_order_code.get(int(link_or_order), "")
        link = self.links.get(link_id)
        if link is not None:
            link.expire_if_due(datetime.now(UTC))
        return link

    def signed(self, data: dict[str, Any]) -> Answer:
        return 200, {
            "code": "00",
            "desc": "success",
            "data": data,
            "signature": signing.sign_data(data, self.checksum_key),
        }

    # ------------------------------------------------------------------ API

    def create(self, body: Any) -> Answer:
        if not isinstance(body, dict):
            return error(CODE_INVALID_INPUT, "Thông tin truyền lên không đúng.")
        order_code = body.get("orderCode")
        amount = body.get("amount")
        description = body.get("description")
        signature = body.get("signature")
        urls = (body.get("cancelUrl"), body.get("returnUrl"))
        if not is_int(order_code) or not is_int(amount):
            return error(CODE_INVALID_INPUT, "orderCode and amount must be integers")
        assert isinstance(order_code, int) and isinstance(amount, int)
        if not isinstance(description, str) or not all(isinstance(u, str) and u for u in urls):
            return error(CODE_INVALID_INPUT, "description, cancelUrl and returnUrl are required")
        if not isinstance(signature, str) or not signing.verify_payment_request(
            body, signature, self.checksum_key
        ):
            return error(CODE_BAD_SIGNATURE, "Mã kiểm tra(signature) không hợp lệ")
        if order_code < 1:
            return error(CODE_INVALID_INPUT, "order_code must be a positive number")
        if order_code > wire.MAX_ORDER_CODE:
            return error(
                CODE_INVALID_INPUT, f"order_code must not be greater than {wire.MAX_ORDER_CODE}"
            )
        if amount < 1:
            return error(CODE_INVALID_INPUT, "amount must be a positive number")
        if len(description) > wire.DESCRIPTION_LIMIT:
            return error(CODE_INVALID_INPUT, "description: Mô tả tối đa 25 kí tự")
        expired_at = body.get("expiredAt")
        if expired_at is not None and (
            not is_int(expired_at) or not 0 < expired_at <= wire.MAX_EXPIRED_AT
        ):
            return error(CODE_INVALID_INPUT, "expiredAt must be unix seconds (Int32)")
        if order_code in self.by_order_code:
            return error(CODE_DUPLICATE_ORDER, "Đơn thanh toán đã tồn tại")
        link = Link(
            id=uuid.uuid4().hex,
            order_code=order_code,
            amount=amount,
            description=description,
            cancel_url=str(urls[0]),
            return_url=str(urls[1]),
            expired_at=expired_at,
            created_at=datetime.now(UTC),
        )
        self.links[link.id] = link
        self.by_order_code[order_code] = link.id
        data: dict[str, Any] = {
            "bin": BANK_BIN,
            "accountNumber": ACCOUNT_NUMBER,
            "accountName": ACCOUNT_NAME,
            "amount": amount,
            "description": description,
            "orderCode": order_code,
            "currency": wire.CURRENCY,
            "paymentLinkId": link.id,
            "status": "PENDING",
        }
        if expired_at is not None:
            data["expiredAt"] = expired_at
        data["checkoutUrl"] = f"{self.public_url}/web/{link.id}"
        link.qr_code = vietqr_payload(amount, wire.to_ascii(description)[:25] or "payhub")
        data["qrCode"] = link.qr_code
        return self.signed(data)

    def cancel(self, link: Link, reason: str | None) -> Answer:
        if link.status != "PENDING":
            return error(CODE_NOT_CANCELLABLE, f"Đơn thanh toán không thể hủy ({link.status})")
        link.status = "CANCELLED"
        link.canceled_at = wire.format_iso_local(datetime.now(UTC))
        link.cancellation_reason = reason
        return self.signed(link.as_wire())

    async def confirm_webhook(self, url: str) -> Answer:
        content = signed_webhook(CONFIRM_SAMPLE_DATA, self.checksum_key)
        problem: str | None = None
        try:
            async with httpx.AsyncClient(
                transport=self.options.transport, timeout=self.notifier.policy.timeout_seconds
            ) as client:
                response = await client.post(
                    url,
                    content=content,
                    headers={"Content-Type": "application/json"},
                )
            if not 200 <= response.status_code < 300:
                problem = f"Request failed with status code {response.status_code}"
        except httpx.HTTPError as exc:
            problem = f"Request failed: {type(exc).__name__}"
        if problem is not None:
            return error(CODE_INVALID_INPUT, "Webhook url invalid", 400, problem)
        self.webhook_url = url
        return 200, {
            "code": "00",
            "desc": "success",
            "data": {
                "webhookUrl": url,
                "accountNumber": ACCOUNT_NUMBER,
                "accountName": ACCOUNT_NAME,
                "name": "payhub sandbox channel",
                "shortName": "PAYHUB",
            },
        }

    # ------------------------------------------------------------------ outcomes

    def pay(self, link: Link, amount: int) -> simkit.Delivery | None:
        """Record a transfer of `amount` to the link and send its webhook."""
        now = datetime.now(UTC)
        self._reference_counter += 1
        reference = f"FT{now:%y%m%d}{self._reference_counter:08d}"
        link.transactions.append(
            {
                "reference": reference,
                "amount": amount,
                "accountNumber": ACCOUNT_NUMBER,
                "description": link.description,
                "transactionDateTime": wire.format_iso_local(now),
                "virtualAccountName": None,
                "virtualAccountNumber": None,
                "counterAccountBankId": None,
                "counterAccountBankName": None,
                "counterAccountName": None,
                "counterAccountNumber": None,
            }
        )
        link.amount_paid += amount
        link.status = "PAID" if link.amount_paid >= link.amount else "UNDERPAID"
        data = paid_webhook_data(
            order_code=link.order_code,
            amount=amount,
            description=link.description,
            reference=reference,
            paid_at=now,
            link_id=link.id,
        )
        return self.send_webhook(data, label=f"payment {link.order_code} {reference}")

    def send_webhook(self, data: dict[str, Any], label: str) -> simkit.Delivery | None:
        fault = self.notifier.take_fault()
        if fault is simkit.Fault.WRONG_AMOUNT:
            data = {**data, "amount": data["amount"] + 1000}
        signature = signing.sign_data(data, self.checksum_key)
        if fault is simkit.Fault.TAMPER:
            data = {**data, "amount": data["amount"] + 1000}
        content = webhook_body(data, signature)
        if self.webhook_url is None:
            skipped = simkit.Delivery(
                id=secrets.token_hex(8),
                label=label,
                url="",
                fault=fault.value if fault else None,
                state="no_webhook_url",
            )
            self.notifier.deliveries.append(skipped)
            return skipped
        call = simkit.OutboundCall(
            method="POST",
            url=self.webhook_url,
            content=content,
            headers={"Content-Type": "application/json"},
            label=label,
        )
        return self.notifier.send(call, fault)

    def apply_outcome(
        self, link: Link, outcome: str, amount: int | None
    ) -> tuple[str, simkit.Delivery | None]:
        """Drive `outcome`; returns (browser redirect URL, delivery or None)."""
        if outcome in ("paid", "partial"):
            if not link.payable:
                raise ValueError(f"link is {link.status}, it cannot be paid")
            if amount is None:
                remaining = link.amount_remaining
                amount = remaining if outcome == "paid" else max(remaining // 2, 1)
            if amount < 1:
                raise ValueError("amount must be positive")
            delivery = self.pay(link, amount)
            if link.status == "PAID":
                return self.redirect_url(link, cancel=False), delivery
            return f"{self.public_url}/web/{link.id}", delivery
        if outcome == "cancel":
            if link.status != "PENDING":
                raise ValueError(f"link is {link.status}, it cannot be cancelled")
            link.status = "CANCELLED"
            link.canceled_at = wire.format_iso_local(datetime.now(UTC))
            link.cancellation_reason = "Buyer cancelled"
            return self.redirect_url(link, cancel=True), None
        if outcome == "expire":
            if link.status != "PENDING":
                raise ValueError(f"link is {link.status}, it cannot expire")
            link.status = "EXPIRED"
            return f"{self.public_url}/web/{link.id}", None
        raise ValueError(f"unknown outcome {outcome!r}")

    def redirect_url(self, link: Link, cancel: bool) -> str:
        params = {
            "code": "00",
            "id": link.id,
            "cancel": "true" if cancel else "false",
            "status": link.status,
            "orderCode": str(link.order_code),
        }
        return _with_query(link.cancel_url if cancel else link.return_url, params)

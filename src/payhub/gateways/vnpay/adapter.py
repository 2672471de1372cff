"""The VNPay adapter: payhub's Gateway protocol over VNPay API 2.1.0.

Creating a payment needs no HTTP call: the adapter builds and signs the `vpcpay.html` URL the
buyer is sent to. Results arrive as a GET IPN to the IPN URL VNPay has registered for the
terminal (out of band), and can be read with `querydr`. Refunds go through the same JSON API.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode

import httpx

from payhub.clock import Clock, SystemClock
from payhub.gateways import transport
from payhub.gateways.base import (
    AmountLimits,
    ApplyOutcome,
    Capabilities,
    Checkout,
    CheckoutCopy,
    CheckoutRequest,
    CredentialCheck,
    CredentialField,
    Environment,
    GatewayConfig,
    GatewayError,
    GatewayMisconfigured,
    GatewayRejected,
    GatewayStatus,
    GatewayUnavailable,
    InboundRequest,
    InvalidPaymentRequest,
    InvalidSignature,
    MalformedNotification,
    Notification,
    NotSupported,
    PaymentRef,
    RefundRef,
    RefundRequest,
    RefundResult,
    RefundStatus,
    Reply,
    ReturnInfo,
    StatusReport,
    credential_check_from_error,
)
from payhub.gateways.vnpay import signing, wire
from payhub.money import Money

# After vnp_ExpireDate VNPay's page no longer takes the payment; a querydr "not found"
# after this grace period means the attempt can be expired safely.
EXPIRY_GRACE = timedelta(minutes=5)

# querydr codes that tell about the credentials (reference 2.6): 91 "not found" means the
# TmnCode and the checksum were accepted; 97 is a bad checksum (wrong hash secret), 02 an
# unknown TmnCode. Anything else (94 busy, 99, 03) tells nothing.
_CREDENTIALS_ACCEPTED = frozenset({"00", "91"})
_CREDENTIALS_REFUSED = frozenset({"02", "97"})


def parse_query_string(raw: bytes) -> list[tuple[str, str]]:
    """Decode a query string exactly once (`+` -> space); duplicates and bad UTF-8 refused."""
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedNotification("query string is not valid form-encoded UTF-8") from exc
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise MalformedNotification("a parameter appears more than once")
    return pairs


THROTTLED_SECONDS = 300.0


class VnpayGateway:
    """VNPay (API 2.1.0): pay URL, GET IPN, querydr and refund."""

    name: ClassVar[str] = "vnpay"
    display_name: ClassVar[str] = "VNPay"
    checkout_copy: ClassVar[CheckoutCopy] = CheckoutCopy(
        line={
            "vi": "Thẻ ATM, ứng dụng ngân hàng hoặc VNPay-QR",
            "en": "ATM card, banking app or VNPay-QR",
            "ms": "Kad ATM, aplikasi bank atau VNPay-QR",
        },
    )
    capabilities: ClassVar[Capabilities] = Capabilities(
        currencies={"VND": AmountLimits(min_minor=5_000, max_minor=999_999_999)},
        refund=True,
        partial_refund=True,
        query=True,
        cancel=False,
        link_ttl=timedelta(minutes=15),
    )
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField("tmn_code", secret=False, description="Terminal code (vnp_TmnCode)"),
        CredentialField("hash_secret", secret=True, description="Checksum secret (vnp_HashSecret)"),
    )
    default_base_urls: ClassVar[Mapping[Environment, str]] = {
        Environment.SIMULATOR: "http://127.0.0.1:8102",
        Environment.SANDBOX: "https://sandbox.vnpayment.vn",
        Environment.PRODUCTION: "https://pay.vnpay.vn",
    }
    # The wall clock used for querydr/refund `vnp_CreateDate`; tests may replace it.
    clock: ClassVar[Clock] = SystemClock()

    def __init__(self, config: GatewayConfig, http: httpx.AsyncClient) -> None:
        self._config = config
        self._http = http

    def __repr__(self) -> str:
        return f"VnpayGateway(base_url={self._config.base_url!r})"

    # -- configuration --------------------------------------------------------------------

    @property
    def _tmn_code(self) -> str:
        return self._config.secret("tmn_code")

    @property
    def pay_url(self) -> str:
        return self._config.settings.get("pay_url") or (
            self._config.base_url.rstrip("/") + wire.PAY_PATH
        )

    @property
    def api_url(self) -> str:
        return self._config.settings.get("api_url") or (
            self._config.base_url.rstrip("/") + wire.API_PATH
        )

    @property
    def _server_ip(self) -> str:
        return self._config.settings.get("server_ip", "127.0.0.1")

    # -- references -----------------------------------------------------------------------

    def new_reference(self, serial: int, now: datetime) -> str:
        """`PH` + GMT+7 date + serial + 4 random hex digits: unique per day and per account,
        and still fresh if a reset hub counts serials from 1 again on the same day."""
        day = wire.format_vnp_time(now)[2:8]
        return f"PH{day}{serial:06d}{secrets.token_hex(2).upper()}"

    # -- create ---------------------------------------------------------------------------

    async def create_checkout(self, req: CheckoutRequest) -> Checkout:
        if req.amount.currency != wire.CURRENCY:
            raise InvalidPaymentRequest(f"VNPay takes VND only, not {req.amount.currency}")
        limits = self.capabilities.currencies[wire.CURRENCY]
        if not limits.min_minor <= req.amount.minor <= limits.max_minor:
            raise InvalidPaymentRequest(
                f"VNPay takes {limits.min_minor}..{limits.max_minor} VND, got {req.amount.minor}"
            )
        if not req.reference or len(req.reference) > wire.TXN_REF_MAX:
            raise InvalidPaymentRequest("reference must be 1..100 characters")
        if wire.sanitize_token(req.reference, wire.TXN_REF_MAX) != req.reference:
            raise InvalidPaymentRequest("reference must be alphanumeric")
        if req.expires_at <= req.now:
            raise InvalidPaymentRequest("expires_at must be in the future")
        order_info = wire.sanitize_text(req.description) or f"Thanh toan {req.reference}"
        create_date = wire.format_vnp_time(req.now)
        expire_date = wire.format_vnp_time(req.expires_at)
        params: dict[str, str] = {
            "vnp_Version": wire.VERSION,
            "vnp_Command": "pay",
            "vnp_TmnCode": self._tmn_code,
            "vnp_Amount": wire.to_vnp_amount(req.amount),
            "vnp_CreateDate": create_date,
            "vnp_CurrCode": wire.CURRENCY,
            "vnp_IpAddr": req.client_ip or "127.0.0.1",
            "vnp_Locale": wire.vnp_locale(req.locale),
            "vnp_OrderInfo": order_info,
            "vnp_OrderType": self._config.settings.get("order_type", "other"),
            "vnp_ReturnUrl": req.return_url,
            "vnp_ExpireDate": expire_date,
            "vnp_TxnRef": req.reference,
        }
        bank_code = req.options.get("bank_code") or self._config.settings.get("bank_code")
        if bank_code:
            params["vnp_BankCode"] = bank_code
        ordered = sorted((k, v) for k, v in params.items() if v != "")
        secure_hash = signing.sign_query(self._config.secret("hash_secret"), ordered)
        query = urlencode([*ordered, ("vnp_SecureHash", secure_hash)])
        return Checkout(
            reference=req.reference,
            checkout_url=f"{self.pay_url}?{query}",
            expires_at=req.expires_at,
            gateway_data={
                "vnp_TxnRef": req.reference,
                "vnp_CreateDate": create_date,
                "vnp_ExpireDate": expire_date,
                "vnp_OrderInfo": order_info,
            },
        )

    # -- inbound --------------------------------------------------------------------------

    def _verified_params(self, raw: InboundRequest) -> dict[str, str]:
        pairs = parse_query_string(raw.query_string)
        if not pairs:
            raise MalformedNotification("no query parameters")
        params = dict(pairs)
        received = params.get("vnp_SecureHash", "")
        if not received:
            raise InvalidSignature("vnp_SecureHash is missing")
        if not signing.verify_query(self._config.secret("hash_secret"), pairs, received):
            raise InvalidSignature("vnp_SecureHash does not match")
        return params

    def verify_notification(self, raw: InboundRequest) -> Notification:
        params = self._verified_params(raw)
        missing = [name for name in wire.CALLBACK_REQUIRED if not params.get(name)]
        if missing:
            raise MalformedNotification(f"missing {', '.join(missing)}")
        if params["vnp_TmnCode"] != self._tmn_code:
            raise MalformedNotification("vnp_TmnCode is not this terminal")
        try:
            amount = wire.from_vnp_amount(params["vnp_Amount"])
            pay_date = params.get("vnp_PayDate")
            occurred_at = wire.parse_vnp_time(pay_date) if pay_date else None
        except ValueError as exc:
            raise MalformedNotification(str(exc)) from exc
        response_code = params["vnp_ResponseCode"]
        transaction_status = params["vnp_TransactionStatus"]
        txn_no = params.get("vnp_TransactionNo", "")
        return Notification(
            reference=params["vnp_TxnRef"],
            status=wire.payment_status(response_code, transaction_status),
            dedupe_key=wire.dedupe_key(params),
            amount=amount,
            gateway_code=f"{response_code}/{transaction_status}",
            message=f"vnp_ResponseCode={response_code} vnp_TransactionStatus={transaction_status}",
            gateway_txn_id=txn_no if txn_no not in ("", "0") else None,
            occurred_at=occurred_at,
            payload=dict(params),
        )

    def notification_reply(self, outcome: ApplyOutcome) -> Reply:
        return Reply(
            status_code=200, body=wire.ipn_reply_body(outcome), media_type="application/json"
        )

    def verify_return(self, raw: InboundRequest) -> ReturnInfo:
        try:
            params = self._verified_params(raw)
        except (InvalidSignature, MalformedNotification) as exc:
            reference = None
            with contextlib.suppress(MalformedNotification):
                reference = dict(parse_query_string(raw.query_string)).get("vnp_TxnRef")
            return ReturnInfo(
                reference=reference,
                claimed_status=GatewayStatus.UNKNOWN,
                signature_valid=False,
                message=exc.message,
            )
        status = wire.payment_status(
            params.get("vnp_ResponseCode", ""), params.get("vnp_TransactionStatus", "")
        )
        return ReturnInfo(
            reference=params.get("vnp_TxnRef"),
            claimed_status=status,
            signature_valid=True,
            message=f"vnp_ResponseCode={params.get('vnp_ResponseCode', '')}",
        )

    # -- API calls ------------------------------------------------------------------------

    async def _post(self, body: Mapping[str, str], operation: str) -> dict[str, Any]:
        # querydr reads; refund may move money.
        effectful = operation != "querydr"
        response = await transport.exchange(
            self._http.post(self.api_url, json=dict(body)),
            gateway="VNPay",
            operation=operation,
            effectful=effectful,
        )
        if response.status_code != 200:
            raise transport.unusable_answer(
                f"VNPay {operation}: unexpected HTTP {response.status_code}",
                gateway_code=str(response.status_code),
                effectful=effectful,
            )
        try:
            data = response.json()
        except ValueError:
            raise transport.unusable_answer(
                f"VNPay {operation}: answer is not JSON", gateway_code=None, effectful=effectful
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("vnp_ResponseCode"), str):
            raise transport.unusable_answer(
                f"VNPay {operation}: answer has no vnp_ResponseCode",
                gateway_code=None,
                effectful=effectful,
            )
        return data

    def _new_request_id(self, hint: str = "") -> str:
        token = wire.sanitize_token(hint, wire.REQUEST_ID_MAX)
        return token or secrets.token_hex(16)

    def _transaction_date(self, ref: PaymentRef) -> str:
        stored = ref.gateway_data.get("vnp_CreateDate")
        return stored if stored else wire.format_vnp_time(ref.created_at)

    def _check_signed(
        self, data: Mapping[str, Any], fields: tuple[str, ...], reference: str, operation: str
    ) -> None:
        received = data.get("vnp_SecureHash")
        if not isinstance(received, str) or not signing.verify_fields(
            self._config.secret("hash_secret"), data, fields, received
        ):
            raise InvalidSignature(f"VNPay {operation} answer signature does not match")
        if str(data.get("vnp_TxnRef", "")) != reference:
            raise InvalidSignature(f"VNPay {operation} answer is about another vnp_TxnRef")

    async def _querydr(self, ref: PaymentRef) -> dict[str, Any]:
        """One querydr about the attempt; its answer, checked when it says `00`."""
        now = self.clock.now()
        body = {
            "vnp_RequestId": self._new_request_id(),
            "vnp_Version": wire.VERSION,
            "vnp_Command": "querydr",
            "vnp_TmnCode": self._tmn_code,
            "vnp_TxnRef": ref.reference,
            "vnp_OrderInfo": wire.sanitize_text(f"Truy van GD {ref.reference}"),
            "vnp_TransactionDate": self._transaction_date(ref),
            "vnp_CreateDate": wire.format_vnp_time(now),
            "vnp_IpAddr": self._server_ip,
        }
        body["vnp_SecureHash"] = signing.sign_fields(
            self._config.secret("hash_secret"), body, signing.QUERYDR_REQUEST_FIELDS
        )
        data = await self._post(body, "querydr")
        if data["vnp_ResponseCode"] == "00":
            self._check_signed(data, signing.QUERYDR_RESPONSE_FIELDS, ref.reference, "querydr")
        return data

    async def refund_status(self, ref: RefundRef) -> RefundResult:
        """querydr on the refunded payment: once refunded, VNPay answers with the refund's
        `vnp_TransactionType` (02 full, 03 partial) and its `vnp_TransactionStatus` (05
        processing, 06 sent to the bank, 00 done, 09 rejected). It reports the latest
        refund of the transaction."""
        data = await self._querydr(ref.payment)
        code = data["vnp_ResponseCode"]
        message = str(data.get("vnp_Message", ""))
        if code != "00":
            raise self._api_error(code, message, "querydr")
        kind = str(data.get("vnp_TransactionType", ""))
        transaction_status = str(data.get("vnp_TransactionStatus", ""))
        if kind not in ("02", "03"):
            # VNPay shows no refund on the transaction yet: still being taken in.
            return RefundResult(RefundStatus.PENDING, transaction_status or kind, None, message)
        return RefundResult(
            wire.refund_status(transaction_status),
            transaction_status,
            ref.gateway_refund_id,
            message,
        )

    async def query(self, ref: PaymentRef) -> StatusReport:
        now = self.clock.now()
        data = await self._querydr(ref)
        code = data["vnp_ResponseCode"]
        message = str(data.get("vnp_Message", ""))
        if code == "00":
            transaction_status = str(data.get("vnp_TransactionStatus", ""))
            status = wire.query_status(transaction_status)
            try:
                amount = wire.from_vnp_amount(str(data.get("vnp_Amount", "")))
                pay_date = str(data.get("vnp_PayDate") or "")
                occurred_at = wire.parse_vnp_time(pay_date) if pay_date else None
            except ValueError as exc:
                raise transport.unusable_answer(
                    f"VNPay querydr answer unreadable: {exc}", gateway_code=None, effectful=False
                ) from exc
            txn_no = str(data.get("vnp_TransactionNo") or "")
            return StatusReport(
                reference=ref.reference,
                status=status,
                gateway_code=transaction_status,
                amount_paid=amount if status is GatewayStatus.SUCCEEDED else None,
                gateway_txn_id=txn_no if txn_no not in ("", "0") else None,
                message=message,
                occurred_at=occurred_at,
                raw=dict(data),
            )
        if code == "91":
            expire_text = ref.gateway_data.get("vnp_ExpireDate", "")
            expired = False
            if expire_text and wire.is_vnp_time(expire_text):
                expired = now > wire.parse_vnp_time(expire_text) + EXPIRY_GRACE
            return StatusReport(
                reference=ref.reference,
                status=GatewayStatus.EXPIRED if expired else GatewayStatus.PENDING,
                gateway_code="91",
                message=message or "transaction not found",
                raw=dict(data),
            )
        raise self._api_error(code, message, "querydr")

    def _api_error(self, code: str, message: str, operation: str) -> Exception:
        text = f"VNPay {operation} answered {code}: {message}"
        if code in ("02", "97"):
            return GatewayMisconfigured(text, gateway_code=code)
        if code == "94":
            # Too many queries: VNPay's sandbox answered 94 to every query for about five
            # minutes after one (reference, observed); ask callers to wait that long.
            return GatewayUnavailable(
                text, gateway_code=code, outcome_unknown=False, retry_after=THROTTLED_SECONDS
            )
        if code == "99":
            return GatewayUnavailable(
                text, gateway_code=code, outcome_unknown=operation != "querydr"
            )
        return GatewayRejected(text, gateway_code=code)

    async def refund(self, req: RefundRequest) -> RefundResult:
        payment = req.payment
        if req.amount.currency != wire.CURRENCY or payment.amount.currency != wire.CURRENCY:
            raise InvalidPaymentRequest("VNPay refunds are in VND only")
        if req.amount.minor <= 0 or req.amount > payment.amount:
            raise InvalidPaymentRequest("refund amount must be between 1 and the amount paid")
        if req.full and req.amount != payment.amount:
            raise InvalidPaymentRequest("a full refund must be for the whole amount paid")
        txn_no = payment.gateway_txn_id or payment.gateway_data.get("vnp_TransactionNo") or "0"
        body = {
            "vnp_RequestId": self._new_request_id(req.reference),
            "vnp_Version": wire.VERSION,
            "vnp_Command": "refund",
            "vnp_TmnCode": self._tmn_code,
            "vnp_TransactionType": "02" if req.full else "03",
            "vnp_TxnRef": payment.reference,
            "vnp_Amount": wire.to_vnp_amount(req.amount),
            "vnp_OrderInfo": wire.sanitize_text(req.reason) or f"Hoan tien GD {payment.reference}",
            "vnp_TransactionNo": txn_no,
            "vnp_TransactionDate": self._transaction_date(payment),
            "vnp_CreateBy": wire.sanitize_text(req.requested_by, wire.CREATE_BY_MAX) or "payhub",
            "vnp_CreateDate": wire.format_vnp_time(req.now),
            "vnp_IpAddr": self._server_ip,
        }
        body["vnp_SecureHash"] = signing.sign_fields(
            self._config.secret("hash_secret"), body, signing.REFUND_REQUEST_FIELDS
        )
        data = await self._post(body, "refund")
        code = data["vnp_ResponseCode"]
        message = str(data.get("vnp_Message", ""))
        if code == "00":
            try:
                self._check_signed(
                    data, signing.REFUND_RESPONSE_FIELDS, payment.reference, "refund"
                )
            except InvalidSignature as exc:
                # The refund request did reach VNPay; an answer we cannot trust says nothing
                # about what VNPay did with it.
                raise transport.unusable_answer(
                    exc.message, gateway_code="bad_signature", effectful=True
                ) from None
            refund_no = str(data.get("vnp_TransactionNo") or "")
            return RefundResult(
                status=wire.refund_status(str(data.get("vnp_TransactionStatus", ""))),
                gateway_code=str(data.get("vnp_TransactionStatus", "")),
                gateway_refund_id=refund_no or None,
                message=message,
            )
        if code == "94":
            # The same refund was already requested and VNPay is still processing it.
            return RefundResult(status=RefundStatus.PENDING, gateway_code="94", message=message)
        raise self._api_error(code, message, "refund")

    async def cancel(self, ref: PaymentRef) -> None:
        raise NotSupported("VNPay has no cancel operation; an unpaid URL expires at vnp_ExpireDate")

    async def register_notification_url(self, url: str) -> None:
        raise NotSupported(
            "VNPay's IPN URL is registered with VNPay for the terminal, outside the API"
        )

    async def validate_credentials(self) -> CredentialCheck:
        """`querydr` for a vnp_TxnRef that was never created: VNPay checks the TmnCode and
        the request checksum first, so good credentials get `91` (not found), a wrong hash
        secret `97` and an unknown TmnCode `02`."""
        checked_with = "querydr (a vnp_TxnRef that does not exist)"
        now = self.clock.now()
        probe = PaymentRef(
            reference=f"PHCHECK{secrets.token_hex(6)}",
            amount=Money(0, wire.CURRENCY),
            created_at=now,
        )
        try:
            data = await self._querydr(probe)
        except GatewayError as exc:
            return credential_check_from_error(exc, checked_with)
        code = data["vnp_ResponseCode"]
        message = str(data.get("vnp_Message", ""))[:300]
        if code in _CREDENTIALS_ACCEPTED:
            valid: bool | None = True
        elif code in _CREDENTIALS_REFUSED:
            valid = False
        else:
            valid = None
        return CredentialCheck(
            valid=valid,
            code=code,
            message=message or f"VNPay querydr answered {code}",
            checked_with=checked_with,
        )


__all__ = ["VnpayGateway", "parse_query_string"]

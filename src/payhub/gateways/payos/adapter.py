"""The PayOS adapter: payment links paid by VietQR bank transfer.

payhub's reference for a PayOS attempt is the link's `orderCode` written in decimal. The
adapter creates links (`POST /v2/payment-requests`), reads them back (`GET`), cancels them,
registers the webhook URL (`POST /confirm-webhook`) and verifies webhooks. There is no
refund API. Business errors arrive as HTTP 200 with `code != "00"`; every successful answer
carries a `signature` over its `data`, checked before anything in it is used.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, ClassVar, Final
from urllib.parse import parse_qs

import httpx

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
    Reply,
    ReturnInfo,
    StatusReport,
    credential_check_from_error,
)
from payhub.gateways.payos import signing, wire
from payhub.gateways.strict_json import StrictJsonError, loads_strict
from payhub.money import Money

PRODUCTION_URL: Final = "https://api-merchant.payos.vn"
SIMULATOR_URL: Final = "http://127.0.0.1:8101"
DESCRIPTION_LIMIT_SETTING: Final = "description_limit"
CANCELLATION_REASON: Final = "Cancelled by merchant"

_ACK = b'{"success":true}'
# What payhub answers a webhook with. PayOS retries anything that is not 2xx.
_REPLIES: Final[Mapping[ApplyOutcome, Reply]] = MappingProxyType(
    {
        ApplyOutcome.APPLIED: Reply(200, _ACK, "application/json"),
        ApplyOutcome.DUPLICATE: Reply(200, _ACK, "application/json"),
        # confirm-webhook's sample (orderCode 123) must get a 2xx or the URL is refused.
        ApplyOutcome.UNKNOWN_PAYMENT: Reply(200, _ACK, "application/json"),
        ApplyOutcome.AMOUNT_MISMATCH: Reply(200, _ACK, "application/json"),
        ApplyOutcome.INVALID_SIGNATURE: Reply(
            400, b'{"success":false,"error":"invalid signature"}', "application/json"
        ),
        ApplyOutcome.MALFORMED: Reply(
            400, b'{"success":false,"error":"malformed webhook"}', "application/json"
        ),
        ApplyOutcome.ERROR: Reply(
            500, b'{"success":false,"error":"try again"}', "application/json"
        ),
    }
)


class PayOSGateway:
    """PayOS (payos.vn) payment links. Stateless; one instance per call site."""

    name: ClassVar[str] = "payos"
    display_name: ClassVar[str] = "PayOS"
    checkout_copy: ClassVar[CheckoutCopy] = CheckoutCopy(
        line={
            "vi": "Chuyển khoản ngân hàng qua VietQR",
            "en": "Bank transfer via VietQR",
            "ms": "Pindahan bank melalui VietQR",
        },
    )
    capabilities: ClassVar[Capabilities] = Capabilities(
        currencies={"VND": AmountLimits(min_minor=1_000, max_minor=10_000_000_000)},
        refund=False,
        partial_refund=False,
        query=True,
        cancel=True,
        link_ttl=timedelta(minutes=30),
    )
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField("client_id", secret=False, description="Client ID of the payOS channel"),
        CredentialField("api_key", secret=True, description="API key of the payOS channel"),
        CredentialField(
            "checksum_key", secret=True, description="Checksum key (signs requests and webhooks)"
        ),
    )
    default_base_urls: ClassVar[Mapping[Environment, str]] = MappingProxyType(
        {Environment.PRODUCTION: PRODUCTION_URL, Environment.SIMULATOR: SIMULATOR_URL}
    )

    def __init__(self, config: GatewayConfig, http: httpx.AsyncClient) -> None:
        self._config = config
        self._http = http
        self._base_url = config.base_url.rstrip("/")

    def __repr__(self) -> str:
        return f"PayOSGateway(base_url={self._base_url!r})"

    # ------------------------------------------------------------------------ references

    def new_reference(self, serial: int, now: datetime) -> str:
        return str(wire.order_code_for(serial, now))

    # ------------------------------------------------------------------------ HTTP

    def _headers(self) -> dict[str, str]:
        return {
            "x-client-id": self._config.secret("client_id"),
            "x-api-key": self._config.secret("api_key"),
            "Content-Type": "application/json",
        }

    async def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        *,
        effectful: bool = True,
    ) -> dict[str, Any]:
        """Send one request; return the parsed envelope of a 2xx answer or raise."""
        content = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        response = await transport.exchange(
            self._http.request(
                method, self._base_url + path, content=content, headers=self._headers()
            ),
            gateway="PayOS",
            operation=path,
            effectful=effectful,
        )
        status = response.status_code
        envelope = _parse_envelope(response.content)
        if status >= 300 or envelope is None:
            if envelope is not None and isinstance(envelope.get("code"), str):
                raise GatewayRejected(
                    f"PayOS answered HTTP {status}: {envelope.get('desc', '')}",
                    gateway_code=envelope["code"],
                )
            if status >= 400:
                raise GatewayRejected(
                    f"PayOS answered HTTP {status}", gateway_code=f"http_{status}"
                )
            raise transport.unusable_answer(
                f"PayOS sent an unreadable answer (HTTP {status})",
                gateway_code=None,
                effectful=effectful,
            )
        code = envelope.get("code")
        if code != wire.SUCCESS_CODE:
            raise GatewayRejected(
                f"PayOS rejected the request: {envelope.get('desc', '')}", gateway_code=str(code)
            )
        return envelope

    def _signed_data(
        self, envelope: Mapping[str, Any], *, effectful: bool = True
    ) -> dict[str, Any]:
        """The envelope's `data` once its signature has verified over it as received."""
        data = envelope.get("data")
        signature = envelope.get("signature")
        if not isinstance(data, dict) or not isinstance(signature, str):
            raise transport.unusable_answer(
                "PayOS answer lacks signed data", gateway_code="unsigned", effectful=effectful
            )
        if not signing.verify_data(data, signature, self._config.secret("checksum_key")):
            raise transport.unusable_answer(
                "PayOS answer signature did not verify",
                gateway_code="bad_signature",
                effectful=effectful,
            )
        return data

    # ------------------------------------------------------------------------ create

    async def create_checkout(self, req: CheckoutRequest) -> Checkout:
        if req.amount.currency != wire.CURRENCY:
            raise InvalidPaymentRequest(f"PayOS takes VND only, not {req.amount.currency}")
        limits = self.capabilities.currencies[wire.CURRENCY]
        if not limits.min_minor <= req.amount.minor <= limits.max_minor:
            raise InvalidPaymentRequest(
                f"PayOS amount must be {limits.min_minor}..{limits.max_minor} VND",
                gateway_code="amount",
            )
        try:
            order_code = wire.order_code_from_reference(req.reference)
        except ValueError as exc:
            raise InvalidPaymentRequest(str(exc), gateway_code="reference") from exc
        expired_at = wire.unix_seconds(req.expires_at)
        if expired_at > wire.MAX_EXPIRED_AT:
            raise InvalidPaymentRequest(
                "PayOS expiredAt must fit in 32 bits", gateway_code="expiry"
            )
        limit = int(self._config.settings.get(DESCRIPTION_LIMIT_SETTING, wire.DESCRIPTION_LIMIT))
        description = wire.sanitize_description(req.description, limit) or (
            wire.sanitize_description(f"DH{order_code}", limit)
        )
        body: dict[str, Any] = {
            "orderCode": order_code,
            "amount": wire.to_wire_amount(req.amount),
            "description": description,
            "cancelUrl": req.cancel_url,
            "returnUrl": req.return_url,
            "expiredAt": expired_at,
        }
        if req.items and all(item.unit_price.currency == wire.CURRENCY for item in req.items):
            body["items"] = [
                {"name": item.name, "quantity": item.quantity, "price": item.unit_price.minor}
                for item in req.items
            ]
        for key, value in (
            ("buyerName", req.payer.name),
            ("buyerEmail", req.payer.email),
            ("buyerPhone", req.payer.phone),
        ):
            if value:
                body[key] = value
        body["signature"] = signing.sign_payment_request(body, self._config.secret("checksum_key"))

        envelope = await self._call("POST", "/v2/payment-requests", body)
        data = self._signed_data(envelope)
        link_id = data.get("paymentLinkId")
        checkout_url = data.get("checkoutUrl")
        if (
            data.get("orderCode") != order_code
            or data.get("amount") != body["amount"]
            or not isinstance(link_id, str)
            or not isinstance(checkout_url, str)
        ):
            raise GatewayUnavailable("PayOS answered for a different link", gateway_code="mismatch")
        answered_expiry = data.get("expiredAt")
        expires_at = (
            datetime.fromtimestamp(answered_expiry, UTC)
            if isinstance(answered_expiry, int) and not isinstance(answered_expiry, bool)
            else req.expires_at
        )
        qr_code = data.get("qrCode")
        return Checkout(
            reference=req.reference,
            checkout_url=checkout_url,
            expires_at=expires_at,
            qr_content=qr_code if isinstance(qr_code, str) else None,
            gateway_data={"paymentLinkId": link_id, "orderCode": str(order_code)},
        )

    # ------------------------------------------------------------------------ query / cancel

    @staticmethod
    def _link_id(ref: PaymentRef) -> str:
        link_id = ref.gateway_data.get("paymentLinkId")
        return link_id or str(wire.order_code_from_reference(ref.reference))

    def _status_report(
        self, ref: PaymentRef, data: Mapping[str, Any], *, effectful: bool = True
    ) -> StatusReport:
        if str(data.get("orderCode")) != ref.reference:
            raise transport.unusable_answer(
                "PayOS answered for a different order", gateway_code="mismatch", effectful=effectful
            )
        status_text = data.get("status")
        if not isinstance(status_text, str):
            raise transport.unusable_answer(
                "PayOS link has no status", gateway_code="malformed", effectful=effectful
            )
        try:
            amount_paid = wire.from_wire_amount(data.get("amountPaid"))
        except ValueError as exc:
            raise transport.unusable_answer(
                "PayOS link has no amountPaid", gateway_code="malformed", effectful=effectful
            ) from exc
        transactions = data.get("transactions")
        last: Mapping[str, Any] = {}
        if isinstance(transactions, list) and transactions and isinstance(transactions[-1], dict):
            last = transactions[-1]
        occurred_text = last.get("transactionDateTime") or data.get("canceledAt")
        occurred_at = None
        if isinstance(occurred_text, str):
            try:
                occurred_at = wire.parse_iso_time(occurred_text)
            except ValueError:
                occurred_at = None
        txn_ref = last.get("reference")
        return StatusReport(
            reference=ref.reference,
            status=wire.link_status(status_text),
            gateway_code=status_text,
            amount_paid=amount_paid,
            gateway_txn_id=txn_ref if isinstance(txn_ref, str) else None,
            message=str(data.get("cancellationReason") or ""),
            occurred_at=occurred_at,
            raw=dict(data),
        )

    async def query(self, ref: PaymentRef) -> StatusReport:
        envelope = await self._call(
            "GET", f"/v2/payment-requests/{self._link_id(ref)}", None, effectful=False
        )
        data = self._signed_data(envelope, effectful=False)
        return self._status_report(ref, data, effectful=False)

    async def recover_checkout(self, ref: PaymentRef) -> Checkout | None:
        """After a create whose answer was lost: get the link by its orderCode. PayOS's
        "no such link" proves the create made nothing; a live link is returned with its
        hosted page (`/web/{paymentLinkId}`, which PayOS's get does not echo)."""
        try:
            envelope = await self._call(
                "GET", f"/v2/payment-requests/{self._link_id(ref)}", None, effectful=False
            )
        except GatewayRejected as exc:
            if exc.gateway_code == wire.NOT_FOUND_CODE:
                return None
            raise
        data = self._signed_data(envelope, effectful=False)
        report = self._status_report(ref, data, effectful=False)
        link_id = data.get("id")
        if report.status is not GatewayStatus.PENDING or not isinstance(link_id, str):
            raise GatewayRejected(
                f"PayOS holds the link as {report.gateway_code}", gateway_code=report.gateway_code
            )
        origin = (
            wire.CHECKOUT_ORIGIN
            if self._config.environment is Environment.PRODUCTION
            else self._base_url
        )
        expired_at = data.get("expiredAt")
        return Checkout(
            reference=ref.reference,
            checkout_url=f"{origin}/web/{link_id}",
            expires_at=(
                datetime.fromtimestamp(expired_at, UTC)
                if isinstance(expired_at, int) and not isinstance(expired_at, bool)
                else None
            ),
            gateway_data={"paymentLinkId": link_id, "orderCode": ref.reference},
        )

    async def cancel(self, ref: PaymentRef) -> None:
        envelope = await self._call(
            "POST",
            f"/v2/payment-requests/{self._link_id(ref)}/cancel",
            {"cancellationReason": CANCELLATION_REASON},
        )
        report = self._status_report(ref, self._signed_data(envelope))
        if report.status is not GatewayStatus.CANCELLED:
            raise GatewayRejected(
                f"PayOS left the link {report.gateway_code}", gateway_code=report.gateway_code
            )

    async def refund(self, req: RefundRequest) -> RefundResult:
        raise NotSupported("PayOS has no refund API; refund the buyer by bank transfer")

    async def refund_status(self, ref: RefundRef) -> RefundResult:
        raise NotSupported("PayOS has no refund API, so no refund to query")

    async def register_notification_url(self, url: str) -> None:
        await self._call("POST", "/confirm-webhook", {"webhookUrl": url})

    # ------------------------------------------------------------------------ validation

    async def validate_credentials(self) -> CredentialCheck:
        """`GET /v2/payment-requests/{id}` for a payment-link id that cannot exist.

        PayOS authenticates `x-client-id` and `x-api-key` before it looks the link up: bad
        ones get HTTP 401 (the SDKs' code `401`); good ones get its business answer for a
        missing link (HTTP 200, `code != "00"`, `data: null`). The checksum key is not
        exercised: that answer carries no signature, and no harmless call signs anything.
        """
        checked_with = "GET /v2/payment-requests/{id} (a link id that does not exist)"
        # 32 hex digits, the shape of a paymentLinkId; never issued by PayOS.
        probe = secrets.token_hex(16)
        try:
            response = await transport.exchange(
                self._http.get(
                    f"{self._base_url}/v2/payment-requests/{probe}", headers=self._headers()
                ),
                gateway="PayOS",
                operation="validate",
                effectful=False,
            )
        except GatewayMisconfigured as exc:
            if exc.gateway_code in ("http_401", "http_403"):
                return CredentialCheck(
                    valid=False,
                    code="401",
                    message="PayOS refused the client id or API key (HTTP 401 Unauthorized)",
                    checked_with=checked_with,
                )
            return credential_check_from_error(exc, checked_with)
        except GatewayError as exc:
            return credential_check_from_error(exc, checked_with)
        envelope = _parse_envelope(response.content)
        code = envelope.get("code") if envelope is not None else None
        if response.status_code == 200 and isinstance(code, str):
            # PayOS took the headers and looked the link up (found or not).
            desc = envelope.get("desc") if envelope is not None else None
            return CredentialCheck(
                valid=True,
                code=code,
                message=f"PayOS accepted the client id and API key ({desc or 'answered'})"[:300],
                checked_with=checked_with,
            )
        return CredentialCheck(
            valid=None,
            code=f"http_{response.status_code}",
            message=f"PayOS answered HTTP {response.status_code}, which proves nothing",
            checked_with=checked_with,
        )

    # ------------------------------------------------------------------------ inbound

    def verify_notification(self, raw: InboundRequest) -> Notification:
        if raw.method.upper() != "POST":
            raise MalformedNotification(f"PayOS webhooks are POSTs, not {raw.method}")
        payload = _parse_envelope(raw.body)
        if payload is None:
            raise MalformedNotification("PayOS webhook body is not a JSON object")
        data = payload.get("data")
        signature = payload.get("signature")
        if not isinstance(data, dict) or not isinstance(signature, str):
            raise MalformedNotification("PayOS webhook lacks data or signature")
        # Sign `data` exactly as parsed: no value is normalised before this check.
        if not signing.verify_data(data, signature, self._config.secret("checksum_key")):
            raise InvalidSignature("PayOS webhook signature did not verify")
        order_code = data.get("orderCode")
        reference = data.get("reference")
        code = data.get("code")
        if (
            isinstance(order_code, bool)
            or not isinstance(order_code, int)
            or not isinstance(reference, str)
            or not isinstance(code, str)
        ):
            raise MalformedNotification("PayOS webhook lacks orderCode, reference or code")
        try:
            amount: Money | None = wire.from_wire_amount(data.get("amount"))
        except ValueError as exc:
            raise MalformedNotification("PayOS webhook amount is not an integer") from exc
        currency = data.get("currency")
        if currency not in (None, "", wire.CURRENCY):
            raise MalformedNotification(f"PayOS webhook in unexpected currency {currency!r}")
        occurred_at = None
        when = data.get("transactionDateTime")
        if isinstance(when, str) and when:
            try:
                occurred_at = wire.parse_webhook_time(when)
            except ValueError:
                try:
                    occurred_at = wire.parse_iso_time(when)
                except ValueError:
                    occurred_at = None
        desc = data.get("desc")
        return Notification(
            reference=str(order_code),
            status=wire.webhook_status(code),
            dedupe_key=f"{order_code}:{reference}",
            amount=amount,
            gateway_code=code,
            message=desc if isinstance(desc, str) else "",
            gateway_txn_id=reference,
            occurred_at=occurred_at,
            payload=payload,
        )

    def notification_reply(self, outcome: ApplyOutcome) -> Reply:
        return _REPLIES[outcome]

    def verify_return(self, raw: InboundRequest) -> ReturnInfo:
        query = parse_qs(raw.query_string.decode("utf-8", "replace"))

        def first(name: str) -> str:
            values = query.get(name)
            return values[0] if values else ""

        order_code = first("orderCode")
        status_text = first("status")
        claimed = wire.link_status(status_text)
        if first("cancel").lower() == "true":
            claimed = GatewayStatus.CANCELLED
        code = first("code")
        return ReturnInfo(
            reference=order_code if order_code.isdigit() else None,
            claimed_status=claimed,
            signature_valid=False,  # PayOS does not sign the redirect: display only
            message=f"gateway_code={code} status={status_text} id={first('id')}",
        )


def _parse_envelope(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = loads_strict(body)
    except StrictJsonError:
        return None
    return parsed if isinstance(parsed, dict) else None

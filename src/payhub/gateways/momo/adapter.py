"""The MoMo v2 gateway adapter (captureWallet / payWithMethod one-time payments).

Stateless translator between payhub's Gateway protocol and MoMo's `/v2/gateway/api/*` JSON
API. Every request is signed per `signing`; the IPN and the browser redirect are verified
over the values exactly as received (numbers as their JSON text, strings as UTF-8) before
anything is normalised.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Final
from urllib.parse import parse_qsl

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
    RefundStatus,
    Reply,
    ReturnInfo,
    StatusReport,
    credential_check_from_error,
)
from payhub.gateways.momo import signing, wire
from payhub.money import Money

SETTING_REQUEST_TYPE: Final = "request_type"
SETTING_RESPONSE_SIGNATURE: Final = "response_signature"  # "lenient" (default) | "strict"
SETTING_TIMEOUT: Final = "timeout_seconds"
OPTION_REQUEST_TYPE: Final = "request_type"

_JSON_HEADERS: Final = {"Content-Type": "application/json; charset=UTF-8"}
_REQUIRED_RESULT_FIELDS: Final = ("partnerCode", "orderId", "amount", "resultCode", "transId")


class MomoGateway:
    """payhub's adapter for MoMo's payment gateway API v2."""

    name: ClassVar[str] = "momo"
    display_name: ClassVar[str] = "MoMo"
    checkout_copy: ClassVar[CheckoutCopy] = CheckoutCopy(
        line={"vi": "Ví điện tử MoMo", "en": "MoMo wallet", "ms": "Dompet MoMo"},
        qr_for_own_app=True,
    )
    capabilities: ClassVar[Capabilities] = Capabilities(
        currencies={"VND": AmountLimits(1_000, 50_000_000)},
        refund=True,
        partial_refund=True,
        query=True,
        cancel=False,
        # MoMo does not document the payUrl lifetime; payhub uses the merchant's own expiry.
        link_ttl=timedelta(minutes=100),
    )
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField("partner_code", secret=False, description="MoMo partnerCode"),
        CredentialField("access_key", secret=True, description="MoMo accessKey"),
        CredentialField("secret_key", secret=True, description="MoMo secretKey (HMAC key)"),
    )
    default_base_urls: ClassVar[Mapping[Environment, str]] = {
        Environment.SIMULATOR: "http://127.0.0.1:8103",
        Environment.SANDBOX: "https://test-payment.momo.vn",
        Environment.PRODUCTION: "https://payment.momo.vn",
    }

    def __init__(self, config: GatewayConfig, http: httpx.AsyncClient) -> None:
        self._config = config
        self._http = http
        base = config.base_url.rstrip("/")
        if base.endswith(wire.API_PREFIX):
            base = base[: -len(wire.API_PREFIX)]
        self._base = base

    def __repr__(self) -> str:
        return f"MomoGateway(base_url={self._base!r}, environment={self._config.environment})"

    # ------------------------------------------------------------------ credentials & helpers

    def _partner_code(self) -> str:
        return self._config.secret("partner_code")

    def _sign(self, fields: tuple[str, ...], values: Mapping[str, str]) -> str:
        full = {"accessKey": self._config.secret("access_key"), **values}
        return signing.sign(self._config.secret("secret_key"), signing.raw_signature(fields, full))

    def _verify(self, fields: tuple[str, ...], values: Mapping[str, str], signature: str) -> bool:
        full = {"accessKey": self._config.secret("access_key"), **values}
        raw = signing.raw_signature(fields, full)
        return signing.verify(self._config.secret("secret_key"), raw, signature)

    def _scrub(self, text: str) -> str:
        """Remove any credential value that might be echoed back in a gateway message."""
        for name in ("access_key", "secret_key"):
            value = self._config.credentials.get(name)
            if value is not None and value.is_set():
                text = text.replace(value.reveal(), "*****")
        return text

    def _timeout(self) -> float:
        try:
            return float(self._config.settings.get(SETTING_TIMEOUT, "30"))
        except ValueError:
            return 30.0

    def _request_type(self, req: CheckoutRequest) -> str:
        request_type = req.options.get(OPTION_REQUEST_TYPE) or self._config.settings.get(
            SETTING_REQUEST_TYPE, wire.CAPTURE_WALLET
        )
        if request_type not in wire.ADAPTER_REQUEST_TYPES:
            raise InvalidPaymentRequest(
                f"MoMo request type {request_type!r} is not supported; "
                f"use one of {', '.join(wire.ADAPTER_REQUEST_TYPES)}",
                gateway_code="request_type",
            )
        return request_type

    async def _post(
        self, api: str, body: Mapping[str, Any], *, effectful: bool = True
    ) -> tuple[int, dict[str, Any]]:
        """POST to `/v2/gateway/api/<api>`; transport failures are classified by `transport`."""
        url = f"{self._base}{wire.API_PREFIX}/{api}"
        content = json.dumps(dict(body), ensure_ascii=False).encode("utf-8")
        response = await transport.exchange(
            self._http.post(url, content=content, headers=_JSON_HEADERS, timeout=self._timeout()),
            gateway="MoMo",
            operation=api,
            effectful=effectful,
        )
        status = response.status_code
        try:
            parsed = json.loads(response.content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            parsed = None
        if not isinstance(parsed, dict):
            raise transport.unusable_answer(
                f"MoMo {api}: HTTP {status} with a body that is not a JSON object",
                effectful=effectful,
            )
        return status, parsed

    def _wire_error(self, status: int, body: Mapping[str, Any]) -> wire.WireError:
        subs: list[tuple[str, str]] = []
        raw_subs = body.get("subErrors")
        if isinstance(raw_subs, list):
            for item in raw_subs:
                if isinstance(item, dict):
                    subs.append((str(item.get("field", "")), str(item.get("message", ""))))
        return wire.WireError(
            http_status=status,
            result_code=wire.parse_result_code(body.get("resultCode")),
            message=str(body.get("message", "")),
            sub_errors=tuple(subs),
        )

    def _raise_for(
        self, api: str, status: int, body: Mapping[str, Any], *, effectful: bool = True
    ) -> None:
        """Raise the typed error for a non-success answer (resultCode != 0). A query is not
        effectful: nothing can be left unknown by it (see `payhub.gateways.transport`)."""
        error = self._wire_error(status, body)
        code = error.result_code
        text = self._scrub(f"MoMo {api} refused: {error.describe()}")
        code_text = str(code) if code is not None else f"http_{status}"
        if code is None:
            raise transport.unusable_answer(text, gateway_code=code_text, effectful=effectful)
        if code in wire.IN_FLIGHT_CODES or code == 99:
            # The same request is still running at MoMo (or MoMo does not know): it may
            # still take effect. Resolve with a query.
            raise GatewayUnavailable(text, gateway_code=code_text, outcome_unknown=effectful)
        if code in wire.RETRY_LATER_CODES:
            raise GatewayUnavailable(text, gateway_code=code_text, outcome_unknown=False)
        if code in wire.MISCONFIGURED_CODES or (
            code == 20 and any(name == "signature" for name, _ in error.sub_errors)
        ):
            # A signature MoMo cannot verify means the keys on this account are wrong.
            raise GatewayMisconfigured(text, gateway_code=code_text)
        raise GatewayRejected(text, gateway_code=code_text)

    # ------------------------------------------------------------------ references

    def new_reference(self, serial: int, now: datetime) -> str:
        return wire.make_order_id(serial, now)

    # ------------------------------------------------------------------ create

    async def create_checkout(self, req: CheckoutRequest) -> Checkout:
        request_type = self._request_type(req)
        if req.amount.currency != wire.CURRENCY:
            raise InvalidPaymentRequest(
                f"MoMo only accepts VND, not {req.amount.currency}", gateway_code="currency"
            )
        limits = wire.AMOUNT_LIMITS[request_type]
        amount = wire.amount_to_wire(req.amount)
        if not limits.min_minor <= amount <= limits.max_minor:
            raise InvalidPaymentRequest(
                f"MoMo {request_type} accepts {limits.min_minor:,}–{limits.max_minor:,} VND; "
                f"{amount:,} VND is outside that range",
                gateway_code="amount_limits",
            )
        if not wire.order_id_is_valid(req.reference):
            raise InvalidPaymentRequest(
                "reference is not a valid MoMo orderId", gateway_code="reference"
            )
        order_info = wire.sanitize_text(req.description, wire.ORDER_INFO_MAX) or (
            f"Payment {req.reference}"
        )
        request_id = wire.make_request_id(req.now)
        extra_data = wire.encode_extra_data({"payhub_reference": req.reference})
        values = {
            "amount": str(amount),
            "extraData": extra_data,
            "ipnUrl": req.notify_url,
            "orderId": req.reference,
            "orderInfo": order_info,
            "partnerCode": self._partner_code(),
            "redirectUrl": req.return_url,
            "requestId": request_id,
            "requestType": request_type,
        }
        body: dict[str, Any] = {
            "partnerCode": values["partnerCode"],
            "requestId": request_id,
            "amount": amount,
            "orderId": req.reference,
            "orderInfo": order_info,
            "redirectUrl": req.return_url,
            "ipnUrl": req.notify_url,
            "requestType": request_type,
            "extraData": extra_data,
            "lang": "vi" if req.locale.lower().startswith("vi") else "en",  # vi | en only
            "signature": self._sign(signing.CREATE_FIELDS, values),
        }
        items = _items(req, amount)
        if items:
            body["items"] = items
        user_info = _user_info(req)
        if user_info:
            body["userInfo"] = user_info

        status, answer = await self._post("create", body)
        if wire.parse_result_code(answer.get("resultCode")) != wire.SUCCESS:
            self._raise_for("create", status, answer)
        self._check_create_answer(answer, request_id, req.reference, amount)
        pay_url = answer.get("payUrl")
        if not isinstance(pay_url, str) or not pay_url:
            raise GatewayUnavailable(
                "MoMo create: success without payUrl", gateway_code="bad_response"
            )
        qr = answer.get("qrCodeUrl")
        deeplink = answer.get("deeplink")
        return Checkout(
            reference=req.reference,
            checkout_url=pay_url,
            expires_at=req.expires_at,
            qr_content=qr if isinstance(qr, str) and qr else None,
            deeplink=deeplink if isinstance(deeplink, str) and deeplink else None,
            gateway_data={
                "orderId": req.reference,
                "requestId": request_id,
                "requestType": request_type,
            },
        )

    def _check_create_answer(
        self, answer: Mapping[str, Any], request_id: str, order_id: str, amount: int
    ) -> None:
        if str(answer.get("orderId")) != order_id or str(answer.get("amount")) != str(amount):
            raise GatewayUnavailable(
                "MoMo create: the answer is for a different order or amount",
                gateway_code="bad_response",
            )
        signature = answer.get("signature")
        if not isinstance(signature, str) or not signature:
            return  # MoMo's own samples never rely on it; settlement uses the signed IPN.
        values = {
            name: wire.signing_text(_as_text(answer.get(name)))
            for name in signing.CREATE_RESPONSE_FIELDS_WITH_MESSAGE
            if name != "accessKey"
        }
        values["requestId"] = str(answer.get("requestId", request_id))
        for fields in (
            signing.CREATE_RESPONSE_FIELDS,
            signing.CREATE_RESPONSE_FIELDS_WITH_MESSAGE,
        ):
            if self._verify(fields, values, signature):
                return
        if self._config.settings.get(SETTING_RESPONSE_SIGNATURE, "lenient") == "strict":
            raise GatewayUnavailable(
                "MoMo create: response signature did not verify", gateway_code="response_signature"
            )

    # ------------------------------------------------------------------ notifications

    def verify_notification(self, raw: InboundRequest) -> Notification:
        if raw.method.upper() != "POST":
            raise MalformedNotification("MoMo IPN must be a POST", gateway_code="method")
        try:
            exact = wire.loads_exact(raw.body)
        except ValueError:
            raise MalformedNotification("MoMo IPN body is not JSON", gateway_code="json") from None
        if not isinstance(exact, dict):
            raise MalformedNotification("MoMo IPN body is not a JSON object", gateway_code="json")
        values = self._result_values(exact)
        self._verify_result_signature(exact, values)
        return self._notification_from(values, raw.body)

    def _result_values(self, fields: Mapping[str, Any]) -> dict[str, str]:
        missing = [name for name in _REQUIRED_RESULT_FIELDS if name not in fields]
        if missing or not isinstance(fields.get("signature"), str):
            raise MalformedNotification(
                f"MoMo result lacks {', '.join(missing) or 'signature'}", gateway_code="fields"
            )
        try:
            return {
                name: wire.signing_text(fields.get(name))
                for name in signing.RESULT_FIELDS
                if name != "accessKey"
            }
        except ValueError:
            raise MalformedNotification(
                "MoMo result has a non-scalar signed field", gateway_code="fields"
            ) from None

    def _verify_result_signature(self, fields: Mapping[str, Any], values: dict[str, str]) -> None:
        signature = str(fields["signature"])
        if self._verify(signing.RESULT_FIELDS, values, signature):
            return
        # A stack that printed a whole number as "50000.0": MoMo signs "50000".
        normalised = {name: wire.integral_text(value) for name, value in values.items()}
        if normalised != values and self._verify(signing.RESULT_FIELDS, normalised, signature):
            values.update(normalised)
            return
        raise InvalidSignature("MoMo result signature does not verify", gateway_code="signature")

    def _notification_from(self, values: Mapping[str, str], body: bytes) -> Notification:
        if values["partnerCode"] != self._partner_code():
            raise MalformedNotification(
                "MoMo IPN is for another partnerCode", gateway_code="partner"
            )
        result_code = wire.parse_result_code(values["resultCode"])
        if result_code is None:
            raise MalformedNotification(
                "MoMo IPN resultCode is not a number", gateway_code="fields"
            )
        try:
            amount = wire.amount_from_wire(values["amount"])
        except ValueError:
            raise MalformedNotification(
                "MoMo IPN amount is not whole VND", gateway_code="amount"
            ) from None
        trans_id = values["transId"]
        occurred_at = None
        if values["responseTime"].isdigit():
            occurred_at = wire.from_epoch_ms(values["responseTime"])
        try:
            payload = json.loads(body.decode("utf-8"))
        except ValueError:  # already parsed once, cannot really happen
            payload = {}
        return Notification(
            reference=values["orderId"],
            status=wire.status_for(result_code),
            dedupe_key=f"{values['orderId']}:{trans_id}:{result_code}",
            amount=amount,
            gateway_code=str(result_code),
            message=values["message"],
            gateway_txn_id=trans_id if trans_id not in ("", "0") else None,
            occurred_at=occurred_at,
            payload=payload if isinstance(payload, dict) else {},
        )

    def notification_reply(self, outcome: ApplyOutcome) -> Reply:
        if outcome in (
            ApplyOutcome.APPLIED,
            ApplyOutcome.DUPLICATE,
            ApplyOutcome.UNKNOWN_PAYMENT,
            ApplyOutcome.AMOUNT_MISMATCH,
        ):
            return Reply(status_code=204)
        if outcome in (ApplyOutcome.INVALID_SIGNATURE, ApplyOutcome.MALFORMED):
            return Reply(
                status_code=400,
                body=json.dumps({"message": f"rejected: {outcome.value}"}).encode(),
                media_type="application/json",
            )
        return Reply(
            status_code=500,
            body=b'{"message":"temporary error, please retry"}',
            media_type="application/json",
        )

    def verify_return(self, raw: InboundRequest) -> ReturnInfo:
        try:
            pairs = parse_qsl(
                raw.query_string.decode("utf-8"), keep_blank_values=True, errors="strict"
            )
        except (UnicodeDecodeError, ValueError):
            return ReturnInfo(None, GatewayStatus.UNKNOWN, signature_valid=False)
        params = dict(pairs)
        reference = params.get("orderId") or None
        try:
            values = self._result_values(params)
            self._verify_result_signature(params, values)
        except (MalformedNotification, InvalidSignature):
            return ReturnInfo(reference, GatewayStatus.UNKNOWN, signature_valid=False)
        result_code = wire.parse_result_code(values["resultCode"])
        status = wire.status_for(result_code) if result_code is not None else GatewayStatus.UNKNOWN
        return ReturnInfo(reference, status, signature_valid=True, message=values["message"])

    # ------------------------------------------------------------------ query

    async def recover_checkout(self, ref: PaymentRef) -> Checkout | None:
        """After a create whose answer was lost: MoMo's "no such order" (42) proves nothing
        was made. An order MoMo does hold cannot be handed back (its query does not echo the
        payUrl), so that answer cannot be used: NotSupported."""
        report = await self.query(ref)
        if report.gateway_code == str(wire.NOT_FOUND):
            return None
        raise NotSupported("MoMo's query does not give back an existing order's payUrl")

    async def query(self, ref: PaymentRef) -> StatusReport:
        order_id = ref.gateway_data.get("orderId") or ref.reference
        partner = self._partner_code()
        # requestId only has to be fresh; PaymentRef carries no clock reading.
        request_id = wire.make_request_id(datetime.now(UTC))
        values = {"orderId": order_id, "partnerCode": partner, "requestId": request_id}
        body = {
            "partnerCode": partner,
            "requestId": request_id,
            "orderId": order_id,
            "lang": "en",
            "signature": self._sign(signing.QUERY_FIELDS, values),
        }
        status, answer = await self._post("query", body, effectful=False)
        code = wire.parse_result_code(answer.get("resultCode"))
        message = str(answer.get("message", ""))
        if code == wire.NOT_FOUND:
            # MoMo has no such order: the create never reached it. Nothing can be paid.
            return StatusReport(
                reference=ref.reference,
                status=GatewayStatus.FAILED,
                gateway_code=str(code),
                message=message or "MoMo has no such order",
                raw=answer,
            )
        if code is None or code in wire.CALL_ERROR_CODES or status != 200:
            self._raise_for("query", status, answer, effectful=False)
            raise AssertionError("unreachable")  # pragma: no cover
        gateway_status = wire.status_for(code)
        trans_id = _as_text(answer.get("transId"))
        paid = None
        if gateway_status in (GatewayStatus.SUCCEEDED, GatewayStatus.AUTHORIZED):
            try:
                paid = wire.amount_from_wire(_as_text(answer.get("amount")))
            except ValueError:
                raise GatewayUnavailable(
                    "MoMo query: amount is not whole VND",
                    gateway_code="bad_response",
                    outcome_unknown=False,
                ) from None
        occurred_at = None
        response_time = _as_text(answer.get("responseTime"))
        if response_time.isdigit():
            occurred_at = wire.from_epoch_ms(response_time)
        return StatusReport(
            reference=ref.reference,
            status=gateway_status,
            gateway_code=str(code),
            amount_paid=paid,
            gateway_txn_id=trans_id if trans_id not in ("", "0") else None,
            message=message,
            occurred_at=occurred_at,
            refunded=_refunded_sum(answer.get("refundTrans")),
            raw=answer,
        )

    # ------------------------------------------------------------------ refund & cancel

    async def refund(self, req: RefundRequest) -> RefundResult:
        if req.amount.currency != wire.CURRENCY:
            raise InvalidPaymentRequest("MoMo refunds are in VND", gateway_code="currency")
        amount = wire.amount_to_wire(req.amount)
        limits = wire.REFUND_LIMITS
        if not limits.min_minor <= amount <= limits.max_minor:
            raise InvalidPaymentRequest(
                f"MoMo refunds must be {limits.min_minor:,}–{limits.max_minor:,} VND",
                gateway_code="amount_limits",
            )
        if req.payment.amount.currency == wire.CURRENCY and amount > req.payment.amount.minor:
            raise InvalidPaymentRequest(
                "refund is larger than the payment", gateway_code="amount_limits"
            )
        if not wire.order_id_is_valid(req.reference):
            raise InvalidPaymentRequest(
                "refund reference is not a valid MoMo orderId "
                "(letters and digits, joined by - _ or ., at most 200)",
                gateway_code="reference",
            )
        trans_id = req.payment.gateway_txn_id or req.payment.gateway_data.get("transId")
        if not trans_id:
            report = await self.query(req.payment)
            trans_id = report.gateway_txn_id
        if not trans_id or not trans_id.isdigit():
            raise InvalidPaymentRequest(
                "MoMo has no transaction id for this payment; it cannot be refunded",
                gateway_code="trans_id",
            )
        partner = self._partner_code()
        request_id = wire.make_request_id(req.now)
        description = wire.sanitize_text(req.reason, wire.DESCRIPTION_MAX)
        values = {
            "amount": str(amount),
            "description": description,
            "orderId": req.reference,
            "partnerCode": partner,
            "requestId": request_id,
            "transId": trans_id,
        }
        body = {
            "partnerCode": partner,
            "orderId": req.reference,
            "requestId": request_id,
            "amount": amount,
            "transId": int(trans_id),
            "lang": "en",
            "description": description,
            "signature": self._sign(signing.REFUND_FIELDS, values),
        }
        status, answer = await self._post("refund", body)
        code = wire.parse_result_code(answer.get("resultCode"))
        message = str(answer.get("message", ""))
        refund_id = _as_text(answer.get("transId")) or None
        if code == wire.SUCCESS:
            return RefundResult(RefundStatus.SUCCEEDED, "0", refund_id, message)
        if code in wire.IN_FLIGHT_CODES:
            # 7000/7002: MoMo is still processing this refund (HTTP 200, or 422 for a request
            # already in progress). Not a success until a later check says so.
            return RefundResult(RefundStatus.PENDING, str(code), refund_id, message)
        if code == 1080:
            return RefundResult(
                RefundStatus.FAILED, "1080", refund_id, message or "retry in about an hour"
            )
        self._raise_for("refund", status, answer)
        raise AssertionError("unreachable")  # pragma: no cover

    async def refund_status(self, ref: RefundRef) -> RefundResult:
        """MoMo's query of the refunded payment lists its refunds (`refundTrans`, each with
        the refund's own `orderId` and `resultCode`): 0 done, 7000/7002 still processing,
        anything else failed. A refund not listed yet is still pending."""
        report = await self.query(ref.payment)
        listed = report.raw.get("refundTrans")
        for item in listed if isinstance(listed, list) else []:
            if not isinstance(item, dict) or _as_text(item.get("orderId")) != ref.reference:
                continue
            code = wire.parse_result_code(item.get("resultCode"))
            refund_id = _as_text(item.get("transId")) or ref.gateway_refund_id
            if code == wire.SUCCESS:
                return RefundResult(RefundStatus.SUCCEEDED, "0", refund_id, report.message)
            if code is None or code in wire.IN_FLIGHT_CODES:
                return RefundResult(RefundStatus.PENDING, str(code), refund_id, report.message)
            return RefundResult(RefundStatus.FAILED, str(code), refund_id, report.message)
        return RefundResult(
            RefundStatus.PENDING,
            "not_listed",
            ref.gateway_refund_id,
            "MoMo lists no such refund yet",
        )

    async def cancel(self, ref: PaymentRef) -> None:
        raise NotSupported(
            "MoMo cannot cancel a one-time payment link; it expires on its own",
            gateway_code="cancel",
        )

    async def register_notification_url(self, url: str) -> None:
        raise NotSupported(
            "MoMo takes the ipnUrl with every create request", gateway_code="ipn_url"
        )

    # ------------------------------------------------------------------ validation

    async def validate_credentials(self) -> CredentialCheck:
        """`POST /v2/gateway/api/query` for an orderId that was never created. MoMo checks
        the partner and the request signature (partnerCode, accessKey and secretKey all go
        into it) before it looks the order up: good credentials get resultCode 42 (order not
        found); an unknown partnerCode 13; a wrong accessKey or secretKey HTTP 400 with
        resultCode 20 and a `signature` sub-error."""
        checked_with = "query (an orderId that does not exist)"
        now = datetime.now(UTC)
        order_id = f"PHCHECK-{secrets.token_hex(6)}"
        request_id = wire.make_request_id(now)
        try:
            partner = self._partner_code()
            values = {"orderId": order_id, "partnerCode": partner, "requestId": request_id}
            body = {
                "partnerCode": partner,
                "requestId": request_id,
                "orderId": order_id,
                "lang": "en",
                "signature": self._sign(signing.QUERY_FIELDS, values),
            }
            status, answer = await self._post("query", body, effectful=False)
        except GatewayError as exc:
            return credential_check_from_error(exc, checked_with)
        error = self._wire_error(status, answer)
        code = error.result_code
        code_text = str(code) if code is not None else f"http_{status}"
        message = self._scrub(error.describe())[:300]
        signature_refused = code == 20 and any(name == "signature" for name, _ in error.sub_errors)
        valid: bool | None
        if code in wire.MISCONFIGURED_CODES or signature_refused:
            valid = False
        elif status == 200 and code is not None and code not in wire.CALL_ERROR_CODES:
            # 42 (no such order) or, by chance, an order's state: the request was accepted.
            valid = True
        else:
            valid = None
        return CredentialCheck(
            valid=valid, code=code_text, message=message, checked_with=checked_with
        )


# ---------------------------------------------------------------------- module helpers


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _refunded_sum(refund_trans: Any) -> Money | None:
    if not isinstance(refund_trans, list) or not refund_trans:
        return None
    total = 0
    for item in refund_trans:
        if not isinstance(item, dict) or wire.parse_result_code(item.get("resultCode")) != 0:
            continue
        try:
            total += wire.amount_to_wire(wire.amount_from_wire(_as_text(item.get("amount"))))
        except ValueError:
            raise GatewayUnavailable(
                "MoMo query: refund amount is not whole VND",
                gateway_code="bad_response",
                outcome_unknown=False,
            ) from None
    return Money(total, wire.CURRENCY)


def _items(req: CheckoutRequest, amount: int) -> list[dict[str, Any]]:
    """Line items, sent only when they add up to the amount (MoMo shows them as the bill)."""
    if not req.items or len(req.items) > wire.ITEMS_MAX:
        return []
    result: list[dict[str, Any]] = []
    total = 0
    for index, item in enumerate(req.items, start=1):
        if item.unit_price.currency != wire.CURRENCY:
            return []
        line_total = item.unit_price.minor * item.quantity
        total += line_total
        result.append(
            {
                "id": str(index),
                "name": wire.sanitize_text(item.name, 255) or f"Item {index}",
                "price": item.unit_price.minor,
                "currency": wire.CURRENCY,
                "quantity": item.quantity,
                "totalPrice": line_total,
            }
        )
    return result if total == amount else []


def _user_info(req: CheckoutRequest) -> dict[str, str]:
    info = {
        "name": req.payer.name,
        "phoneNumber": req.payer.phone,
        "email": req.payer.email,
    }
    return {key: value for key, value in info.items() if value}


__all__ = ["MomoGateway"]

"""The ToyyibPay adapter: createBill, getBillTransactions, inactiveBill and the md5 callback.

ToyyibPay bills live in a category; when the account has no `category_code` setting the
adapter creates one on first use and hands it back in `Checkout.account_settings` for the hub
to remember. The callback's md5 `hash` covers only status, order id and refno, so the
capability `notification_needs_confirmation` tells the hub to query before settling. There is
no refund API.
"""

from __future__ import annotations

import email.parser
import email.policy
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import ClassVar, Final
from urllib.parse import parse_qsl

import httpx

from payhub.clock import MALAYSIA, to_local
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
from payhub.gateways.toyyibpay import signing, wire
from payhub.money import Money

CATEGORY_NAME: Final = "payhub"
CATEGORY_DESCRIPTION: Final = "Payments created by payhub"
_BILL_CODE: Final = re.compile(r"^[A-Za-z0-9]{4,32}$")
_MAX_FORM_FIELD: Final = 2000


def _text_reply(status_code: int, text: str) -> Reply:
    return Reply(status_code=status_code, body=text.encode(), media_type="text/plain")


# ToyyibPay only needs a 2xx; the body is for people reading logs. Retries are undocumented,
# so anything payhub could not handle is a non-2xx in case ToyyibPay retries on it.
NOTIFICATION_REPLIES: Final[Mapping[ApplyOutcome, Reply]] = {
    ApplyOutcome.APPLIED: _text_reply(200, "OK"),
    ApplyOutcome.DUPLICATE: _text_reply(200, "OK"),
    ApplyOutcome.UNKNOWN_PAYMENT: _text_reply(200, "OK"),
    ApplyOutcome.AMOUNT_MISMATCH: _text_reply(200, "OK"),
    ApplyOutcome.INVALID_SIGNATURE: _text_reply(400, "INVALID HASH"),
    ApplyOutcome.MALFORMED: _text_reply(400, "MALFORMED"),
    ApplyOutcome.ERROR: _text_reply(500, "ERROR"),
}


class ToyyibPayGateway:
    """ToyyibPay (Malaysia): FPX and card bills in MYR."""

    name: ClassVar[str] = "toyyibpay"
    display_name: ClassVar[str] = "ToyyibPay"
    checkout_copy: ClassVar[CheckoutCopy] = CheckoutCopy(
        line={
            "vi": "Ngân hàng trực tuyến FPX hoặc thẻ",
            "en": "FPX online banking or card",
            "ms": "Perbankan dalam talian FPX atau kad",
        },
    )
    capabilities: ClassVar[Capabilities] = Capabilities(
        # RM 1.00 to RM 30,000.00: the FPX B2C range; amounts in sen.
        currencies={"MYR": AmountLimits(min_minor=100, max_minor=3_000_000)},
        refund=False,
        partial_refund=False,
        query=True,
        cancel=True,
        link_ttl=timedelta(days=1),
        notification_needs_confirmation=True,
    )
    credential_fields: ClassVar[tuple[CredentialField, ...]] = (
        CredentialField(
            name="user_secret_key",
            secret=True,
            description="userSecretKey from the ToyyibPay dashboard (sandbox and production "
            "accounts have different keys)",
        ),
    )
    default_base_urls: ClassVar[Mapping[Environment, str]] = {
        Environment.SIMULATOR: "http://127.0.0.1:8104",
        Environment.SANDBOX: "https://dev.toyyibpay.com",
        Environment.PRODUCTION: "https://toyyibpay.com",
    }

    def __init__(self, config: GatewayConfig, http: httpx.AsyncClient) -> None:
        self._config = config
        self._http = http
        base = config.base_url or self.default_base_urls[config.environment]
        self._base = base.rstrip("/")

    def __repr__(self) -> str:
        return f"ToyyibPayGateway(base_url={self._base!r})"

    # ------------------------------------------------------------------ references

    def new_reference(self, serial: int, now: datetime) -> str:
        """`PH<yymmdd Malaysia date><serial, at least 6 digits>`, e.g. PH241021000042."""
        return f"PH{to_local(now, MALAYSIA):%y%m%d}{serial:06d}"

    # ------------------------------------------------------------------ create

    async def create_checkout(self, req: CheckoutRequest) -> Checkout:
        self._check_request(req)
        channel_choice = (
            req.options.get("payment_channel")
            or self._config.settings.get("payment_channel")
            or "fpx"
        )
        try:
            channel = wire.payment_channel_code(channel_choice)
        except ValueError as exc:
            raise InvalidPaymentRequest(str(exc), gateway_code="payment_channel") from None

        learned: dict[str, str] = {}
        category = self._config.settings.get("category_code", "").strip()
        if not category:
            category = await self.create_category()
            learned["category_code"] = category

        payer_name = (req.payer.name or "").strip()[:100]
        payer_email = (req.payer.email or "").strip()[:100]
        payer_phone = wire.sanitise_phone(req.payer.phone)
        # ToyyibPay insists on all three when it is told to show payer info; without them the
        # payer types their details on ToyyibPay's page instead.
        payor_info = "1" if payer_name and payer_email and payer_phone else "0"
        expires_at = req.expires_at.replace(microsecond=0)

        form: dict[str, str] = {
            "userSecretKey": self._config.secret("user_secret_key"),
            "categoryCode": category,
            "billName": wire.bill_name(req.description),
            "billDescription": wire.bill_description(req.description),
            "billPriceSetting": "1",
            "billPayorInfo": payor_info,
            "billAmount": wire.to_sen_text(req.amount),
            "billReturnUrl": req.return_url,
            "billCallbackUrl": req.notify_url,
            "billExternalReferenceNo": req.reference,
            "billTo": payer_name,
            "billEmail": payer_email,
            "billPhone": payer_phone,
            "billSplitPayment": "0",
            "billSplitPaymentArgs": "",
            "billPaymentChannel": channel,
            "billDisplayMerchant": "1",
            "billContentEmail": "",
            "billExpiryDate": wire.format_malaysia_time(expires_at),
        }
        charge = self._config.settings.get("charge_to_customer")
        if charge is not None:
            form["billChargeToCustomer"] = charge

        body = await self._post("createBill", form, effectful=True)
        bill_code = body.first("BillCode")
        if bill_code is None:
            self._raise_for_error(body, "createBill", effectful=True)
            raise GatewayUnavailable(
                "ToyyibPay createBill answered without a BillCode",
                gateway_code="no_bill_code",
                outcome_unknown=True,
            )
        if not _BILL_CODE.match(bill_code):
            raise GatewayUnavailable(
                "ToyyibPay createBill answered an unusable BillCode",
                gateway_code="bad_bill_code",
                outcome_unknown=True,
            )
        return Checkout(
            reference=req.reference,
            checkout_url=f"{self._base}/{bill_code}",
            expires_at=expires_at,
            gateway_data={"bill_code": bill_code, "category_code": category},
            account_settings=learned,
        )

    def _check_request(self, req: CheckoutRequest) -> None:
        limits = self.capabilities.limits_for(req.amount.currency)
        if limits is None:
            raise InvalidPaymentRequest(
                f"ToyyibPay takes MYR only, not {req.amount.currency}", gateway_code="currency"
            )
        if not limits.min_minor <= req.amount.minor <= limits.max_minor:
            raise InvalidPaymentRequest(
                f"ToyyibPay takes {Money(limits.min_minor, 'MYR')} to "
                f"{Money(limits.max_minor, 'MYR')}, not {req.amount}",
                gateway_code="amount",
            )
        if not wire.reference_is_valid(req.reference):
            raise InvalidPaymentRequest("reference is not a valid ToyyibPay reference")
        if req.expires_at <= req.now:
            raise InvalidPaymentRequest("the bill would already be expired", gateway_code="expiry")

    # ------------------------------------------------------------------ category

    async def create_category(self) -> str:
        """createCategory; returns the new categoryCode."""
        form = {
            "catname": CATEGORY_NAME,
            "catdescription": CATEGORY_DESCRIPTION,
            "userSecretKey": self._config.secret("user_secret_key"),
        }
        body = await self._post("createCategory", form, effectful=False)
        code = body.first("CategoryCode")
        if code is None:
            self._raise_for_error(body, "createCategory", effectful=False)
            raise GatewayUnavailable(
                "ToyyibPay createCategory answered without a CategoryCode",
                gateway_code="no_category_code",
                outcome_unknown=False,
            )
        return code

    async def validate_category(self) -> None:
        """Check the configured category (getCategoryDetails) or, with none configured, the
        secret key (checkDuitNowQRStatus). Raises GatewayMisconfigured when either is wrong."""
        category = self._config.settings.get("category_code", "").strip()
        key = self._config.secret("user_secret_key")
        if not category:
            body = await self._post("checkDuitNowQRStatus", {"userSecretKey": key}, effectful=False)
            if body.object_status() == "success":
                return
            if body.error_code is None and body.object_status() == "error":
                raise GatewayMisconfigured(
                    "ToyyibPay does not know this userSecretKey", gateway_code="invalid_key"
                )
            self._raise_for_error(body, "checkDuitNowQRStatus", effectful=False)
            return
        body = await self._post(
            "getCategoryDetails",
            {"userSecretKey": key, "categoryCode": category},
            effectful=False,
        )
        if body.rows:
            return
        if body.is_empty:
            raise GatewayMisconfigured(
                f"ToyyibPay category {category!r} does not exist",
                gateway_code="CATEGORY-DOES-NOT-EXIST",
            )
        self._raise_for_error(body, "getCategoryDetails", effectful=False, misconfig=True)

    # ------------------------------------------------------------------ query / cancel

    async def query(self, ref: PaymentRef) -> StatusReport:
        bill_code = self._bill_code(ref)
        # The official plugin sends only billCode here; so do we.
        body = await self._post("getBillTransactions", {"billCode": bill_code}, effectful=False)
        if body.rows is None and not body.is_empty:
            self._raise_for_error(body, "getBillTransactions", effectful=False)
            raise GatewayUnavailable(
                "ToyyibPay getBillTransactions answered something unreadable",
                gateway_code="garbage",
                outcome_unknown=False,
            )
        rows = body.rows or ()
        raw: dict[str, object] = {"bill_code": bill_code, "transactions": [dict(r) for r in rows]}
        if not rows:
            return StatusReport(
                reference=ref.reference,
                status=GatewayStatus.PENDING,
                gateway_code="no_transactions",
                message="no payment attempt on this bill yet",
                raw=raw,
            )
        paid = [r for r in rows if str(r.get("billpaymentStatus", "")).strip() == "1"]
        pending = [
            r
            for r in rows
            if wire.transaction_status(str(r.get("billpaymentStatus", ""))) is GatewayStatus.PENDING
        ]
        row = paid[0] if paid else (pending[-1] if pending else rows[-1])
        code = str(row.get("billpaymentStatus", "")).strip()
        status = GatewayStatus.SUCCEEDED if paid else wire.transaction_status(code)
        amount: Money | None = None
        amount_text = str(row.get("billpaymentAmount") or "")
        if amount_text:
            try:
                amount = wire.parse_ringgit(amount_text)
            except ValueError:
                amount = None
        if status is GatewayStatus.SUCCEEDED and amount is None:
            raise GatewayUnavailable(
                "ToyyibPay reported a payment without a readable amount",
                gateway_code="garbage",
                outcome_unknown=False,
            )
        raw["successful_transactions"] = len(paid)
        return StatusReport(
            reference=ref.reference,
            status=status,
            gateway_code=code or "unknown",
            amount_paid=amount if status is GatewayStatus.SUCCEEDED else None,
            gateway_txn_id=_text(row.get("billpaymentInvoiceNo")),
            message=str(row.get("billpaymentChannel") or ""),
            occurred_at=_optional_time(row.get("billPaymentDate")),
            raw=raw,
        )

    async def cancel(self, ref: PaymentRef) -> None:
        """inactiveBill: the bill page stops taking payments. Already inactive is fine."""
        form = {
            "secretKey": self._config.secret("user_secret_key"),
            "billCode": self._bill_code(ref),
        }
        body = await self._post("inactiveBill", form, effectful=True)
        status = body.object_status().lower()
        message = body.object_message()
        if status == "success":
            return
        if status == "failed":
            lowered = message.lower()
            if "is inactive" in lowered:
                return
            if "pending" in lowered:
                raise GatewayRejected(
                    "ToyyibPay refuses: the bill has a pending transaction",
                    gateway_code="pending_transaction",
                )
            raise GatewayRejected(
                f"ToyyibPay inactiveBill failed: {message[:200]}", gateway_code="failed"
            )
        self._raise_for_error(body, "inactiveBill", effectful=True)
        raise GatewayUnavailable(
            "ToyyibPay inactiveBill answered something unreadable",
            gateway_code="garbage",
            outcome_unknown=True,
        )

    async def refund(self, req: RefundRequest) -> RefundResult:
        raise NotSupported("ToyyibPay has no refund API; refund the payer outside payhub")

    async def refund_status(self, ref: RefundRef) -> RefundResult:
        raise NotSupported("ToyyibPay has no refund API, so no refund to query")

    async def register_notification_url(self, url: str) -> None:
        raise NotSupported("ToyyibPay takes the callback URL on each bill (billCallbackUrl)")

    # ------------------------------------------------------------------ validation

    async def validate_credentials(self) -> CredentialCheck:
        """`getCategoryDetails` for the configured category (the userSecretKey and the
        category both checked: `[KEY-DID-NOT-EXIST]`, `[CATEGORY-DOES-NOT-EXIST]`), or,
        with no category configured yet, `checkDuitNowQRStatus` (the key alone:
        `{"status":"error","message":"Invalid userSecretKey"}`). Both only read."""
        category = self._config.settings.get("category_code", "").strip()
        endpoint = "getCategoryDetails" if category else "checkDuitNowQRStatus"
        checked_with = (
            "getCategoryDetails (the configured categoryCode)"
            if category
            else "checkDuitNowQRStatus"
        )
        try:
            form = {"userSecretKey": self._config.secret("user_secret_key")}
            if category:
                form["categoryCode"] = category
            body = await self._post(endpoint, form, effectful=False)
        except GatewayError as exc:
            return credential_check_from_error(exc, checked_with)
        if body.error_code is not None:
            # Bracketed codes: the account's key or category is wrong, or an unknown code.
            known = body.error_code in wire.MISCONFIGURATION_CODES
            return CredentialCheck(
                valid=False if known else None,
                code=body.error_code,
                message=f"ToyyibPay {endpoint} answered [{body.error_code}]",
                checked_with=checked_with,
            )
        if category:
            if body.rows:
                return CredentialCheck(
                    valid=True,
                    code="ok",
                    message=f"ToyyibPay knows the key and category {category}",
                    checked_with=checked_with,
                )
            if body.is_empty:
                return CredentialCheck(
                    valid=False,
                    code="CATEGORY-DOES-NOT-EXIST",
                    message=f"ToyyibPay has no category {category} for this key",
                    checked_with=checked_with,
                )
        else:
            status = body.object_status()
            if status == "success":
                return CredentialCheck(
                    valid=True,
                    code=status,
                    message="ToyyibPay knows the userSecretKey",
                    checked_with=checked_with,
                )
            if status == "error":
                return CredentialCheck(
                    valid=False,
                    code=status,
                    message=f"ToyyibPay {endpoint}: {body.object_message()[:200]}",
                    checked_with=checked_with,
                )
        return CredentialCheck(
            valid=None,
            code="garbage" if body.garbage else (body.object_status() or "unexpected"),
            message=f"ToyyibPay {endpoint} answered something that proves nothing",
            checked_with=checked_with,
        )

    # ------------------------------------------------------------------ inbound

    def verify_notification(self, raw: InboundRequest) -> Notification:
        if raw.method.upper() != "POST":
            raise MalformedNotification("ToyyibPay callbacks are POSTs")
        fields = _parse_form(raw)
        for required in ("status", "order_id", "refno"):
            if required not in fields:
                raise MalformedNotification(f"callback lacks {required!r}")
        received_hash = fields.get("hash")
        if not received_hash:
            raise InvalidSignature("callback carries no hash")
        if not signing.verify_callback_hash(
            self._config.secret("user_secret_key"),
            fields["status"],
            fields["order_id"],
            fields["refno"],
            received_hash,
        ):
            raise InvalidSignature("callback hash does not match")

        # Verified; from here on parse tolerantly.
        status_code = fields["status"].strip()
        reference = fields["order_id"].strip()
        refno = fields["refno"].strip()
        bill_code = fields.get("billcode", "").strip()
        if not reference or not refno:
            raise MalformedNotification("callback has an empty order_id or refno")
        unit = self._config.settings.get("callback_amount_unit", "auto")
        amount: Money | None = None
        if fields.get("amount"):
            try:
                amount = wire.parse_callback_amount(fields["amount"], unit)
            except ValueError:
                amount = None
        payload: dict[str, object] = {k: v for k, v in fields.items() if k != "hash"}
        return Notification(
            reference=reference,
            status=wire.callback_status(status_code),
            dedupe_key=f"{bill_code}:{refno}:{status_code}",
            amount=amount,
            gateway_code=status_code,
            message=fields.get("reason", "") or fields.get("msg", ""),
            gateway_txn_id=refno,
            occurred_at=_optional_time(fields.get("transaction_time")),
            payload=payload,
        )

    def notification_reply(self, outcome: ApplyOutcome) -> Reply:
        return NOTIFICATION_REPLIES[outcome]

    def verify_return(self, raw: InboundRequest) -> ReturnInfo:
        """Browser return (`status_id`, `billcode`, `order_id`, `msg`, `transaction_id`):
        unsigned, so display only."""
        params = dict(
            parse_qsl(raw.query_string.decode("utf-8", "replace"), keep_blank_values=True)
        )
        status_id = params.get("status_id", "")
        return ReturnInfo(
            reference=params.get("order_id") or None,
            claimed_status=wire.callback_status(status_id),
            signature_valid=False,
            message=params.get("msg", ""),
        )

    # ------------------------------------------------------------------ HTTP plumbing

    def _bill_code(self, ref: PaymentRef) -> str:
        bill_code = ref.gateway_data.get("bill_code", "").strip()
        if not bill_code:
            raise InvalidPaymentRequest(
                "payment has no ToyyibPay bill_code", gateway_code="bill_code"
            )
        return bill_code

    async def _post(
        self, endpoint: str, form: Mapping[str, str], *, effectful: bool
    ) -> wire.ApiBody:
        """POST a form. `effectful` is False for reads and for setup calls made before any
        bill exists: their failures cannot leave a payment unknown."""
        url = f"{self._base}{wire.API_PREFIX}{endpoint}"
        response = await transport.exchange(
            self._http.post(url, data=dict(form)),
            gateway="ToyyibPay",
            operation=endpoint,
            effectful=effectful,
        )
        status = response.status_code
        if status == 404:
            raise GatewayMisconfigured(
                f"ToyyibPay {endpoint} answered HTTP {status}: check base URL and key",
                gateway_code=f"http_{status}",
            )
        if status >= 400:
            raise GatewayRejected(
                f"ToyyibPay {endpoint} answered HTTP {status}", gateway_code=f"http_{status}"
            )
        return wire.parse_api_body(response.text)

    @staticmethod
    def _raise_for_error(
        body: wire.ApiBody, endpoint: str, *, effectful: bool, misconfig: bool = False
    ) -> None:
        """Raise the typed error an error-shaped body means; return if it is not one."""
        if body.error_code is not None:
            detail = f" {body.error_detail[:200]}" if body.error_detail else ""
            message = f"ToyyibPay {endpoint}: [{body.error_code}]{detail}"
            if misconfig or body.error_code in wire.MISCONFIGURATION_CODES:
                raise GatewayMisconfigured(message, gateway_code=body.error_code)
            raise GatewayRejected(message, gateway_code=body.error_code)
        if body.obj is not None:
            status = body.object_status() or "error"
            message = body.object_message()[:200] or "no message"
            if misconfig:
                raise GatewayMisconfigured(f"ToyyibPay {endpoint}: {message}", gateway_code=status)
            raise GatewayRejected(f"ToyyibPay {endpoint}: {message}", gateway_code=status)
        if body.garbage:
            raise transport.unusable_answer(
                f"ToyyibPay {endpoint} answered something unreadable",
                gateway_code="garbage",
                effectful=effectful,
            )


def _text(value: object) -> str | None:
    if value is None:
        return None
    return str(value).strip() or None


def _optional_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return wire.parse_malaysia_time(value)
    except ValueError:
        return None  # e.g. "0000-00-00 00:00:00"


def _parse_form(raw: InboundRequest) -> dict[str, str]:
    """The callback's fields, exactly as sent (form-urlencoded or multipart)."""
    content_type = raw.header("content-type") or "application/x-www-form-urlencoded"
    pairs: list[tuple[str, str]]
    if content_type.lower().startswith("multipart/form-data"):
        pairs = _multipart_pairs(content_type, raw.body)
    else:
        try:
            text = raw.body.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedNotification("callback body is not UTF-8") from None
        try:
            pairs = parse_qsl(
                text, keep_blank_values=True, strict_parsing=bool(text), errors="strict"
            )
        except ValueError:
            raise MalformedNotification("callback body is not a form") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            raise MalformedNotification(f"callback repeats field {key!r}")
        if len(value) > _MAX_FORM_FIELD:
            raise MalformedNotification(f"callback field {key!r} is too long")
        fields[key] = value
    return fields


def _multipart_pairs(content_type: str, body: bytes) -> list[tuple[str, str]]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise MalformedNotification("callback multipart body cannot be read")
    pairs: list[tuple[str, str]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise MalformedNotification("callback multipart part without a name")
        payload = part.get_payload(decode=True) or b""
        if not isinstance(payload, bytes):
            raise MalformedNotification("callback multipart part cannot be read")
        try:
            pairs.append((name, payload.decode("utf-8")))
        except UnicodeDecodeError:
            raise MalformedNotification("callback body is not UTF-8") from None
    return pairs

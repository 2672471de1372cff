"""State and behaviour of payhub's local MoMo sandbox, independent of HTTP routing.

`MomoSandbox` holds the partners, orders and refunds; the v2 API (`api_create`,
`api_query`, `api_refund`) takes a request body's bytes and answers `(HTTP status, JSON
body)` with MoMo's validations, signatures, error bodies and requestId idempotency; IPNs go
through the shared `simkit.Notifier`. The routes are in `simulator.py`, the pages in
`sim_pages.py`.

MoMo documents no IPN retry for payments, so by default each IPN is sent once. Setting
PAYHUB_SANDBOX_MOMO_IPN_ATTEMPTS above 1 turns on a *synthetic* retry-on-non-2xx mode.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlencode

from payhub.gateways import simkit
from payhub.gateways.base import SandboxProfile
from payhub.gateways.momo import signing, wire

# An API answer: (HTTP status, JSON body).
Answer = tuple[int, dict[str, Any]]

ENV_PREFIX: Final = "PAYHUB_SANDBOX_MOMO_"
DEFAULT_PORT: Final = 8103

# Published sandbox credentials from MoMo's official samples (public test values).
PUBLIC_TEST_PARTNERS: Final[Mapping[str, tuple[str, str]]] = {
    "MOMO": ("F8BBA842ECF85", "K951B6PE1waDMi640xX08PD3vg6EkVlz"),
    "MOMOBKUN20180529": ("klm05TvNBzhg7h7j", "at67qH6mk8w5Y1nAyMoYKMWACiEi2bsa"),
    "MOMOLRJZ20181206": ("mTCKt9W3eU1m39TW", "SetA5RDnLHvt51AULf51DyauxUo3kDU6"),
}
DEFAULT_PARTNER: Final = "MOMO"

SIGNATURE_MESSAGE: Final = (
    "Chữ ký không hợp lệ. Vui lòng kiểm tra dữ liệu gốc trước khi mã hóa : {raw}."
)

# outcome name -> (resultCode, English message, Vietnamese message)
OUTCOMES: Final[Mapping[str, tuple[int, str, str]]] = {
    "paid": (0, "Successful.", "Thành công."),
    "denied": (1006, "Transaction denied by user.", "Giao dịch bị từ chối bởi người dùng."),
    "insufficient": (1001, "Insufficient funds.", "Giao dịch thất bại do tài khoản không đủ tiền."),
    "expired": (1005, "Transaction expired.", "Giao dịch thất bại do url hoặc QR code đã hết hạn."),
}
# Faults of the API itself (the Notifier's faults shape IPNs).
API_FAULTS: Final = ("slow_create", "create_500", "refund_processing", "refund_rejected")
# The next refund answers 7000 (processing) and stays so for as many queries as the
# `refund_processing` (then succeeds) or `refund_rejected` (then fails, 1080) fault count.
REFUND_REJECTED_CODE: Final = 1080


def sandbox_profile() -> SandboxProfile:
    """The simulator's test channel: MoMo's published sandbox keys unless overridden."""
    default_access, default_secret = PUBLIC_TEST_PARTNERS[DEFAULT_PARTNER]
    return SandboxProfile(
        credentials={
            "partner_code": os.environ.get(f"{ENV_PREFIX}PARTNER_CODE") or DEFAULT_PARTNER,
            "access_key": os.environ.get(f"{ENV_PREFIX}ACCESS_KEY") or default_access,
            "secret_key": os.environ.get(f"{ENV_PREFIX}SECRET_KEY") or default_secret,
        },
        settings={"request_type": wire.CAPTURE_WALLET},
        default_port=DEFAULT_PORT,
    )


@dataclass(slots=True)
class Order:
    partner_code: str
    order_id: str
    request_id: str
    amount: int
    order_info: str
    redirect_url: str
    ipn_url: str
    request_type: str
    extra_data: str
    lang: str
    token: str
    created_ms: int
    result_code: int = wire.PENDING_INITIATED
    message: str = ""
    trans_id: int = 0
    pay_type: str = ""
    response_time: int = 0
    refunds: list[dict[str, Any]] = field(default_factory=list)
    last_result: dict[str, Any] | None = None

    @property
    def final(self) -> bool:
        return self.result_code != wire.PENDING_INITIATED

    def refunded(self) -> int:
        return sum(int(r["amount"]) for r in self.refunds if r["resultCode"] == 0)


@dataclass(slots=True)
class StoredRequest:
    fingerprint: str
    response: tuple[int, dict[str, Any]] | None = None  # None while in flight


class MomoSandbox:
    """In-memory state and behaviour of the simulator."""

    def __init__(self, options: simkit.SimulatorOptions) -> None:
        self.public_url = options.public_url.rstrip("/")
        self.partners: dict[str, tuple[str, str]] = dict(PUBLIC_TEST_PARTNERS)
        creds = options.profile.credentials
        self.partners[creds["partner_code"]] = (creds["access_key"], creds["secret_key"])
        policy = options.retry or simkit.RetryPolicy(
            max_attempts=simkit.env_int(f"{ENV_PREFIX}IPN_ATTEMPTS", 1),
            interval_seconds=simkit.env_float(f"{ENV_PREFIX}IPN_INTERVAL", 30.0),
            backoff=simkit.env_float(f"{ENV_PREFIX}IPN_BACKOFF", 1.0),
            timeout_seconds=15.0,
        )
        self.notifier = simkit.Notifier(
            policy,
            is_acknowledged=lambda response: 200 <= response.status_code < 300,
            transport=options.transport,
            delay_seconds=simkit.env_float(f"{ENV_PREFIX}IPN_DELAY", 2.0),
        )
        self.slow_seconds = float(options.extra.get("slow_seconds", "1.0"))
        self.reset()

    def reset(self) -> None:
        self.orders: dict[tuple[str, str], Order] = {}
        self.tokens: dict[str, tuple[str, str]] = {}
        self.refund_order_ids: set[tuple[str, str]] = set()
        self.requests: dict[tuple[str, str], StoredRequest] = {}
        self.api_faults: list[str] = []
        # refund orderId -> [queries it still answers processing, its final resultCode]
        self.refund_progress: dict[str, list[int]] = {}
        self.notifier.reset()

    # ------------------------------------------------------------------ helpers

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def new_trans_id(self) -> int:
        return 4_000_000_000 + secrets.randbelow(999_999_999)

    def take_api_fault(self, name: str) -> bool:
        if name in self.api_faults:
            self.api_faults.remove(name)
            return True
        return False

    def take_all_faults(self, name: str) -> int:
        count = self.api_faults.count(name)
        self.api_faults = [f for f in self.api_faults if f != name]
        return count

    def advance_refunds(self, order: Order) -> None:
        """One query's worth of progress for the order's refunds still processing."""
        for refund in order.refunds:
            progress = self.refund_progress.get(refund["orderId"])
            if progress is None:
                continue
            if progress[0] > 0:
                progress[0] -= 1
                continue
            refund["resultCode"] = progress[1]
            del self.refund_progress[refund["orderId"]]

    def order_by_id(self, order_id: str) -> Order | None:
        matches = [order for (_, oid), order in self.orders.items() if oid == order_id]
        return matches[0] if matches else None

    def message(self, lang: str, english: str, vietnamese: str) -> str:
        return english if lang == "en" else vietnamese

    # ------------------------------------------------------------------ results & IPN

    def result_params(self, order: Order, *, amount: int | None = None) -> dict[str, Any]:
        """IPN body / redirect parameters, signed (numbers as numbers)."""
        access_key, secret_key = self.partners[order.partner_code]
        body: dict[str, Any] = {
            "partnerCode": order.partner_code,
            "orderId": order.order_id,
            "requestId": order.request_id,
            "amount": order.amount if amount is None else amount,
            "orderInfo": order.order_info,
            "orderType": wire.ORDER_TYPE,
            "transId": order.trans_id,
            "resultCode": order.result_code,
            "message": order.message,
            "payType": order.pay_type,
            "responseTime": order.response_time,
            "extraData": order.extra_data,
        }
        values = {name: str(body[name]) for name in signing.RESULT_FIELDS if name in body}
        values["accessKey"] = access_key
        body["signature"] = signing.sign(
            secret_key, signing.raw_signature(signing.RESULT_FIELDS, values)
        )
        return body

    def finish(self, order: Order, outcome: str) -> simkit.Delivery:
        code, english, vietnamese = OUTCOMES[outcome]
        order.result_code = code
        order.message = self.message(order.lang, english, vietnamese)
        order.trans_id = self.new_trans_id()
        order.pay_type = "qr" if code == 0 else ""
        order.response_time = self.now_ms()
        order.last_result = self.result_params(order)
        return self.send_ipn(order)

    def send_ipn(self, order: Order) -> simkit.Delivery:
        fault = self.notifier.take_fault()
        body = dict(order.last_result or self.result_params(order))
        if fault is simkit.Fault.WRONG_AMOUNT:
            body = self.result_params(order, amount=order.amount + 1_000)
        elif fault is simkit.Fault.TAMPER:
            body["amount"] = int(body["amount"]) + 1_000
        return self.notifier.send(
            simkit.OutboundCall(
                method="POST",
                url=order.ipn_url,
                content=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                headers={"Content-Type": "application/json; charset=UTF-8"},
                label=f"ipn {order.order_id} resultCode={order.result_code}",
            ),
            fault,
        )

    def redirect_url(self, order: Order) -> str:
        params = {key: str(value) for key, value in (order.last_result or {}).items()}
        separator = "&" if "?" in order.redirect_url else "?"
        return f"{order.redirect_url}{separator}{urlencode(params)}"


# ---------------------------------------------------------------------- request parsing


class BadRequest(Exception):
    """A request field MoMo would refuse with resultCode 20."""

    def __init__(self, field_name: str, detail: str) -> None:
        super().__init__(detail)
        self.field_name = field_name
        self.detail = detail


def _error(
    status: int,
    code: int,
    message: str,
    *,
    sub_errors: list[dict[str, str]] | None = None,
    echo: Mapping[str, Any] | None = None,
) -> Answer:
    body: dict[str, Any] = {}
    for name in ("partnerCode", "requestId", "orderId", "amount"):
        if echo and name in echo:
            body[name] = echo[name]
    body.update({"responseTime": int(time.time() * 1000), "message": message, "resultCode": code})
    if sub_errors:
        body["subErrors"] = sub_errors
    return status, body


def _bad_format(field_name: str, detail: str) -> Answer:
    return _error(
        400, 20, "Bad format request.", sub_errors=[{"field": field_name, "message": detail}]
    )


def _read_exact(raw: bytes) -> dict[str, Any]:
    try:
        parsed = wire.loads_exact(raw)
    except ValueError:
        raise BadRequest("body", "Request body is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise BadRequest("body", "Request body must be a JSON object.")
    return parsed


def _text(body: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(name, f"{name} is required.")
        return ""
    if not isinstance(value, str):
        raise BadRequest(name, f"{name} must be a scalar.")
    return value


def _whole_number(body: Mapping[str, Any], name: str) -> str:
    text = _text(body, name)
    if not text.isascii() or not text.isdigit():
        raise BadRequest(name, f"{name} must be a whole number.")
    return text


def _fingerprint(body: Mapping[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, ensure_ascii=False)


# ---------------------------------------------------------------------- the v2 API


def _check_signature(
    sandbox: MomoSandbox, body: Mapping[str, Any], fields: tuple[str, ...], values: dict[str, str]
) -> Answer | None:
    partner = values["partnerCode"]
    if partner not in sandbox.partners:
        return _error(400, 13, "Merchant authentication failed.", echo=body)
    access_key, secret_key = sandbox.partners[partner]
    raw = signing.raw_signature(fields, {**values, "accessKey": access_key})
    if not signing.verify(secret_key, raw, _text(body, "signature")):
        masked = signing.mask_access_key(raw)
        return _error(
            400,
            20,
            "Bad format request.",
            sub_errors=[{"field": "signature", "message": SIGNATURE_MESSAGE.format(raw=masked)}],
        )
    return None


async def _idempotent(
    sandbox: MomoSandbox,
    body: Mapping[str, Any],
    handler: Callable[[], Answer],
    *,
    slow: bool = False,
) -> Answer:
    """MoMo's requestId idempotency: replay finished, 422/7000 in flight, 40 if changed."""
    key = (str(body.get("partnerCode")), str(body.get("requestId")))
    fingerprint = _fingerprint(body)
    stored = sandbox.requests.get(key)
    if stored is not None:
        if stored.response is None:
            return _error(422, 7000, "Request already processed or in progress.", echo=body)
        if stored.fingerprint != fingerprint:
            return _error(200, 40, "Duplicated requestId.", echo=body)
        status, answer = stored.response
        return status, answer
    entry = StoredRequest(fingerprint)
    sandbox.requests[key] = entry
    try:
        if slow:
            await asyncio.sleep(sandbox.slow_seconds)
        status, answer = handler()
    except BaseException:
        sandbox.requests.pop(key, None)
        raise
    entry.response = (status, answer)
    return status, answer


async def api_create(sandbox: MomoSandbox, raw: bytes) -> Answer:
    """`POST /v2/gateway/api/create`."""
    try:
        body = _read_exact(raw)
        values = {
            "partnerCode": _text(body, "partnerCode"),
            "requestId": _text(body, "requestId"),
            "amount": _whole_number(body, "amount"),
            "orderId": _text(body, "orderId"),
            "orderInfo": _text(body, "orderInfo"),
            "redirectUrl": _text(body, "redirectUrl"),
            "ipnUrl": _text(body, "ipnUrl"),
            "requestType": _text(body, "requestType"),
            "extraData": _text(body, "extraData", required=False),
        }
        _text(body, "signature")
        if values["requestType"] not in wire.AMOUNT_LIMITS:
            raise BadRequest("requestType", "requestType is not supported.")
        if not wire.order_id_is_valid(values["orderId"]):
            raise BadRequest("orderId", "orderId has an invalid format.")
        if not values["requestId"] or len(values["requestId"]) > wire.REQUEST_ID_MAX:
            raise BadRequest("requestId", "requestId has an invalid format.")
        if len(values["orderInfo"]) > wire.ORDER_INFO_MAX:
            raise BadRequest("orderInfo", "orderInfo is too long.")
        if len(values["extraData"]) > wire.EXTRA_DATA_MAX:
            raise BadRequest("extraData", "extraData is too long.")
    except BadRequest as exc:
        return _bad_format(exc.field_name, exc.detail)
    rejected = _check_signature(sandbox, body, signing.CREATE_FIELDS, values)
    if rejected is not None:
        return rejected
    lang = body.get("lang") if body.get("lang") in ("vi", "en") else "vi"
    auto_capture = body.get("autoCapture", True)

    def handle() -> tuple[int, dict[str, Any]]:
        partner = values["partnerCode"]
        amount = int(values["amount"])
        echo = {
            "partnerCode": partner,
            "requestId": values["requestId"],
            "orderId": values["orderId"],
            "amount": amount,
            "responseTime": sandbox.now_ms(),
        }
        limits = wire.AMOUNT_LIMITS[values["requestType"]]
        if not limits.min_minor <= amount <= limits.max_minor:
            return 200, {
                **echo,
                "message": f"Amount out of range ({limits.min_minor}-{limits.max_minor}).",
                "resultCode": 22,
            }
        key = (partner, values["orderId"])
        if key in sandbox.orders or key in sandbox.refund_order_ids:
            return 200, {**echo, "message": "Duplicated orderId.", "resultCode": 41}
        token = base64.urlsafe_b64encode(secrets.token_bytes(24)).decode("ascii")
        order = Order(
            partner_code=partner,
            order_id=values["orderId"],
            request_id=values["requestId"],
            amount=amount,
            order_info=values["orderInfo"],
            redirect_url=values["redirectUrl"],
            ipn_url=values["ipnUrl"],
            request_type=values["requestType"],
            extra_data=values["extraData"],
            lang=str(lang),
            token=token,
            created_ms=sandbox.now_ms(),
        )
        _ = auto_capture  # accepted; this sandbox always captures (payhub never asks not to)
        sandbox.orders[key] = order
        sandbox.tokens[token] = key
        pay_url = f"{sandbox.public_url}/v2/gateway/pay?t={token}"
        access_key, secret_key = sandbox.partners[partner]
        answer: dict[str, Any] = {
            **echo,
            "message": sandbox.message(order.lang, "Successful.", "Thành công."),
            "resultCode": 0,
            "payUrl": pay_url,
        }
        answer["signature"] = signing.sign(
            secret_key,
            signing.raw_signature(
                signing.CREATE_RESPONSE_FIELDS,
                {k: str(v) for k, v in answer.items()} | {"accessKey": access_key},
            ),
        )
        answer["deeplink"] = (
            f"momo://?action=payWithAppToken&amount={amount}&partnerCode={partner}"
            f"&orderId={values['orderId']}&requestId={values['requestId']}&token={token}"
        )
        answer["qrCodeUrl"] = f"{sandbox.public_url}/v2/gateway/app?isScanQr=true&t={token}"
        answer["deeplinkMiniApp"] = answer["deeplink"] + "&isMiniApp=true"
        answer["userFee"] = 0
        return 200, answer

    return await _idempotent(sandbox, body, handle, slow=sandbox.take_api_fault("slow_create"))


def api_query(sandbox: MomoSandbox, raw: bytes) -> Answer:
    """`POST /v2/gateway/api/query`."""
    try:
        body = _read_exact(raw)
        values = {
            "partnerCode": _text(body, "partnerCode"),
            "requestId": _text(body, "requestId"),
            "orderId": _text(body, "orderId"),
        }
        _text(body, "signature")
    except BadRequest as exc:
        return _bad_format(exc.field_name, exc.detail)
    rejected = _check_signature(sandbox, body, signing.QUERY_FIELDS, values)
    if rejected is not None:
        return rejected
    order = sandbox.orders.get((values["partnerCode"], values["orderId"]))
    now = sandbox.now_ms()
    echo = {
        "partnerCode": values["partnerCode"],
        "requestId": values["requestId"],
        "orderId": values["orderId"],
    }
    if order is None:
        return 200, {
            **echo,
            "resultCode": 42,
            "message": "Invalid orderId or orderId is not found.",
            "responseTime": now,
        }
    pending = not order.final
    sandbox.advance_refunds(order)
    return 200, {
        **echo,
        "extraData": order.extra_data,
        "amount": order.amount,
        "transId": 0 if pending else order.trans_id,
        "payType": "" if pending else order.pay_type,
        "resultCode": order.result_code,
        "refundTrans": list(order.refunds),
        "message": (
            "Transaction initiated, waiting for user confirmation." if pending else order.message
        ),
        "responseTime": now,
        "lastUpdated": order.response_time or order.created_ms,
    }


async def api_refund(sandbox: MomoSandbox, raw: bytes) -> Answer:
    """`POST /v2/gateway/api/refund`."""
    try:
        body = _read_exact(raw)
        values = {
            "partnerCode": _text(body, "partnerCode"),
            "orderId": _text(body, "orderId"),
            "requestId": _text(body, "requestId"),
            "amount": _whole_number(body, "amount"),
            "transId": _whole_number(body, "transId"),
            "description": _text(body, "description", required=False),
        }
        _text(body, "signature")
        if not wire.order_id_is_valid(values["orderId"]):
            raise BadRequest("orderId", "orderId has an invalid format.")
    except BadRequest as exc:
        return _bad_format(exc.field_name, exc.detail)
    rejected = _check_signature(sandbox, body, signing.REFUND_FIELDS, values)
    if rejected is not None:
        return rejected

    def handle() -> tuple[int, dict[str, Any]]:
        partner = values["partnerCode"]
        amount = int(values["amount"])
        echo = {
            "partnerCode": partner,
            "orderId": values["orderId"],
            "requestId": values["requestId"],
            "amount": amount,
            "responseTime": sandbox.now_ms(),
        }
        key = (partner, values["orderId"])
        if key in sandbox.orders or key in sandbox.refund_order_ids:
            return 200, {
                **echo,
                "transId": 0,
                "resultCode": 41,
                "message": "Duplicated orderId.",
            }
        original = next(
            (
                order
                for (p, _), order in sandbox.orders.items()
                if p == partner and order.trans_id == int(values["transId"]) and order.trans_id != 0
            ),
            None,
        )
        if original is None:
            return 200, {
                **echo,
                "transId": 0,
                "resultCode": 42,
                "message": "Invalid transId or transaction not found.",
            }
        if original.result_code != 0:
            return 200, {
                **echo,
                "transId": 0,
                "resultCode": 1088,
                "message": "Original transaction is not eligible for refund.",
            }
        limits = wire.REFUND_LIMITS
        if not limits.min_minor <= amount <= limits.max_minor:
            return 200, {
                **echo,
                "transId": 0,
                "resultCode": 22,
                "message": "Amount out of range.",
            }
        if original.refunded() + amount > original.amount:
            return 200, {
                **echo,
                "transId": 0,
                "resultCode": wire.OVER_REFUND,
                "message": "Refund rejected: amount exceeds the refundable amount.",
            }
        trans_id = sandbox.new_trans_id()
        sandbox.refund_order_ids.add(key)
        succeed_after = sandbox.take_all_faults("refund_processing")
        fail_after = sandbox.take_all_faults("refund_rejected")
        processing = bool(succeed_after or fail_after)
        if processing:
            final = REFUND_REJECTED_CODE if fail_after else 0
            sandbox.refund_progress[values["orderId"]] = [max(succeed_after, fail_after), final]
        code = 7000 if processing else 0
        original.refunds.append(
            {
                "orderId": values["orderId"],
                "amount": amount,
                "resultCode": code,
                "transId": trans_id,
                "createdTime": sandbox.now_ms(),
            }
        )
        message = "Transaction is being processed." if processing else "Successful."
        return 200, {**echo, "transId": trans_id, "resultCode": code, "message": message}

    return await _idempotent(sandbox, body, handle)

"""State and behaviour of payhub's local VNPay sandbox, independent of HTTP routing.

`VnpaySandbox` holds the terminals (with their registered IPN URLs), the transactions a pay
URL opened, and the merchant_webapi answers (`querydr`, `refund`), counting the querydr
calls it takes per vnp_TxnRef (`querydr_calls`: VNPay throttles a terminal that queries too
often), and sends each signed IPN through the shared `simkit.Notifier`. The routes are in
`simulator.py`, the pages in `sim_pages.py`.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

import httpx

from payhub.clock import Clock
from payhub.gateways import simkit
from payhub.gateways.base import SandboxProfile
from payhub.gateways.vnpay import signing, wire

ENV_PREFIX: Final = "PAYHUB_SANDBOX_VNPAY_"
DEFAULT_TMN_CODE: Final = "PAYHUBV1"
DEFAULT_HASH_SECRET: Final = "PAYHUBVNPAYSANDBOXHASHSECRET0001"
DEFAULT_IPN_URL: Final = "http://127.0.0.1:8000/callbacks/vnpay"
DEFAULT_IPN_INTERVAL: Final = 300.0
DEFAULT_PORT: Final = 8102
IPN_MAX_CALLS: Final = 10
DEFAULT_LINK_TTL: Final = timedelta(minutes=15)


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name) or default


def sandbox_profile() -> SandboxProfile:
    """The simulator's default terminal, from PAYHUB_SANDBOX_VNPAY_* or fixed defaults."""
    return SandboxProfile(
        credentials={
            "tmn_code": _env("TMN_CODE", DEFAULT_TMN_CODE),
            "hash_secret": _env("HASH_SECRET", DEFAULT_HASH_SECRET),
        },
        settings={},
        default_port=DEFAULT_PORT,
        notify_url_option="ipn_url",
    )


def registered_ipn_url() -> str:
    """The IPN URL of the default terminal (VNPay keeps it on its side, not in requests)."""
    return _env("IPN_URL", DEFAULT_IPN_URL)


@dataclass(frozen=True, slots=True)
class Outcome:
    response_code: str
    transaction_status: str
    label: str


OUTCOMES: Final[dict[str, Outcome]] = {
    "success": Outcome("00", "00", "Pay (success)"),
    "cancel": Outcome("24", "02", "Cancel payment"),
    "insufficient": Outcome("51", "02", "Insufficient funds"),
    "timeout": Outcome("11", "02", "Timeout"),
    "fraud": Outcome("07", "07", "Suspected fraud"),
}

# VNPay-specific faults on top of simkit.Fault: make the next querydr answer 94.
QUERYDR_BUSY: Final = "querydr_busy"
# The next refund stays processing (05) for this many querydr answers, then ends done (00)
# or, with `refund_rejected`, rejected (09). Without either it is done at the first querydr.
REFUND_PROCESSING: Final = "refund_processing"
REFUND_REJECTED: Final = "refund_rejected"


@dataclass(slots=True)
class SimRefund:
    """One refund of a transaction, as querydr reports it while it is the latest."""

    kind: str  # 02 full | 03 partial
    amount_x100: int
    transaction_no: str
    status: str = "05"
    queries_left: int = 0
    final_status: str = "00"

    def advance(self) -> None:
        if self.status != "05":
            return
        if self.queries_left > 0:
            self.queries_left -= 1
            return
        self.status = self.final_status


@dataclass(slots=True)
class Terminal:
    tmn_code: str
    hash_secret: str
    ipn_url: str


@dataclass(slots=True)
class Transaction:
    tmn_code: str
    txn_ref: str
    create_date: str
    expire_date: str
    amount_x100: int
    order_info: str
    return_url: str
    token: str
    signed_query: str
    ip_addr: str = ""  # vnp_IpAddr and vnp_Locale as received: the customer's context
    locale: str = ""
    outcome: str | None = None
    response_code: str = ""
    transaction_status: str = ""
    transaction_no: str = ""
    bank_code: str = ""
    pay_date: str = ""
    refunded_x100: int = 0
    callback: dict[str, str] = field(default_factory=dict)
    refunds: list[SimRefund] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tmn_code": self.tmn_code,
            "txn_ref": self.txn_ref,
            "create_date": self.create_date,
            "expire_date": self.expire_date,
            "amount": self.amount_x100 // 100,
            "order_info": self.order_info,
            "ip_addr": self.ip_addr,
            "locale": self.locale,
            "outcome": self.outcome,
            "response_code": self.response_code,
            "transaction_status": self.transaction_status,
            "transaction_no": self.transaction_no,
            "refunded": self.refunded_x100 // 100,
            "refunds": [
                {"kind": r.kind, "amount": r.amount_x100 // 100, "status": r.status}
                for r in self.refunds
            ],
        }


def _sign_callback(secret: str, params: dict[str, str]) -> str:
    """The query string VNPay appends to the return URL and sends to the IPN URL."""
    ordered = sorted((k, v) for k, v in params.items() if v != "")
    return urlencode([*ordered, ("vnp_SecureHash", signing.sign_query(secret, ordered))])


def _with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


def is_ipn_acknowledged(response: httpx.Response) -> bool:
    """VNPay stops only on HTTP 200 JSON with RspCode 00 or 02."""
    if response.status_code != 200:
        return False
    try:
        data = response.json()
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("RspCode") in wire.IPN_FINAL_CODES


class VnpaySandbox:
    """The simulator's state and behaviour, independent of HTTP routing."""

    def __init__(self, options: simkit.SimulatorOptions, clock: Clock) -> None:
        self.options = options
        self.clock = clock
        policy = options.retry or simkit.RetryPolicy(
            max_attempts=IPN_MAX_CALLS,
            interval_seconds=simkit.env_float(ENV_PREFIX + "IPN_INTERVAL", DEFAULT_IPN_INTERVAL),
            backoff=1.0,
            timeout_seconds=10.0,
        )
        self.notifier = simkit.Notifier(policy, is_ipn_acknowledged, options.transport)
        self.terminals: dict[str, Terminal] = {}
        self.transactions: dict[tuple[str, str, str], Transaction] = {}
        self.tokens: dict[str, Transaction] = {}
        self.request_ids: set[tuple[str, str]] = set()
        self.querydr_busy = 0
        self.refund_processing = 0
        self.refund_rejected = 0
        self.querydr_calls: Counter[str] = Counter()  # vnp_TxnRef -> signed querydr calls
        self._numbers = itertools.count(14_422_574)
        self.reset()

    def reset(self) -> None:
        profile = self.options.profile
        tmn = profile.credentials.get("tmn_code", DEFAULT_TMN_CODE)
        self.terminals = {
            tmn: Terminal(
                tmn_code=tmn,
                hash_secret=profile.credentials.get("hash_secret", DEFAULT_HASH_SECRET),
                ipn_url=self.options.extra.get("ipn_url", registered_ipn_url()),
            )
        }
        self.transactions.clear()
        self.tokens.clear()
        self.request_ids.clear()
        self.querydr_busy = 0
        self.refund_processing = 0
        self.refund_rejected = 0
        self.querydr_calls.clear()
        self.notifier.reset()

    def now_vn(self) -> str:
        return wire.format_vnp_time(self.clock.now())

    def next_number(self) -> str:
        return f"{next(self._numbers):08d}"

    # -- pay --------------------------------------------------------------------------

    def start_payment(self, query: str) -> str:
        """Validate a pay URL's query string; returns the redirect target."""
        try:
            pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            return self._error("03")
        params = dict(pairs)
        if len(params) != len(pairs):
            return self._error("03")
        tmn = params.get("vnp_TmnCode", "")
        if not tmn:
            return self._error("03")
        terminal = self.terminals.get(tmn)
        if terminal is None:
            return self._error("72")
        if not signing.verify_query(terminal.hash_secret, pairs, params.get("vnp_SecureHash", "")):
            return self._error("70")
        if not self._pay_fields_valid(params):
            return self._error("03")
        create_date = params["vnp_CreateDate"]
        expire_date = params.get("vnp_ExpireDate") or wire.format_vnp_time(
            wire.parse_vnp_time(create_date) + DEFAULT_LINK_TTL
        )
        if wire.parse_vnp_time(expire_date) <= self.clock.now():
            return self._error("15")
        txn_ref = params["vnp_TxnRef"]
        existing = self.transactions.get((tmn, txn_ref, create_date))
        if existing is not None and existing.signed_query == query and existing.outcome is None:
            return f"{wire.CHECKOUT_PATH}?token={existing.token}"  # the same URL opened again
        if any(
            key[0] == tmn and key[1] == txn_ref and key[2][:8] == create_date[:8]
            for key in self.transactions
        ):
            return self._error("01")
        txn = Transaction(
            tmn_code=tmn,
            txn_ref=txn_ref,
            create_date=create_date,
            expire_date=expire_date,
            amount_x100=int(params["vnp_Amount"]),
            order_info=params["vnp_OrderInfo"],
            return_url=params["vnp_ReturnUrl"],
            token=secrets.token_urlsafe(16),
            signed_query=query,
            ip_addr=params.get("vnp_IpAddr", ""),
            locale=params.get("vnp_Locale", ""),
        )
        self.transactions[(tmn, txn_ref, create_date)] = txn
        self.tokens[txn.token] = txn
        return f"{wire.CHECKOUT_PATH}?token={txn.token}"

    @staticmethod
    def _error(code: str) -> str:
        return f"{wire.ERROR_PATH}?code={code}"

    @staticmethod
    def _pay_fields_valid(params: dict[str, str]) -> bool:
        amount = params.get("vnp_Amount", "")
        checks = (
            params.get("vnp_Version") == wire.VERSION,
            params.get("vnp_Command") == "pay",
            amount.isdigit() and 0 < len(amount) <= 12 and int(amount) > 0,
            params.get("vnp_CurrCode") == wire.CURRENCY,
            wire.is_vnp_time(params.get("vnp_CreateDate", "")),
            not params.get("vnp_ExpireDate") or wire.is_vnp_time(params["vnp_ExpireDate"]),
            7 <= len(params.get("vnp_IpAddr", "")) <= 45,
            params.get("vnp_Locale") in ("vn", "en"),
            0 < len(params.get("vnp_OrderInfo", "")) <= wire.ORDER_INFO_MAX,
            0 < len(params.get("vnp_OrderType", "")) <= 100,
            10 <= len(params.get("vnp_ReturnUrl", "")) <= 255,
            0 < len(params.get("vnp_TxnRef", "")) <= wire.TXN_REF_MAX,
        )
        return all(checks)

    def find_open(self, txn_ref: str) -> Transaction | None:
        matches = [t for t in self.transactions.values() if t.txn_ref == txn_ref]
        return matches[-1] if matches else None

    def complete(self, txn: Transaction, outcome_name: str) -> str:
        """Apply an outcome: record it, send the IPN, return the browser's return URL."""
        if self.clock.now() > wire.parse_vnp_time(txn.expire_date):
            outcome_name = "timeout"  # the page timed out before the buyer acted
        outcome = OUTCOMES[outcome_name]
        terminal = self.terminals[txn.tmn_code]
        txn.outcome = outcome_name
        txn.response_code = outcome.response_code
        txn.transaction_status = outcome.transaction_status
        txn.pay_date = self.now_vn()
        params: dict[str, str] = {
            "vnp_Amount": str(txn.amount_x100),
            "vnp_OrderInfo": txn.order_info,
            "vnp_PayDate": txn.pay_date,
            "vnp_ResponseCode": outcome.response_code,
            "vnp_TmnCode": txn.tmn_code,
            "vnp_TransactionStatus": outcome.transaction_status,
            "vnp_TxnRef": txn.txn_ref,
        }
        if outcome_name == "cancel":
            txn.transaction_no = "0"
            txn.bank_code = "VNPAY"
            params.update(vnp_BankCode="VNPAY", vnp_CardType="QRCODE", vnp_TransactionNo="0")
        else:
            txn.transaction_no = self.next_number()
            txn.bank_code = "NCB"
            params.update(
                vnp_BankCode="NCB",
                vnp_BankTranNo=f"VNP{txn.transaction_no}",
                vnp_CardType="ATM",
                vnp_TransactionNo=txn.transaction_no,
            )
        txn.callback = params
        query = _sign_callback(terminal.hash_secret, params)
        self._send_ipn(terminal, params)
        return _with_query(txn.return_url, query)

    def _send_ipn(self, terminal: Terminal, params: dict[str, str]) -> None:
        if not terminal.ipn_url:
            return  # no registered IPN URL: VNPay sends nothing
        fault = self.notifier.take_fault()
        signed = dict(params)
        if fault is simkit.Fault.WRONG_AMOUNT:
            signed["vnp_Amount"] = str(int(params["vnp_Amount"]) + 100_000)
        query = _sign_callback(terminal.hash_secret, signed)
        if fault is simkit.Fault.TAMPER:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, str(int(v) * 2) if k == "vnp_Amount" else v) for k, v in pairs])
        call = simkit.OutboundCall(
            method="GET",
            url=_with_query(terminal.ipn_url, query),
            label=(
                f"IPN {params['vnp_TxnRef']} "
                f"{params['vnp_ResponseCode']}/{params['vnp_TransactionStatus']}"
            ),
        )
        self.notifier.send(call, fault)

    # -- merchant_webapi ---------------------------------------------------------------

    def api(self, body: dict[str, Any]) -> dict[str, Any]:
        data = {k: ("" if v is None else str(v)) for k, v in body.items()}
        command = data.get("vnp_Command", "")
        if command == "querydr":
            return self.querydr(data)
        if command == "refund":
            return self.refund(data)
        return self.api_error(data, "03", "Invalid vnp_Command")

    def api_error(self, data: dict[str, str], code: str, message: str) -> dict[str, Any]:
        return {
            "vnp_ResponseId": secrets.token_hex(16),
            "vnp_Command": data.get("vnp_Command", ""),
            "vnp_ResponseCode": code,
            "vnp_Message": message,
            "vnp_TmnCode": data.get("vnp_TmnCode", ""),
            "vnp_TxnRef": data.get("vnp_TxnRef", ""),
        }

    def _check_request(
        self, data: dict[str, str], fields: tuple[str, ...], required: tuple[str, ...]
    ) -> tuple[Terminal | None, dict[str, Any] | None]:
        terminal = self.terminals.get(data.get("vnp_TmnCode", ""))
        if terminal is None:
            return None, self.api_error(data, "02", "Merchant is not valid (vnp_TmnCode)")
        if not signing.verify_fields(
            terminal.hash_secret, data, fields, data.get("vnp_SecureHash", "")
        ):
            return None, self.api_error(data, "97", "Invalid Checksum")
        if any(not data.get(name) for name in required) or data.get("vnp_Version") != (
            wire.VERSION
        ):
            return None, self.api_error(data, "03", "Invalid data format")
        for name in ("vnp_TransactionDate", "vnp_CreateDate"):
            if not wire.is_vnp_time(data[name]):
                return None, self.api_error(data, "03", f"Invalid {name}")
        return terminal, None

    def querydr(self, data: dict[str, str]) -> dict[str, Any]:
        terminal, error = self._check_request(
            data,
            signing.QUERYDR_REQUEST_FIELDS,
            tuple(f for f in signing.QUERYDR_REQUEST_FIELDS if f != "vnp_OrderInfo"),
        )
        if error is not None or terminal is None:
            return error or {}
        self.querydr_calls[data["vnp_TxnRef"]] += 1
        if self.querydr_busy > 0:
            self.querydr_busy -= 1
            return self.api_error(data, "94", "Duplicate request within the allowed time")
        txn = self.transactions.get(
            (terminal.tmn_code, data["vnp_TxnRef"], data["vnp_TransactionDate"])
        )
        if txn is None or txn.outcome is None:
            return self.api_error(data, "91", "Transaction not found")
        answer: dict[str, Any] = {
            "vnp_ResponseId": secrets.token_hex(16),
            "vnp_Command": "querydr",
            "vnp_ResponseCode": "00",
            "vnp_Message": "QueryDR Success",
            "vnp_TmnCode": txn.tmn_code,
            "vnp_TxnRef": txn.txn_ref,
            "vnp_Amount": str(txn.amount_x100),
            "vnp_OrderInfo": txn.order_info,
            "vnp_BankCode": txn.bank_code,
            "vnp_PayDate": txn.pay_date,
            "vnp_TransactionNo": txn.transaction_no,
            "vnp_TransactionType": "01",
            "vnp_TransactionStatus": txn.transaction_status,
        }
        if txn.refunds:  # once refunded, querydr describes the latest refund
            latest = txn.refunds[-1]
            latest.advance()
            if latest.status == "09":
                txn.refunded_x100 -= latest.amount_x100
                latest.amount_x100 = 0  # counted back once
            answer["vnp_TransactionType"] = latest.kind
            answer["vnp_TransactionStatus"] = latest.status
        answer["vnp_SecureHash"] = signing.sign_fields(
            terminal.hash_secret, answer, signing.QUERYDR_RESPONSE_FIELDS
        )
        return answer

    def refund(self, data: dict[str, str]) -> dict[str, Any]:
        required = tuple(
            f for f in signing.REFUND_REQUEST_FIELDS if f not in ("vnp_TransactionNo",)
        )
        terminal, error = self._check_request(data, signing.REFUND_REQUEST_FIELDS, required)
        if error is not None or terminal is None:
            return error or {}
        kind = data["vnp_TransactionType"]
        amount_text = data["vnp_Amount"]
        if kind not in ("02", "03") or not amount_text.isdigit() or int(amount_text) <= 0:
            return self.api_error(data, "03", "Invalid data format")
        txn = self.transactions.get(
            (terminal.tmn_code, data["vnp_TxnRef"], data["vnp_TransactionDate"])
        )
        given_no = data.get("vnp_TransactionNo", "")
        if (
            txn is None
            or txn.outcome is None
            or (given_no not in ("", "0") and given_no != txn.transaction_no)
        ):
            return self.api_error(data, "91", "Transaction to refund not found")
        if txn.transaction_status != "00":
            return self.api_error(data, "95", "Original transaction failed; refund refused")
        request_key = (terminal.tmn_code, data["vnp_RequestId"])
        if request_key in self.request_ids:
            return self.api_error(data, "94", "Refund already requested and being processed")
        amount = int(amount_text)
        remaining = txn.amount_x100 - txn.refunded_x100
        if kind == "02" and (amount != txn.amount_x100 or txn.refunded_x100):
            return self.api_error(data, "03", "Full refund must be the whole, unrefunded amount")
        if amount > remaining:
            return self.api_error(data, "03", "Refund amount exceeds the refundable amount")
        self.request_ids.add(request_key)
        txn.refunded_x100 += amount
        refund_no = self.next_number()
        rejected = self.refund_rejected > 0
        txn.refunds.append(
            SimRefund(
                kind=kind,
                amount_x100=amount,
                transaction_no=refund_no,
                queries_left=max(self.refund_processing, self.refund_rejected),
                final_status="09" if rejected else "00",
            )
        )
        self.refund_processing = self.refund_rejected = 0
        answer: dict[str, Any] = {
            "vnp_ResponseId": secrets.token_hex(16),
            "vnp_Command": "refund",
            "vnp_ResponseCode": "00",
            "vnp_Message": "Refund success",
            "vnp_TmnCode": txn.tmn_code,
            "vnp_TxnRef": txn.txn_ref,
            "vnp_Amount": amount_text,
            "vnp_OrderInfo": data.get("vnp_OrderInfo", ""),
            "vnp_BankCode": txn.bank_code,
            "vnp_PayDate": self.now_vn(),
            "vnp_TransactionNo": refund_no,
            "vnp_TransactionType": kind,
            "vnp_TransactionStatus": "05",
        }
        answer["vnp_SecureHash"] = signing.sign_fields(
            terminal.hash_secret, answer, signing.REFUND_RESPONSE_FIELDS
        )
        return answer

"""payhub's local ToyyibPay sandbox: the `index.php/api` endpoints, bill pages, md5 callbacks.

It answers like ToyyibPay does (HTTP 200 with JSON arrays, JSON error objects or bracketed
codes such as `[KEY-DID-NOT-EXIST]`), shows each bill at `/{BillCode}` with the dev sandbox's
three test banks (SBI Bank A pays, B fails, C stays pending and settles later), posts the
form-encoded callback with the md5 `hash`, then redirects the browser to billReturnUrl.
Test control lives under `/__sim/`. State is in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import os
import secrets
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from starlette.responses import Response as StarletteResponse
from starlette.routing import Route

from payhub.clock import MALAYSIA, from_local
from payhub.gateways.base import SandboxProfile
from payhub.gateways.simkit import (
    Fault,
    Notifier,
    OutboundCall,
    RetryPolicy,
    SimulatorOptions,
    env_float,
    env_int,
    page,
)
from payhub.gateways.toyyibpay import signing, wire
from payhub.money import Money

ENV_PREFIX: Final = "PAYHUB_SANDBOX_TOYYIBPAY_"
DEFAULT_USER_SECRET_KEY: Final = "ph5bx7y1-0000-4toy-yibp-localsandbox"
DEFAULT_CATEGORY_CODE: Final = "phsbx001"
DEFAULT_PORT: Final = 8104
DEFAULT_BANK_C_DELAY: Final = 30.0
GATEWAY: Final = "ToyyibPay"

BANKS: Final[dict[str, tuple[str, str, str]]] = {
    # bank: (display name, callback status, reason)
    "A": ("SBI Bank A", "1", "Approved"),
    "B": ("SBI Bank B", "3", "Insufficient Fund"),
    "C": ("SBI Bank C", "2", "Pending for approval"),
}
OUTCOME_TO_BANK: Final = {"success": "A", "fail": "B", "failed": "B", "pending": "C"}


def sandbox_profile() -> SandboxProfile:
    """The simulator's test account: env PAYHUB_SANDBOX_TOYYIBPAY_* or fixed defaults."""
    return SandboxProfile(
        credentials={
            "user_secret_key": os.environ.get(f"{ENV_PREFIX}USER_SECRET_KEY")
            or DEFAULT_USER_SECRET_KEY
        },
        settings={
            "category_code": os.environ.get(f"{ENV_PREFIX}CATEGORY_CODE") or DEFAULT_CATEGORY_CODE
        },
        default_port=DEFAULT_PORT,
    )


# --------------------------------------------------------------------------- state


@dataclass(slots=True)
class Transaction:
    invoice_no: str
    status: str  # billpaymentStatus: 1 paid, 2 pending, 3 failed
    reason: str
    amount: Money
    bank: str
    at: datetime  # aware UTC

    def as_row(self, bill: Bill) -> dict[str, Any]:
        """One getBillTransactions row: every value a string, ringgit, Malaysia time."""
        return {
            "billName": bill.name,
            "billDescription": bill.description,
            "billTo": bill.bill_to,
            "billEmail": bill.email,
            "billPhone": bill.phone,
            "billStatus": "1" if bill.active else "0",
            "billpaymentStatus": self.status,
            "billpaymentChannel": "FPX B2C" if bill.channel != "1" else "Credit Card",
            "billpaymentAmount": wire.to_ringgit_text(self.amount),
            "billpaymentInvoiceNo": self.invoice_no,
            "billSplitPayment": None,
            "billSplitPaymentArgs": None,
            "billpaymentSettlement": "Pending Settlement",
            "billpaymentSettlementDate": "0000-00-00 00:00:00",
            "SettlementReferenceNo": "",
            "billPaymentDate": wire.format_malaysia_time(self.at),
            "billExternalReferenceNo": bill.external_ref or None,
            "transactionCharge": "1.00",
            "chargeOn": "Amount",
        }


@dataclass(slots=True)
class Bill:
    code: str
    category: str
    name: str
    description: str
    amount: Money
    return_url: str
    callback_url: str
    external_ref: str
    bill_to: str
    email: str
    phone: str
    channel: str
    payor_info: str
    expires_at: datetime | None
    created_at: datetime
    active: bool = True
    transactions: list[Transaction] = field(default_factory=list)

    def refusal(self, now: datetime) -> str | None:
        """Why the bill page refuses a payment now, or None when it takes one."""
        if not self.active:
            return "This bill is inactive."
        if any(t.status == "1" for t in self.transactions):
            return "This bill has already been paid."
        if any(t.status == "2" for t in self.transactions):
            return "A payment for this bill is pending at the bank."
        if self.expires_at is not None and now >= self.expires_at:
            return "This bill has expired."
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "bill_code": self.code,
            "category_code": self.category,
            "name": self.name,
            "description": self.description,
            "amount_sen": self.amount.minor,
            "external_reference": self.external_ref,
            "callback_url": self.callback_url,
            "return_url": self.return_url,
            "payment_channel": self.channel,
            "active": self.active,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "transactions": [t.as_row(self) for t in self.transactions],
        }


class Refused(Exception):
    """The bill cannot take a payment now."""


@dataclass(slots=True)
class SimulatorConfig:
    callback_amount_unit: str = "ringgit"  # ringgit "10.50" or sen "1050"
    bank_c_delay: float = DEFAULT_BANK_C_DELAY
    strict_amount: bool = False  # True: billAmount must be integer text ("10000.0" refused)

    def as_dict(self) -> dict[str, Any]:
        return {
            "callback_amount_unit": self.callback_amount_unit,
            "bank_c_delay": self.bank_c_delay,
            "strict_amount": self.strict_amount,
        }


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _initial_config(options: SimulatorOptions) -> SimulatorConfig:
    def setting(name: str) -> str | None:
        return options.extra.get(name.lower()) or os.environ.get(f"{ENV_PREFIX}{name}")

    unit = setting("CALLBACK_AMOUNT_UNIT") or "ringgit"
    if unit not in {"ringgit", "sen"}:
        raise ValueError(f"{ENV_PREFIX}CALLBACK_AMOUNT_UNIT must be ringgit or sen")
    delay = setting("BANK_C_DELAY")
    return SimulatorConfig(
        callback_amount_unit=unit,
        bank_c_delay=float(delay) if delay else DEFAULT_BANK_C_DELAY,
        strict_amount=_flag(setting("STRICT_AMOUNT")),
    )


def _random_code(length: int = 8) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


class ToyyibPaySandbox:
    """The simulator's state and behaviour, independent of HTTP routing."""

    def __init__(self, options: SimulatorOptions) -> None:
        self.options = options
        self.secret_key = options.profile.credentials.get("user_secret_key") or (
            DEFAULT_USER_SECRET_KEY
        )
        self.seed_category = options.profile.settings.get("category_code", "")
        self.config = _initial_config(options)
        policy = options.retry or RetryPolicy(
            max_attempts=env_int(f"{ENV_PREFIX}CALLBACK_ATTEMPTS", 1),
            interval_seconds=env_float(f"{ENV_PREFIX}CALLBACK_INTERVAL", 60.0),
            backoff=1.0,
            timeout_seconds=10.0,
        )
        self.notifier = Notifier(
            policy,
            is_acknowledged=lambda response: 200 <= response.status_code < 300,
            transport=options.transport,
            delay_seconds=env_float(f"{ENV_PREFIX}FAULT_DELAY", 2.0),
        )
        self.categories: dict[str, dict[str, str]] = {}
        self.bills: dict[str, Bill] = {}
        self.clock_offset = timedelta()
        self._timers: set[asyncio.Task[None]] = set()
        self._seed()

    def _seed(self) -> None:
        self.categories.clear()
        if self.seed_category:
            self.categories[self.seed_category] = {
                "name": "payhub sandbox",
                "description": "Seeded by the payhub sandbox",
            }

    def now(self) -> datetime:
        return datetime.now(UTC) + self.clock_offset

    def reset(self) -> None:
        self.cancel_timers()
        self.notifier.reset()
        self.bills.clear()
        self._seed()
        self.clock_offset = timedelta()
        self.config = _initial_config(self.options)

    def cancel_timers(self) -> None:
        for task in list(self._timers):
            task.cancel()
        self._timers.clear()

    # ------------------------------------------------------------------ payments

    def pay(self, bill: Bill, bank: str) -> Transaction:
        if bank not in BANKS:
            raise ValueError(f"unknown bank {bank!r}; use A, B or C")
        refusal = bill.refusal(self.now())
        if refusal:
            raise Refused(refusal)
        _, status, reason = BANKS[bank]
        local_day = wire.format_malaysia_time(self.now(), "%y%m%d")
        invoice = "TP" + local_day + "".join(secrets.choice(string.digits) for _ in range(10))
        txn = Transaction(
            invoice_no=invoice,
            status=status,
            reason=reason,
            amount=bill.amount,
            bank=bank,
            at=self.now(),
        )
        bill.transactions.append(txn)
        self.send_callback(bill, txn)
        if status == "2":
            task = asyncio.get_running_loop().create_task(self._settle_later(bill, txn))
            self._timers.add(task)
            task.add_done_callback(self._timers.discard)
        return txn

    async def _settle_later(self, bill: Bill, txn: Transaction) -> None:
        await asyncio.sleep(self.config.bank_c_delay)
        self.settle(bill, txn)

    def settle(self, bill: Bill, txn: Transaction, status: str = "1") -> None:
        """A pending (bank C) transaction reaches its final status; callback again."""
        if txn.status != "2":
            return
        txn.status = status
        txn.reason = "Approved" if status == "1" else "Transaction failed"
        txn.at = self.now()
        self.send_callback(bill, txn)

    def send_callback(self, bill: Bill, txn: Transaction) -> None:
        if not bill.callback_url:
            return
        fault = self.notifier.take_fault()
        amount = txn.amount
        status = txn.status
        signed_hash = signing.callback_hash(
            self.secret_key, status, bill.external_ref, txn.invoice_no
        )
        if fault is Fault.WRONG_AMOUNT:
            # The hash does not cover the amount, so this forgery still verifies.
            amount = Money(max(1, amount.minor // 2), amount.currency)
        if fault is Fault.TAMPER:
            status = "3" if status == "1" else "1"
        amount_text = (
            wire.to_sen_text(amount)
            if self.config.callback_amount_unit == "sen"
            else wire.to_ringgit_text(amount)
        )
        fields = {
            "refno": txn.invoice_no,
            "status": status,
            "reason": txn.reason,
            "billcode": bill.code,
            "order_id": bill.external_ref,
            "amount": amount_text,
            "transaction_time": wire.format_malaysia_time(txn.at, wire.TRANSACTION_TIME_FORMAT),
            "hash": signed_hash,
        }
        self.notifier.send(
            OutboundCall(
                method="POST",
                url=bill.callback_url,
                content=urlencode(fields).encode(),
                headers={"content-type": "application/x-www-form-urlencoded"},
                label=f"{bill.code}:{txn.invoice_no}:status={status}",
            ),
            fault,
        )

    def return_redirect(self, bill: Bill, txn: Transaction) -> str | None:
        if not bill.return_url:
            return None
        query = urlencode(
            {
                "status_id": txn.status,
                "billcode": bill.code,
                "order_id": bill.external_ref,
                "msg": "ok" if txn.status == "1" else txn.reason,
                "transaction_id": txn.invoice_no,
            }
        )
        separator = "&" if "?" in bill.return_url else "?"
        return f"{bill.return_url}{separator}{query}"

    # ------------------------------------------------------------------ createBill rules

    def create_bill(self, form: dict[str, str]) -> Bill | str:
        """A new bill, or the `msg` of the error ToyyibPay would answer."""
        now = self.now()
        name = form.get("billName", "")
        description = form.get("billDescription", "")
        if not name:
            return "Bill name is required"
        if len(name) > wire.BILL_NAME_MAX or not wire.ALLOWED_TEXT.match(name):
            return "Bill name must be at most 30 alphanumeric characters, space or underscore"
        if not description:
            return "Bill description is required"
        if len(description) > wire.BILL_DESCRIPTION_MAX or not wire.ALLOWED_TEXT.match(description):
            return (
                "Bill description must be at most 100 alphanumeric characters, space or underscore"
            )
        price_setting = form.get("billPriceSetting", "")
        payor_info = form.get("billPayorInfo", "")
        if price_setting not in {"0", "1"}:
            return "billPriceSetting must be 0 or 1"
        if payor_info not in {"0", "1"}:
            return "billPayorInfo must be 0 or 1"
        amount_text = form.get("billAmount", "").strip()
        if price_setting == "1":
            sen = (
                int(amount_text)
                if amount_text.isdigit()
                else (
                    None if self.config.strict_amount else wire.parse_lenient_integer(amount_text)
                )
            )
            if sen is None or sen <= 0:
                return "billAmount must be a positive amount in cents"
        else:
            return "This sandbox only supports fixed-amount bills (billPriceSetting=1)"
        bill_to = form.get("billTo", "")
        email = form.get("billEmail", "")
        phone = form.get("billPhone", "")
        if payor_info == "1" and not (bill_to and email and phone):
            return "billTo, billEmail and billPhone are required when billPayorInfo is 1"
        channel = form.get("billPaymentChannel", "") or "0"
        if channel not in {"0", "1", "2"}:
            return "billPaymentChannel must be 0, 1 or 2"
        expires_at: datetime | None = None
        expiry_text = form.get("billExpiryDate", "").strip()
        days_text = form.get("billExpiryDays", "").strip()
        if expiry_text:
            try:
                naive = datetime.strptime(expiry_text, wire.EXPIRY_FORMAT)  # Malaysia wall time
            except ValueError:
                return "billExpiryDate must be dd-mm-YYYY HH:MM:SS"
            expires_at = from_local(naive, MALAYSIA)
            if expires_at <= now:
                return "billExpiryDate must be in the future"
        elif days_text:
            if not days_text.isdigit() or not 1 <= int(days_text) <= 100:
                return "billExpiryDays must be between 1 and 100"
            expires_at = now + timedelta(days=int(days_text))
        code = _random_code()
        while code in self.bills:
            code = _random_code()
        bill = Bill(
            code=code,
            category=form.get("categoryCode", ""),
            name=name,
            description=description,
            amount=Money(sen, "MYR"),
            return_url=form.get("billReturnUrl", ""),
            callback_url=form.get("billCallbackUrl", ""),
            external_ref=form.get("billExternalReferenceNo", ""),
            bill_to=bill_to,
            email=email,
            phone=phone,
            channel=channel,
            payor_info=payor_info,
            expires_at=expires_at,
            created_at=now,
        )
        self.bills[code] = bill
        return bill


# --------------------------------------------------------------------------- HTTP


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _json(data: Any, status_code: int = 200) -> StarletteResponse:
    # ToyyibPay answers compact JSON, HTTP 200 even for errors.
    return StarletteResponse(
        json.dumps(data, separators=(",", ":")),
        status_code=status_code,
        media_type="application/json",
    )


def _bracketed(code: str) -> PlainTextResponse:
    return PlainTextResponse(f"[{code}]")


def _error(msg: str) -> StarletteResponse:
    return _json({"status": "error", "msg": msg})


def _bill_page(sandbox: ToyyibPaySandbox, bill: Bill, notice: str = "") -> str:
    amount = html.escape(bill.amount.display())
    rows = [
        ("Bill", bill.name),
        ("Description", bill.description),
        ("Bill code", bill.code),
        ("Reference", bill.external_ref or "—"),
    ]
    if bill.expires_at:
        rows.append(("Expires", wire.format_malaysia_time(bill.expires_at) + " (MYT)"))
    details = "".join(
        f"<dt>{html.escape(label)}</dt><dd>{html.escape(value)}</dd>" for label, value in rows
    )
    refusal = bill.refusal(sandbox.now())
    if notice:
        action = f'<p role="status">{html.escape(notice)}</p>'
    elif refusal:
        action = f'<p role="alert"><strong>{html.escape(refusal)}</strong></p>'
    else:
        buttons = "".join(
            f'<button type="submit" name="bank" value="{key}"'
            f"{' class=primary' if key == 'A' else ''}>"
            f"Pay with {html.escape(label)} ({html.escape(hint)})</button>"
            for key, (label, _, _), hint in (
                ("A", BANKS["A"], "success"),
                ("B", BANKS["B"], "failure"),
                ("C", BANKS["C"], "pending, then success"),
            )
        )
        action = (
            "<p>Choose a test bank (FPX sandbox):</p>"
            f'<form method="post" action="/{html.escape(bill.code)}/pay">{buttons}</form>'
        )
    body = f'<div class="card"><div class="amount">{amount}</div><dl>{details}</dl>{action}</div>'
    return page(GATEWAY, f"Pay bill {bill.code}", body)


def create_simulator(options: SimulatorOptions) -> Starlette:
    """The ASGI app of the ToyyibPay sandbox."""
    sandbox = ToyyibPaySandbox(options)

    def key_ok(value: str | None) -> bool:
        return bool(value) and secrets.compare_digest(
            (value or "").encode(), sandbox.secret_key.encode()
        )

    # ------------------------------------------------------------------ API

    async def create_category(request: Request) -> StarletteResponse:
        form = await _form(request)
        if not key_ok(form.get("userSecretKey")):
            return _bracketed("KEY-DID-NOT-EXIST")
        name, description = form.get("catname", ""), form.get("catdescription", "")
        if not name or not description:
            return _error("catname and catdescription are required")
        code = _random_code()
        sandbox.categories[code] = {"name": name, "description": description}
        return _json([{"CategoryCode": code}])

    async def get_category_details(request: Request) -> StarletteResponse:
        form = await _form(request)
        if not key_ok(form.get("userSecretKey")):
            return _bracketed("KEY-DID-NOT-EXIST")
        category = sandbox.categories.get(form.get("categoryCode", ""))
        if category is None:
            return _bracketed("CATEGORY-DOES-NOT-EXIST")
        return _json(
            [
                {
                    "categoryName": category["name"],
                    "categoryDescription": category["description"],
                    "categoryStatus": "1",
                }
            ]
        )

    async def create_bill(request: Request) -> StarletteResponse:
        form = await _form(request)
        if not key_ok(form.get("userSecretKey")):
            return _bracketed("KEY-DID-NOT-EXIST")
        if form.get("categoryCode", "") not in sandbox.categories:
            return _bracketed("CATEGORY-DOES-NOT-EXIST")
        result = sandbox.create_bill(form)
        if isinstance(result, str):
            return _error(result)
        return _json([{"BillCode": result.code}])

    async def get_bill_transactions(request: Request) -> StarletteResponse:
        form = await _form(request)
        bill = sandbox.bills.get(form.get("billCode", ""))
        if bill is None:
            return _json([])
        wanted = form.get("billpaymentStatus", "")
        rows = [t.as_row(bill) for t in bill.transactions if not wanted or t.status == wanted]
        return _json(rows)

    async def inactive_bill(request: Request) -> StarletteResponse:
        form = await _form(request)
        if not key_ok(form.get("secretKey")):
            return _bracketed("KEY-DID-NOT-EXIST")
        bill = sandbox.bills.get(form.get("billCode", ""))
        if bill is None:
            return _json({"status": "failed", "result": "Bill not found"})
        if any(t.status == "2" for t in bill.transactions):
            return _json({"status": "failed", "result": "Bill has pending transaction process"})
        if not bill.active:
            return _json({"status": "failed", "result": "Bill is inactive"})
        bill.active = False
        return _json({"status": "success", "result": "Bill status changed to inactive"})

    async def check_duitnow(request: Request) -> StarletteResponse:
        form = await _form(request)
        if not key_ok(form.get("userSecretKey")):
            return _json({"status": "error", "message": "Invalid userSecretKey"})
        return _json({"status": "success", "duitnowqr_activated": False})

    async def get_banks(request: Request) -> StarletteResponse:
        return _json(
            [{"CODE": f"SBI0{i}", "NAME": label} for i, (label, _, _) in enumerate(BANKS.values())]
        )

    # ------------------------------------------------------------------ pages

    async def bill_page(request: Request) -> StarletteResponse:
        bill = sandbox.bills.get(request.path_params["bill_code"])
        if bill is None:
            return HTMLResponse(
                page(GATEWAY, "Bill not found", "<p>There is no bill with this code.</p>"),
                status_code=404,
            )
        return HTMLResponse(_bill_page(sandbox, bill))

    async def bill_pay(request: Request) -> StarletteResponse:
        bill = sandbox.bills.get(request.path_params["bill_code"])
        if bill is None:
            return HTMLResponse(
                page(GATEWAY, "Bill not found", "<p>There is no bill with this code.</p>"),
                status_code=404,
            )
        form = await _form(request)
        try:
            txn = sandbox.pay(bill, form.get("bank", "").upper())
        except Refused as exc:
            return HTMLResponse(_bill_page(sandbox, bill, str(exc)), status_code=409)
        except ValueError as exc:
            return HTMLResponse(_bill_page(sandbox, bill, str(exc)), status_code=400)
        target = sandbox.return_redirect(bill, txn)
        if target is None:
            return HTMLResponse(_bill_page(sandbox, bill, f"Payment status {txn.status}."))
        return RedirectResponse(target, status_code=302)

    # ------------------------------------------------------------------ /__sim/

    async def sim_body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            return {}
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data

    async def sim_faults(request: Request) -> StarletteResponse:
        if request.method == "GET":
            return JSONResponse({"pending_faults": sandbox.notifier.pending_faults()})
        try:
            data = await sim_body(request)
            fault = Fault(str(data.get("fault", "")))
            count = int(data.get("count", 1))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        sandbox.notifier.inject(fault, count)
        return JSONResponse({"pending_faults": sandbox.notifier.pending_faults()})

    async def sim_deliveries(request: Request) -> StarletteResponse:
        return JSONResponse({"deliveries": [d.as_dict() for d in sandbox.notifier.deliveries]})

    async def sim_flush(request: Request) -> StarletteResponse:
        await sandbox.notifier.wait_idle()
        return JSONResponse({"ok": True, "deliveries": len(sandbox.notifier.deliveries)})

    async def sim_reset(request: Request) -> StarletteResponse:
        sandbox.reset()
        return JSONResponse({"ok": True})

    async def sim_config(request: Request) -> StarletteResponse:
        if request.method == "POST":
            try:
                data = await sim_body(request)
                if "callback_amount_unit" in data:
                    unit = str(data["callback_amount_unit"])
                    if unit not in {"ringgit", "sen"}:
                        raise ValueError("callback_amount_unit must be ringgit or sen")
                    sandbox.config.callback_amount_unit = unit
                if "bank_c_delay" in data:
                    sandbox.config.bank_c_delay = float(data["bank_c_delay"])
                if "strict_amount" in data:
                    sandbox.config.strict_amount = bool(data["strict_amount"])
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(sandbox.config.as_dict())

    async def sim_clock(request: Request) -> StarletteResponse:
        if request.method == "POST":
            try:
                data = await sim_body(request)
                sandbox.clock_offset += timedelta(seconds=float(data.get("advance_seconds", 0)))
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"now": sandbox.now().isoformat()})

    def sim_bill(request: Request) -> Bill | None:
        return sandbox.bills.get(request.path_params["bill_code"])

    async def sim_pay(request: Request) -> StarletteResponse:
        bill = sim_bill(request)
        if bill is None:
            return JSONResponse({"error": "no such bill"}, status_code=404)
        try:
            data = await sim_body(request)
            bank = str(data.get("bank") or OUTCOME_TO_BANK.get(str(data.get("outcome")), ""))
            txn = sandbox.pay(bill, bank.upper())
        except Refused as exc:
            return JSONResponse({"error": str(exc)}, status_code=409)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(
            {
                "bill_code": bill.code,
                "transaction": txn.as_row(bill),
                "return_url": sandbox.return_redirect(bill, txn),
            }
        )

    async def sim_settle(request: Request) -> StarletteResponse:
        bill = sim_bill(request)
        if bill is None:
            return JSONResponse({"error": "no such bill"}, status_code=404)
        try:
            data = await sim_body(request)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        status = "3" if data.get("outcome") in {"fail", "failed"} else "1"
        pending = [t for t in bill.transactions if t.status == "2"]
        for txn in pending:
            sandbox.settle(bill, txn, status)
        return JSONResponse({"settled": len(pending), "bill": bill.as_dict()})

    async def sim_bill_state(request: Request) -> StarletteResponse:
        bill = sim_bill(request)
        if bill is None:
            return JSONResponse({"error": "no such bill"}, status_code=404)
        return JSONResponse(bill.as_dict())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        sandbox.cancel_timers()
        await sandbox.notifier.aclose()

    api = wire.API_PREFIX
    routes = [
        Route(f"{api}createCategory", create_category, methods=["POST"]),
        Route(f"{api}getCategoryDetails", get_category_details, methods=["POST"]),
        Route(f"{api}createBill", create_bill, methods=["POST"]),
        Route(f"{api}getBillTransactions", get_bill_transactions, methods=["POST"]),
        Route(f"{api}inactiveBill", inactive_bill, methods=["POST"]),
        Route(f"{api}checkDuitNowQRStatus", check_duitnow, methods=["POST"]),
        Route(f"{api}getBankFPX", get_banks, methods=["GET"]),
        Route(f"{api}getBank", get_banks, methods=["GET"]),
        Route("/__sim/faults", sim_faults, methods=["GET", "POST"]),
        Route("/__sim/deliveries", sim_deliveries, methods=["GET"]),
        Route("/__sim/flush", sim_flush, methods=["POST"]),
        Route("/__sim/reset", sim_reset, methods=["POST"]),
        Route("/__sim/config", sim_config, methods=["GET", "POST"]),
        Route("/__sim/clock", sim_clock, methods=["GET", "POST"]),
        Route("/__sim/pay/{bill_code}", sim_pay, methods=["POST"]),
        Route("/__sim/settle/{bill_code}", sim_settle, methods=["POST"]),
        Route("/__sim/bills/{bill_code}", sim_bill_state, methods=["GET"]),
        Route("/{bill_code:str}/pay", bill_pay, methods=["POST"]),
        Route("/{bill_code:str}", bill_page, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = sandbox
    return app

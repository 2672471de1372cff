"""State and behaviour of payhub's local ToyyibPay sandbox, independent of HTTP routing.

`ToyyibPaySandbox` holds the categories and bills, takes a payment through one of the dev
sandbox's three test banks (A pays, B fails, C stays pending and settles later), and sends
the form-encoded callback with its md5 `hash` through the shared `simkit.Notifier`. The
routes are in `simulator.py`, the pages in `sim_pages.py`.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode

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
)
from payhub.gateways.toyyibpay import signing, wire
from payhub.money import Money

ENV_PREFIX: Final = "PAYHUB_SANDBOX_TOYYIBPAY_"
DEFAULT_USER_SECRET_KEY: Final = "ph5bx7y1-0000-4toy-yibp-localsandbox"
DEFAULT_CATEGORY_CODE: Final = "phsbx001"
DEFAULT_PORT: Final = 8104
DEFAULT_BANK_C_DELAY: Final = 30.0

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


def random_code(length: int = 8) -> str:
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
        code = random_code()
        while code in self.bills:
            code = random_code()
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

"""Credits: granted exactly once, in the transaction that makes the order paid; spent by
the merchant's debits; corrected by an operator's adjustments.

The unique constraint on credit entries (order, reason) makes a second grant for the same
order impossible even if code asked for one; balances change with an atomic UPDATE
(store.credits). A debit or an adjustment locks the account, and its conditional UPDATE
cannot take the balance below zero; a debit is unique per merchant reference, so a retried
one is answered, not charged again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payhub.errors import Conflict, InvalidRequest, NotFound
from payhub.money import MAX_CREDITS
from payhub.services.context import Hub
from payhub.store import credits, customers
from payhub.store.attempts import OrderRecord
from payhub.store.journal import add_audit, enqueue_event
from payhub.store.models import CreditEntry
from payhub.store.reads import CreditEntryView, entry_view
from payhub.store.tx import ConstraintViolation, Tx, retry_write_conflicts

GRANT_REASON = "order_paid"
REVERSAL_REASON = "order_refunded"


def open_credit_account(tx: Tx, merchant_id: str, customer_id: str, now: datetime) -> int:
    """Get or create the customer's credit account (created with the order, not at payment,
    so settling never races on account creation)."""
    return credits.open_credit_account(tx, merchant_id, customer_id, now)


def _post(tx: Tx, order: OrderRecord, reason: str, amount: int, now: datetime) -> int:
    assert order.customer_id is not None
    credits.post_credits(
        tx,
        merchant_id=order.merchant_id,
        customer_id=order.customer_id,
        order_id=order.id,
        reason=reason,
        amount=amount,
        now=now,
    )
    return amount


def grant_credits(tx: Tx, order: OrderRecord, now: datetime) -> int:
    """Grant the order's credits; returns how many were granted (0 if none are due)."""
    if order.credits_to_grant <= 0 or order.customer_id is None:
        return 0
    return _post(tx, order, GRANT_REASON, order.credits_to_grant, now)


def reverse_credits(tx: Tx, order: OrderRecord, now: datetime) -> int:
    """Take back an order's credits after a full refund (once)."""
    if order.credits_to_grant <= 0 or order.customer_id is None:
        return 0
    if credits.entry_exists(tx, order.id, REVERSAL_REASON):
        return 0
    if not credits.entry_exists(tx, order.id, GRANT_REASON):
        return 0
    return _post(tx, order, REVERSAL_REASON, -order.credits_to_grant, now)


# --------------------------------------------------------------------------- spending

DEBIT_REASON = "debit"
ADJUSTMENT_REASON = "adjustment"
MAX_REFERENCE = 200
MAX_NOTE = 500


class InsufficientCredits(Conflict):
    """A debit or an adjustment would take the balance below zero; nothing was written.
    The problem carries `balance` (now) and `requested`."""

    code = "insufficient-credits"
    public_message = "the customer's credit balance does not cover this"


class CreditReferenceReused(Conflict):
    """A debit reference already names a debit of another amount; nothing was written."""

    code = "reference-reused"
    public_message = "this reference names another debit"


@dataclass(frozen=True, slots=True)
class CreditMovement:
    """A debit or adjustment as recorded; `replayed` when a debit's reference named an
    earlier debit of the same amount, which is answered instead of charging again."""

    entry: CreditEntryView
    customer: str
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"customer": self.customer, **self.entry.as_dict()}


def debit_credits(
    hub: Hub,
    merchant_id: str,
    external_id: str,
    *,
    amount: int,
    reference: str,
    description: str | None = None,
    metadata: dict[str, Any] | None = None,
    actor: str,
    source_ip: str | None = None,
) -> CreditMovement:
    """Spend `amount` of the customer's credits, once per `reference`.

    The same reference with the same amount answers the first debit again (nothing is
    charged twice, with or without an Idempotency-Key); with another amount it is
    `CreditReferenceReused`. A balance short of `amount` is `InsufficientCredits`."""
    if not 1 <= amount <= MAX_CREDITS:
        raise InvalidRequest(f"amount is 1..{MAX_CREDITS} credits")
    if not reference or len(reference) > MAX_REFERENCE:
        raise InvalidRequest(f"reference is 1..{MAX_REFERENCE} characters")
    if description is not None and len(description) > MAX_NOTE:
        raise InvalidRequest(f"description is at most {MAX_NOTE} characters")
    return _once_more_on_constraint(
        lambda: _debit(
            hub,
            merchant_id,
            external_id,
            amount,
            reference,
            description,
            metadata,
            actor,
            source_ip,
        )
    )


def adjust_credits(
    hub: Hub,
    merchant_id: str,
    external_id: str,
    amount: int,
    reason: str,
    actor: str,
    *,
    source_ip: str | None = None,
) -> CreditMovement:
    """An operator's correction of the balance by a signed `amount`, with a `reason` that
    the ledger and the audit log keep. It cannot take the balance below zero."""
    if amount == 0 or abs(amount) > MAX_CREDITS:
        raise InvalidRequest(f"amount is a non-zero number of credits within ±{MAX_CREDITS}")
    reason = reason.strip()
    if not reason or len(reason) > MAX_NOTE:
        raise InvalidRequest(f"an adjustment needs a reason of 1..{MAX_NOTE} characters")
    return _once_more_on_constraint(
        lambda: _adjust(hub, merchant_id, external_id, amount, reason, actor, source_ip)
    )


def _once_more_on_constraint(write: Callable[[], CreditMovement]) -> CreditMovement:
    """Run `write`; when its transaction broke a unique constraint (two first requests
    with one reference, or two first adjustments opening one account, at once), run it
    again: it then finds what the other wrote."""
    try:
        return write()
    except ConstraintViolation:
        return write()


@retry_write_conflicts
def _debit(
    hub: Hub,
    merchant_id: str,
    external_id: str,
    amount: int,
    reference: str,
    description: str | None,
    metadata: dict[str, Any] | None,
    actor: str,
    source_ip: str | None,
) -> CreditMovement:
    now = hub.clock.now()
    with hub.db.write() as tx:
        customer_id = _customer_id(tx, merchant_id, external_id)
        account = credits.lock_credit_account(tx, merchant_id, customer_id)
        if account is None:  # never credited: nothing to spend
            raise _short(0, amount)
        earlier = credits.entry_by_reference(tx, merchant_id, account.id, reference)
        if earlier is not None:
            if earlier.reason == DEBIT_REASON and -earlier.amount == amount:
                return CreditMovement(entry_view(earlier), external_id, replayed=True)
            raise CreditReferenceReused(
                f"reference {reference} names a debit of {-earlier.amount} credits",
                reference=reference,
                amount=-earlier.amount,
            )
        balance = credits.move_balance_within_funds(tx, account.id, -amount, now)
        if balance is None:
            raise _short(account.balance, amount)
        entry = credits.add_entry(
            tx,
            merchant_id=merchant_id,
            account_id=account.id,
            reason=DEBIT_REASON,
            amount=-amount,
            balance_after=balance,
            reference=reference,
            description=description,
            metadata=metadata or {},
            actor=actor,
            now=now,
        )
        _journal(tx, entry, external_id, account.balance, actor, source_ip, "credits.debited")
    return CreditMovement(entry_view(entry), external_id)


@retry_write_conflicts
def _adjust(
    hub: Hub,
    merchant_id: str,
    external_id: str,
    amount: int,
    reason: str,
    actor: str,
    source_ip: str | None,
) -> CreditMovement:
    now = hub.clock.now()
    with hub.db.write() as tx:
        customer_id = _customer_id(tx, merchant_id, external_id)
        account = credits.lock_credit_account(tx, merchant_id, customer_id)
        if account is None:
            if amount < 0:
                raise _short(0, -amount)
            credits.open_credit_account(tx, merchant_id, customer_id, now)
            account = credits.lock_credit_account(tx, merchant_id, customer_id)
            assert account is not None
        balance = credits.move_balance_within_funds(tx, account.id, amount, now)
        if balance is None:
            raise _short(account.balance, -amount)
        entry = credits.add_entry(
            tx,
            merchant_id=merchant_id,
            account_id=account.id,
            reason=ADJUSTMENT_REASON,
            amount=amount,
            balance_after=balance,
            description=reason,
            actor=actor,
            now=now,
        )
        _journal(tx, entry, external_id, account.balance, actor, source_ip, "credits.adjusted")
    return CreditMovement(entry_view(entry), external_id)


def _customer_id(tx: Tx, merchant_id: str, external_id: str) -> str:
    customer = customers.customer_by_external_id(tx, merchant_id, external_id)
    if customer is None:
        raise NotFound(f"no customer {external_id}")
    return customer.id


def _short(balance: int, requested: int) -> InsufficientCredits:
    return InsufficientCredits(
        f"the balance is {balance} credits, {requested} were asked for",
        balance=balance,
        requested=requested,
    )


def _journal(
    tx: Tx,
    entry: CreditEntry,
    external_id: str,
    balance_before: int,
    actor: str,
    source_ip: str | None,
    event_type: str,
) -> None:
    """The audit entry and the merchant's event of a debit or adjustment."""
    view = entry_view(entry)
    add_audit(
        tx,
        merchant_id=entry.merchant_id,
        actor=actor,
        action=event_type,
        subject=f"credit_entry:{entry.id}",
        source_ip=source_ip,
        before={"balance": balance_before},
        after={
            "customer": external_id,
            "balance": entry.balance_after,
            "amount": entry.amount,
            "entry": entry.id,
            "reference": entry.reference,
            "description": entry.description,
        },
        now=entry.created_at,
    )
    enqueue_event(
        tx,
        merchant_id=entry.merchant_id,
        event_type=event_type,
        event_key=f"{event_type}:{entry.id}",
        payload={"customer": external_id, **view.as_dict()},
        now=entry.created_at,
    )

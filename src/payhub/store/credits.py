"""Credit accounts and their entries.

An account is opened with the order that will credit it, so settling never races on
creating one. A posting moves the balance with one atomic UPDATE and stages its entry
(store.staging); the unique constraint on credit_entries (order_id, reason) makes a second
grant, or a second reversal, of one order impossible.

Spending (a debit) and operator adjustments lock the account row first (`SELECT … FOR
UPDATE` on PostgreSQL; on SQLite the transaction's `BEGIN IMMEDIATE` already holds the
write lock), then move the balance with a conditional UPDATE that cannot take it below
zero, and write their entry at once (not staged: the caller answers with it). The unique
constraint on (merchant_id, account_id, reference) makes a second debit with one merchant
reference impossible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from payhub.store.direct import DirectStatement
from payhub.store.models import CreditAccount, CreditEntry
from payhub.store.staging import stage_write
from payhub.store.tables import table_of
from payhub.store.tx import Reader, Tx, session_of

__all__ = [
    "LockedAccount",
    "add_entry",
    "credit_account",
    "credit_entries",
    "entry_by_reference",
    "entry_exists",
    "lock_credit_account",
    "move_balance_within_funds",
    "open_credit_account",
    "post_credits",
]

_ACCOUNTS = table_of(CreditAccount)
# One statement moves the balance and finds the account (created with the order).
_POST_TO_CUSTOMER = DirectStatement(
    update(_ACCOUNTS)
    .where(
        _ACCOUNTS.c.merchant_id == bindparam("p_merchant"),
        _ACCOUNTS.c.customer_id == bindparam("p_customer"),
    )
    .values(balance=_ACCOUNTS.c.balance + bindparam("p_amount"), updated_at=bindparam("p_now"))
    .returning(_ACCOUNTS.c.id, _ACCOUNTS.c.balance)
)
_POST_TO_ACCOUNT = DirectStatement(
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.id == bindparam("p_account"))
    .values(balance=_ACCOUNTS.c.balance + bindparam("p_amount"), updated_at=bindparam("p_now"))
    .returning(_ACCOUNTS.c.balance)
)
_INSERT_ENTRY = DirectStatement(insert(table_of(CreditEntry)))


def open_credit_account(tx: Tx, merchant_id: str, customer_id: str, now: datetime) -> int:
    """The customer's credit account, opened now if it has none; returns its id."""
    session = tx._session
    account_id = session.scalar(
        select(CreditAccount.id).where(
            CreditAccount.merchant_id == merchant_id, CreditAccount.customer_id == customer_id
        )
    )
    if account_id is not None:
        return account_id
    account = CreditAccount(
        merchant_id=merchant_id, customer_id=customer_id, balance=0, updated_at=now
    )
    session.add(account)
    session.flush()
    return account.id


def post_credits(
    tx: Tx,
    *,
    merchant_id: str,
    customer_id: str,
    order_id: str,
    reason: str,
    amount: int,
    now: datetime,
) -> None:
    """Move the customer's balance by `amount` and stage the entry that says why."""
    session = tx._session
    posted = _POST_TO_CUSTOMER.run(
        session,
        {"p_merchant": merchant_id, "p_customer": customer_id, "p_amount": amount, "p_now": now},
    )
    if posted:
        account_id, balance_after = posted[0]
    else:
        account_id = open_credit_account(tx, merchant_id, customer_id, now)
        [(balance_after,)] = _POST_TO_ACCOUNT.run(
            session, {"p_account": account_id, "p_amount": amount, "p_now": now}
        )
    stage_write(
        session,
        _INSERT_ENTRY,
        dict(
            merchant_id=merchant_id,
            account_id=account_id,
            order_id=order_id,
            reason=reason,
            amount=amount,
            balance_after=balance_after,
            created_at=now,
        ),
    )


def entry_exists(reader: Reader, order_id: str, reason: str) -> bool:
    """Whether the order has a credit entry for `reason` (e.g. its grant)."""
    return (
        session_of(reader).scalar(
            select(CreditEntry.id).where(
                CreditEntry.order_id == order_id, CreditEntry.reason == reason
            )
        )
        is not None
    )


def credit_account(reader: Reader, merchant_id: str, customer_id: str) -> CreditAccount | None:
    """The customer's credit account, to read."""
    return session_of(reader).scalar(
        select(CreditAccount).where(
            CreditAccount.merchant_id == merchant_id, CreditAccount.customer_id == customer_id
        )
    )


def credit_entries(reader: Reader, account_id: int) -> list[CreditEntry]:
    """The account's entries, oldest first, to read."""
    return list(
        session_of(reader).scalars(
            select(CreditEntry).where(CreditEntry.account_id == account_id).order_by(CreditEntry.id)
        )
    )


@dataclass(frozen=True, slots=True)
class LockedAccount:
    """A credit account locked for this transaction, and its balance under the lock."""

    id: int
    balance: int


def lock_credit_account(tx: Tx, merchant_id: str, customer_id: str) -> LockedAccount | None:
    """Lock the customer's credit account until the commit; None if it has none. Every
    debit and adjustment of one account then runs one after another."""
    row = tx._session.execute(
        select(_ACCOUNTS.c.id, _ACCOUNTS.c.balance)
        .where(_ACCOUNTS.c.merchant_id == merchant_id, _ACCOUNTS.c.customer_id == customer_id)
        .with_for_update()
    ).one_or_none()
    return None if row is None else LockedAccount(id=row.id, balance=row.balance)


def move_balance_within_funds(tx: Tx, account_id: int, amount: int, now: datetime) -> int | None:
    """Add `amount` (negative to take) to the balance unless that would leave it below
    zero, in one statement; the new balance, or None when the funds do not cover it."""
    moved = tx._session.execute(
        update(_ACCOUNTS)
        .where(_ACCOUNTS.c.id == account_id, _ACCOUNTS.c.balance + amount >= 0)
        .values(balance=_ACCOUNTS.c.balance + amount, updated_at=now)
        .returning(_ACCOUNTS.c.balance)
    ).one_or_none()
    return None if moved is None else int(moved[0])


def entry_by_reference(
    tx: Tx, merchant_id: str, account_id: int, reference: str
) -> CreditEntry | None:
    """The account's entry made under the merchant's `reference` (a debit), if any."""
    return tx._session.scalar(
        select(CreditEntry).where(
            CreditEntry.merchant_id == merchant_id,
            CreditEntry.account_id == account_id,
            CreditEntry.reference == reference,
        )
    )


def add_entry(
    tx: Tx,
    *,
    merchant_id: str,
    account_id: int,
    reason: str,
    amount: int,
    balance_after: int,
    now: datetime,
    reference: str | None = None,
    description: str | None = None,
    metadata: dict[str, Any] | None = None,
    actor: str | None = None,
) -> CreditEntry:
    """Write an entry without an order (a debit or an adjustment) now, constraints
    checked: a reused reference raises `ConstraintViolation`."""
    entry = CreditEntry(
        merchant_id=merchant_id,
        account_id=account_id,
        order_id=None,
        reason=reason,
        amount=amount,
        balance_after=balance_after,
        reference=reference,
        description=description,
        metadata_json=metadata,
        actor=actor,
        created_at=now,
    )
    tx._session.add(entry)
    tx._session.flush()
    return entry

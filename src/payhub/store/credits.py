"""Credit accounts and their entries.

An account is opened with the order that will credit it, so settling never races on
creating one. A posting moves the balance with one atomic UPDATE and stages its entry
(store.staging); the unique constraint on credit_entries (order_id, reason) makes a second
grant, or a second reversal, of one order impossible.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, select, update

from payhub.store.direct import DirectStatement
from payhub.store.models import CreditAccount, CreditEntry
from payhub.store.staging import stage_write
from payhub.store.tables import table_of
from payhub.store.tx import Reader, Tx, session_of

__all__ = [
    "credit_account",
    "credit_entries",
    "entry_exists",
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
    .returning(_ACCOUNTS.c.id)
)
_POST_TO_ACCOUNT = DirectStatement(
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.id == bindparam("p_account"))
    .values(balance=_ACCOUNTS.c.balance + bindparam("p_amount"), updated_at=bindparam("p_now"))
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
        account_id = posted[0][0]
    else:
        account_id = open_credit_account(tx, merchant_id, customer_id, now)
        _POST_TO_ACCOUNT.run(session, {"p_account": account_id, "p_amount": amount, "p_now": now})
    stage_write(
        session,
        _INSERT_ENTRY,
        dict(
            merchant_id=merchant_id,
            account_id=account_id,
            order_id=order_id,
            reason=reason,
            amount=amount,
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

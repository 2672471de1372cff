"""Credits: granted exactly once, in the transaction that makes the order paid.

The unique constraint on credit_entries (order_id, reason) makes a second grant for the same
order impossible even if code asked for one; balances change with an atomic UPDATE.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from payhub.store.direct import DirectStatement
from payhub.store.models import CreditAccount, CreditEntry, Order
from payhub.store.staging import stage_write
from payhub.store.tables import execute_core, table_of


class CreditedOrder(Protocol):
    """The order fields a credit posting reads (an ORM `Order` or a `store.rows.OrderRow`)."""

    @property
    def id(self) -> str: ...
    @property
    def merchant_id(self) -> str: ...
    @property
    def customer_id(self) -> str | None: ...
    @property
    def credits_to_grant(self) -> int: ...


GRANT_REASON = "order_paid"
REVERSAL_REASON = "order_refunded"


def open_credit_account(session: Session, merchant_id: str, customer_id: str, now: datetime) -> int:
    """Get or create the customer's credit account (created with the order, not at payment,
    so settling never races on account creation)."""
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
_POST_TO_ACCOUNT = (
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.id == bindparam("p_account"))
    .values(balance=_ACCOUNTS.c.balance + bindparam("p_amount"), updated_at=bindparam("p_now"))
)
_INSERT_ENTRY = DirectStatement(insert(table_of(CreditEntry)))


def _post_entry(
    session: Session, order: CreditedOrder, reason: str, amount: int, now: datetime
) -> int:
    assert order.customer_id is not None
    posted = _POST_TO_CUSTOMER.run(
        session,
        {
            "p_merchant": order.merchant_id,
            "p_customer": order.customer_id,
            "p_amount": amount,
            "p_now": now,
        },
    )
    if posted:
        account_id = posted[0][0]
    else:
        account_id = open_credit_account(session, order.merchant_id, order.customer_id, now)
        execute_core(
            session, _POST_TO_ACCOUNT, {"p_account": account_id, "p_amount": amount, "p_now": now}
        )
    stage_write(
        session,
        _INSERT_ENTRY,
        dict(
            merchant_id=order.merchant_id,
            account_id=account_id,
            order_id=order.id,
            reason=reason,
            amount=amount,
            created_at=now,
        ),
    )
    return amount


def grant_credits(session: Session, order: CreditedOrder, now: datetime) -> int:
    """Grant the order's credits; returns how many were granted (0 if none are due)."""
    if order.credits_to_grant <= 0 or order.customer_id is None:
        return 0
    return _post_entry(session, order, GRANT_REASON, order.credits_to_grant, now)


def reverse_credits(session: Session, order: Order, now: datetime) -> int:
    """Take back an order's credits after a full refund (once)."""
    if order.credits_to_grant <= 0 or order.customer_id is None:
        return 0
    already = session.scalar(
        select(CreditEntry.id).where(
            CreditEntry.order_id == order.id, CreditEntry.reason == REVERSAL_REASON
        )
    )
    granted = session.scalar(
        select(CreditEntry.id).where(
            CreditEntry.order_id == order.id, CreditEntry.reason == GRANT_REASON
        )
    )
    if already is not None or granted is None:
        return 0
    return _post_entry(session, order, REVERSAL_REASON, -order.credits_to_grant, now)

"""Credits: granted exactly once, in the transaction that makes the order paid.

The unique constraint on credit entries (order, reason) makes a second grant for the same
order impossible even if code asked for one; balances change with an atomic UPDATE
(store.credits).
"""

from __future__ import annotations

from datetime import datetime

from payhub.store import credits
from payhub.store.attempts import OrderRecord
from payhub.store.tx import Tx

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

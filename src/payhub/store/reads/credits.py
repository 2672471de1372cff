"""Read model of customers' credit balances and their ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from payhub.clock import as_utc
from payhub.store.db import Database
from payhub.store.models import CreditAccount, CreditEntry, Customer
from payhub.store.reads.running import run_read


@dataclass(frozen=True, slots=True)
class CreditEntryView:
    """One movement of a balance: a grant for a paid order or its reversal (`order_id`
    set), a debit (`reference` set) or an operator's adjustment (`description` = its
    reason). `amount` is signed; `balance_after` is None on entries older than it."""

    id: int
    order_id: str | None
    reason: str  # order_paid | order_refunded | debit | adjustment
    amount: int
    balance_after: int | None
    reference: str | None
    description: str | None
    metadata: dict[str, Any] | None
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "order_id": self.order_id,
            "reason": self.reason,
            "amount": self.amount,
            "balance_after": self.balance_after,
            "reference": self.reference,
            "description": self.description,
            "metadata": self.metadata,
            "at": self.at.isoformat(),
        }


def entry_view(entry: CreditEntry) -> CreditEntryView:
    """The read model of one credit entry row."""
    return CreditEntryView(
        id=entry.id,
        order_id=entry.order_id,
        reason=entry.reason,
        amount=entry.amount,
        balance_after=entry.balance_after,
        reference=entry.reference,
        description=entry.description,
        metadata=entry.metadata_json,
        at=as_utc(entry.created_at),
    )


@dataclass(frozen=True, slots=True)
class CreditLedger:
    """A customer's balance and every entry behind it, oldest first."""

    customer: str  # the merchant's external id
    balance: int
    entries: tuple[CreditEntryView, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer": self.customer,
            "balance": self.balance,
            "entries": [e.as_dict() for e in self.entries],
        }


def _customer_id(session: Session, merchant_id: str, external_id: str) -> str | None:
    return session.scalar(
        select(Customer.id).where(
            Customer.merchant_id == merchant_id, Customer.external_id == external_id
        )
    )


def _credit_ledger(session: Session, merchant_id: str, external_id: str) -> CreditLedger | None:
    customer_id = _customer_id(session, merchant_id, external_id)
    if customer_id is None:
        return None
    account = session.scalar(
        select(CreditAccount).where(
            CreditAccount.merchant_id == merchant_id, CreditAccount.customer_id == customer_id
        )
    )
    entries: list[CreditEntry] = []
    if account is not None:
        entries = list(
            session.scalars(
                select(CreditEntry)
                .where(CreditEntry.account_id == account.id)
                .order_by(CreditEntry.id)
            )
        )
    return CreditLedger(
        customer=external_id,
        balance=account.balance if account else 0,
        entries=tuple(entry_view(e) for e in entries),
    )


def _credit_entries_page(
    session: Session, merchant_id: str, external_id: str, limit: int, before_id: int | None
) -> tuple[list[tuple[int, CreditEntryView]], bool] | None:
    customer_id = _customer_id(session, merchant_id, external_id)
    if customer_id is None:
        return None
    query = (
        select(CreditEntry)
        .join(CreditAccount, CreditAccount.id == CreditEntry.account_id)
        .where(CreditAccount.merchant_id == merchant_id, CreditAccount.customer_id == customer_id)
    )
    if before_id is not None:
        query = query.where(CreditEntry.id < before_id)
    rows = list(session.scalars(query.order_by(CreditEntry.id.desc()).limit(limit + 1)))
    page = [(e.id, entry_view(e)) for e in rows[:limit]]
    return page, len(rows) > limit


async def credit_entries_page(
    db: Database, merchant_id: str, external_id: str, *, limit: int, before_id: int | None
) -> tuple[list[tuple[int, CreditEntryView]], bool] | None:
    """A page of the customer's ledger entries, newest first (ids grow with time), each with
    its id (the cursor), and whether more follow; `None` for an unknown customer."""
    return await run_read(db, _credit_entries_page, merchant_id, external_id, limit, before_id)


async def credit_ledger(db: Database, merchant_id: str, external_id: str) -> CreditLedger | None:
    """The customer's credit ledger; `None` if the merchant has no such customer."""
    return await run_read(db, _credit_ledger, merchant_id, external_id)


def balance_of(session: Session, customer_id: str) -> int:
    """A customer's balance (0 without a credit account), by the customer's row id."""
    account = session.scalar(select(CreditAccount).where(CreditAccount.customer_id == customer_id))
    return account.balance if account else 0


def _customer_balance(session: Session, merchant_id: str, external_id: str) -> int:
    customer_id = _customer_id(session, merchant_id, external_id)
    return 0 if customer_id is None else balance_of(session, customer_id)


async def customer_balance(db: Database, merchant_id: str, external_id: str) -> int:
    """The customer's balance; 0 for a customer without credits or not known yet."""
    return await run_read(db, _customer_balance, merchant_id, external_id)

"""A customer's credit balance and ledger (store.reads.credits)."""

from __future__ import annotations

from pydantic import Field

from payhub.api.schemas.common import Cursor, Resource, Timestamp


class CreditEntry(Resource):
    order_id: str | None
    reason: str
    amount: int = Field(description="credits; negative for a reversal or a debit")
    at: Timestamp


class CreditLedger(Resource):
    customer: str = Field(description="the merchant's external id")
    balance: int
    entries: list[CreditEntry] = Field(description="oldest first")


class CreditEntryItem(Resource):
    """A ledger entry in the paged list, with its id (the cursor)."""

    id: str
    order_id: str | None
    reason: str
    amount: int
    at: Timestamp


class CreditEntryList(Resource):
    data: list[CreditEntryItem]
    has_more: bool
    next_cursor: Cursor

"""A customer's credit balance and ledger (store.reads.credits), and the debits and
adjustments that move it (services.ledger)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from payhub.api.schemas.common import Cursor, Resource, Timestamp


class CreditEntry(Resource):
    """One movement of the balance: a grant for a paid order or its reversal (`order_id`
    set), a debit (`reference` set) or an operator's adjustment (`description`: its
    reason). The same shape in the ledger and in the paged list; `id` is also the cursor
    (as a string in `starting_after` / `next_cursor`)."""

    id: int
    order_id: str | None
    reason: str = Field(description="order_paid, order_refunded, debit or adjustment")
    amount: int = Field(description="credits; negative for a reversal or a debit")
    balance_after: int | None = Field(
        description="the balance after this entry; null on entries written before payhub "
        "recorded it"
    )
    reference: str | None = Field(description="a debit's reference")
    description: str | None
    metadata: dict[str, Any] | None
    at: Timestamp


class CreditLedger(Resource):
    customer: str = Field(description="the merchant's external id")
    balance: int
    entries: list[CreditEntry] = Field(description="oldest first")


class CreditEntryList(Resource):
    data: list[CreditEntry]
    has_more: bool
    next_cursor: Cursor


class CreditMovement(Resource):
    """A debit or adjustment as recorded: the customer it moved, then the entry."""

    customer: str = Field(description="the merchant's external id")
    id: int
    order_id: str | None
    reason: str = Field(description="debit or adjustment")
    amount: int = Field(description="credits; negative for a debit")
    balance_after: int | None
    reference: str | None = Field(description="a debit's reference")
    description: str | None
    metadata: dict[str, Any] | None
    at: Timestamp

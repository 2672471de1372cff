"""Merchant API v1, customers: a customer's credit balance and ledger (customer tokens may
read their own); debits that spend credits and operator adjustments (merchant keys only)."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from payhub.api.pagination import PageDep
from payhub.api.problems import BY_ID, problem_responses
from payhub.api.schemas import customers as schemas
from payhub.api.schemas.common import list_of
from payhub.api.security import CallerDep, HubDep, MerchantDep, require_own_order
from payhub.domain.errors import InvalidRequest, NotFound
from payhub.money import MAX_CREDITS
from payhub.services import ledger
from payhub.store import reads

router = APIRouter()


@router.get(
    "/customers/{external_id}/credits",
    summary="A customer's credit balance and ledger",
    operation_id="getCustomerCredits",
    response_model=schemas.CreditLedger,
    responses=problem_responses(*BY_ID),
)
async def customer_credits(external_id: str, hub: HubDep, caller: CallerDep) -> dict[str, Any]:
    require_own_order(caller, external_id)
    ledger_view = await reads.credit_ledger(hub.db, caller.merchant_id, external_id)
    if ledger_view is None:
        raise NotFound(f"no customer {external_id}")
    return ledger_view.as_dict()


class DebitIn(BaseModel):
    amount: int = Field(ge=1, le=MAX_CREDITS, description="credits to spend")
    reference: str = Field(
        min_length=1,
        max_length=ledger.MAX_REFERENCE,
        description="your unique id for this spend: a retried debit with it is answered, "
        "never charged twice",
    )
    description: str | None = Field(default=None, max_length=ledger.MAX_NOTE)
    metadata: dict[str, Any] = Field(default_factory=dict)


class AdjustmentIn(BaseModel):
    amount: int = Field(
        ge=-MAX_CREDITS, le=MAX_CREDITS, description="signed: credits to add (or take, < 0)"
    )
    reason: str = Field(min_length=1, max_length=ledger.MAX_NOTE)


@router.post(
    "/customers/{external_id}/credits/debit",
    status_code=201,
    summary="Spend a customer's credits (once per reference; never below zero)",
    description=(
        "A repeat of a debit's `reference` with the same amount answers the first debit "
        "again, with status 200 instead of 201, and charges nothing; with another amount "
        "it is 409 `reference-reused`. A balance short of the amount is 409 "
        "`insufficient-credits` (with `balance` and `requested`)."
    ),
    operation_id="debitCredits",
    response_model=schemas.CreditMovement,
    responses=problem_responses(*BY_ID, 409),
)
async def debit_credits(
    external_id: str,
    body: DebitIn,
    request: Request,
    response: Response,
    hub: HubDep,
    caller: MerchantDep,
) -> dict[str, Any]:
    movement = await to_thread.run_sync(
        lambda: ledger.debit_credits(
            hub,
            caller.merchant_id,
            external_id,
            amount=body.amount,
            reference=body.reference,
            description=body.description,
            metadata=body.metadata,
            actor=caller.actor,
            source_ip=request.client.host if request.client else None,
        )
    )
    if movement.replayed:
        response.status_code = 200
    return movement.as_dict()


@router.post(
    "/customers/{external_id}/credits/adjustments",
    status_code=201,
    summary="Correct a customer's credit balance, with a reason (never below zero)",
    description="A correction taking the balance below zero is 409 `insufficient-credits`.",
    operation_id="adjustCredits",
    response_model=schemas.CreditMovement,
    responses=problem_responses(*BY_ID, 409),
)
async def adjust_credits(
    external_id: str,
    body: AdjustmentIn,
    request: Request,
    hub: HubDep,
    caller: MerchantDep,
) -> dict[str, Any]:
    movement = await to_thread.run_sync(
        lambda: ledger.adjust_credits(
            hub,
            caller.merchant_id,
            external_id,
            body.amount,
            body.reason,
            caller.actor,
            source_ip=request.client.host if request.client else None,
        )
    )
    return movement.as_dict()


@router.get(
    "/customers/{external_id}/credit-entries",
    summary="A customer's ledger entries, newest first (paged)",
    operation_id="listCreditEntries",
    response_model=schemas.CreditEntryList,
    responses=problem_responses(*BY_ID),
)
async def list_credit_entries(
    external_id: str, hub: HubDep, caller: CallerDep, page: PageDep
) -> dict[str, Any]:
    require_own_order(caller, external_id)
    before: int | None = None
    if page.starting_after is not None:
        if not page.starting_after.isdigit():
            raise InvalidRequest(f"unknown cursor {page.starting_after}")
        before = int(page.starting_after)
    found = await reads.credit_entries_page(
        hub.db, caller.merchant_id, external_id, limit=page.limit, before_id=before
    )
    if found is None:
        raise NotFound(f"no customer {external_id}")
    rows, has_more = found
    data = [entry.as_dict() for _, entry in rows]
    return list_of(data, has_more, str(data[-1]["id"]) if has_more else None)

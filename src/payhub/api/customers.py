"""Merchant API v1, customers: a customer's credit balance and ledger (customer tokens may
read their own)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from payhub.api.problems import BY_ID, problem_responses
from payhub.api.schemas import customers as schemas
from payhub.api.security import CallerDep, HubDep, require_own_order
from payhub.domain.errors import NotFound
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
    ledger = await reads.credit_ledger(hub.db, caller.merchant_id, external_id)
    if ledger is None:
        raise NotFound(f"no customer {external_id}")
    return ledger.as_dict()

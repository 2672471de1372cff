"""Merchant API v1, customers: a customer's credit balance and ledger (customer tokens may
read their own)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from payhub.api.pagination import PageDep
from payhub.api.problems import BY_ID, problem_responses
from payhub.api.schemas import customers as schemas
from payhub.api.schemas.common import list_of
from payhub.api.security import CallerDep, HubDep, require_own_order
from payhub.domain.errors import InvalidRequest, NotFound
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
    data = [{"id": str(entry_id), **entry.as_dict()} for entry_id, entry in rows]
    return list_of(data, has_more, data[-1]["id"] if has_more else None)

"""Merchant API v1, customers: a customer's credit balance and ledger (customer tokens may
read their own)."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter

from payhub.api.security import CallerDep, HubDep, require_own_order
from payhub.services import merchants

router = APIRouter()


@router.get("/customers/{external_id}/credits", summary="A customer's credit balance and ledger")
async def customer_credits(external_id: str, hub: HubDep, caller: CallerDep) -> dict[str, Any]:
    require_own_order(caller, external_id)

    def run() -> dict[str, Any]:
        with hub.db.session() as session:
            return merchants.credit_balance(session, caller.merchant_id, external_id)

    return await to_thread.run_sync(run)

"""Merchant API v1, refunds of a payment attempt: create (full, partial or manual), list."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter
from pydantic import BaseModel, Field

from payhub.api.pagination import PageDep, page_of
from payhub.api.payments import payment_or_404
from payhub.api.problems import BY_ID, GATEWAY_CALL, problem_responses
from payhub.api.schemas import refunds as schemas
from payhub.api.security import HubDep, MerchantDep
from payhub.money import MAX_AMOUNT_MINOR
from payhub.services import refunds

router = APIRouter()


class RefundIn(BaseModel):
    amount: int | None = Field(
        default=None, gt=0, le=MAX_AMOUNT_MINOR, description="minor units; omit = all left"
    )
    reason: str = Field(default="", max_length=500)
    manual: bool = Field(default=False, description="record money returned outside the gateway")


@router.post(
    "/payments/{payment_id}/refunds",
    status_code=201,
    summary="Refund (full or partial)",
    operation_id="createRefund",
    response_model=schemas.Refund,
    responses=problem_responses(*BY_ID, 409, *GATEWAY_CALL),
)
async def create_refund(
    payment_id: str, body: RefundIn, hub: HubDep, caller: MerchantDep
) -> dict[str, Any]:
    payment = await payment_or_404(hub, caller, payment_id)
    refund = await refunds.create_refund(
        hub,
        caller.merchant_id,
        payment_id,
        amount=body.amount,
        reason=body.reason,
        manual=body.manual,
        actor=caller.actor,
    )
    return {**refund, "livemode": payment.livemode}


@router.get(
    "/payments/{payment_id}/refunds",
    summary="List a payment's refunds, newest first",
    operation_id="listRefunds",
    response_model=schemas.RefundList,
    responses=problem_responses(*BY_ID),
)
async def list_refunds(
    payment_id: str, hub: HubDep, caller: MerchantDep, page: PageDep
) -> dict[str, Any]:
    payment = await payment_or_404(hub, caller, payment_id)
    data = await to_thread.run_sync(refunds.list_refunds, hub, caller.merchant_id, payment_id)
    data = [{**r, "livemode": payment.livemode} for r in data]
    newest_first = sorted(data, key=lambda r: (r["created_at"], r["id"]), reverse=True)
    return page_of(newest_first, page, lambda r: str(r["id"]))

"""Merchant API v1, refunds of a payment attempt: create (full, partial or manual), list."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter
from pydantic import BaseModel, Field

from payhub.api.payments import payment_or_404
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


@router.post("/payments/{payment_id}/refunds", status_code=201, summary="Refund (full or partial)")
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


@router.get("/payments/{payment_id}/refunds", summary="List a payment's refunds")
async def list_refunds(payment_id: str, hub: HubDep, caller: MerchantDep) -> dict[str, Any]:
    payment = await payment_or_404(hub, caller, payment_id)
    data = await to_thread.run_sync(refunds.list_refunds, hub, caller.merchant_id, payment_id)
    return {"data": [{**r, "livemode": payment.livemode} for r in data]}

"""Merchant API v1, the review queue: payments where money moved but nothing settled
(amount mismatch, paid after expiry, a second paid attempt), and accepting or rejecting one."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter
from pydantic import BaseModel, Field

from payhub.api.pagination import PageDep, page_of
from payhub.api.payments import payment_or_404
from payhub.api.problems import BY_ID, problem_responses
from payhub.api.schemas import orders as schemas
from payhub.api.security import HubDep, MerchantDep
from payhub.services import review

router = APIRouter()


class AcceptIn(BaseModel):
    note: str = Field(min_length=1, max_length=500, description="why the money is accepted")


class RejectIn(BaseModel):
    note: str = Field(min_length=1, max_length=500, description="why the money goes back")
    manual: bool = Field(
        default=False,
        description="the money was given back outside the gateway (required for a gateway "
        "without a refund API); recorded, not sent",
    )


@router.get(
    "/review-queue",
    summary="Payments in review (money moved, nothing settled), newest first",
    operation_id="listReviewQueue",
    response_model=schemas.PaymentList,
)
async def review_queue(hub: HubDep, caller: MerchantDep, page: PageDep) -> dict[str, Any]:
    rows = await to_thread.run_sync(
        lambda: review.list_review_queue(hub, caller.merchant_id, livemode=caller.livemode)
    )
    newest_first = sorted(rows, key=lambda p: (p["created_at"], p["id"]), reverse=True)
    return page_of(newest_first, page, lambda p: str(p["id"]))


@router.post(
    "/payments/{payment_id}/accept",
    summary="Accept a payment in review: the order becomes paid (credits once); audited",
    operation_id="acceptPayment",
    response_model=schemas.Payment,
    responses=problem_responses(*BY_ID, 409),
)
async def accept_payment(
    payment_id: str, body: AcceptIn, hub: HubDep, caller: MerchantDep
) -> dict[str, Any]:
    await payment_or_404(hub, caller, payment_id)
    return await to_thread.run_sync(
        lambda: review.accept_review(
            hub, caller.merchant_id, payment_id, actor=caller.actor, note=body.note
        )
    )


@router.post(
    "/payments/{payment_id}/reject",
    summary="Reject a payment in review: it is refunded and never pays the order; an order "
    "waiting on it is cancelled (stock released once); audited",
    operation_id="rejectPayment",
    response_model=schemas.Payment,
    responses=problem_responses(*BY_ID, 409, 502, 504),
)
async def reject_payment(
    payment_id: str, body: RejectIn, hub: HubDep, caller: MerchantDep
) -> dict[str, Any]:
    await payment_or_404(hub, caller, payment_id)
    return await review.reject_review(
        hub,
        caller.merchant_id,
        payment_id,
        actor=caller.actor,
        note=body.note,
        manual=body.manual,
    )

"""Merchant API v1, payment attempts: start one at a gateway, record one taken outside the
gateways, read one (optionally asking the gateway first)."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from payhub.api.orders import order_or_404
from payhub.api.problems import BY_ID, GATEWAY_CALL, problem_responses
from payhub.api.schemas import orders as schemas
from payhub.api.security import CallerDep, HubDep, MerchantDep, require_own_order
from payhub.domain.errors import NotFound
from payhub.money import MAX_AMOUNT_MINOR
from payhub.services import checkout, manual
from payhub.store import reads

router = APIRouter()


class PaymentIn(BaseModel):
    gateway: str = Field(description="a gateway name, as listed by GET /v1/gateways")
    options: dict[str, str] = Field(default_factory=dict)


class ManualPaymentIn(BaseModel):
    amount: int = Field(gt=0, le=MAX_AMOUNT_MINOR, description="minor units received")
    reference: str = Field(min_length=1, max_length=100, description="bank transfer ref, receipt")
    note: str = Field(default="", max_length=500)


@router.post(
    "/orders/{order_id}/payments",
    summary="Start (or return the live) payment attempt",
    operation_id="startPayment",
    response_model=schemas.StartedPayment,
    responses=problem_responses(*BY_ID, 409, *GATEWAY_CALL),
)
async def start_payment(
    order_id: str, body: PaymentIn, request: Request, hub: HubDep, caller: CallerDep
) -> dict[str, Any]:
    if caller.is_customer:
        order = await order_or_404(hub, caller.merchant_id, order_id)
        require_own_order(caller, order.customer_external_id)
    started = await checkout.start_payment(
        hub,
        caller.merchant_id,
        order_id,
        body.gateway,
        client_ip=request.client.host if request.client else "127.0.0.1",
        options=body.options,
        actor=caller.actor,
    )
    payment = await reads.payment_view(hub.db, started.payment_id)
    assert payment is not None
    return {**payment.as_dict(), "reused": started.reused}


@router.post(
    "/orders/{order_id}/manual-payments",
    status_code=201,
    summary="Record a payment taken outside the gateways (bank transfer, cash); audited",
    operation_id="recordManualPayment",
    response_model=schemas.Payment,
    responses=problem_responses(*BY_ID, 409),
)
async def record_manual_payment(
    order_id: str, body: ManualPaymentIn, request: Request, hub: HubDep, caller: MerchantDep
) -> dict[str, Any]:
    return await to_thread.run_sync(
        lambda: manual.record_manual_payment(
            hub,
            caller.merchant_id,
            order_id,
            amount=body.amount,
            reference=body.reference,
            note=body.note,
            actor=caller.actor,
            source_ip=request.client.host if request.client else None,
        )
    )


@router.get(
    "/payments/{payment_id}",
    summary="Read an attempt; refresh=true asks the gateway",
    operation_id="getPayment",
    response_model=schemas.Payment,
    responses=problem_responses(*BY_ID, *GATEWAY_CALL),
)
async def get_payment(
    payment_id: str, hub: HubDep, caller: MerchantDep, refresh: bool = False
) -> dict[str, Any]:
    if refresh:
        await checkout.refresh_payment(hub, payment_id, caller.merchant_id)
    payment = await reads.payment_view(hub.db, payment_id)
    if payment is None or payment.merchant_id != caller.merchant_id:
        raise NotFound(f"no payment {payment_id}")
    return payment.as_dict()

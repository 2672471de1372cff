"""Merchant API v1, payment attempts: start one at a gateway, record one taken outside the
gateways, read one (optionally asking the gateway first)."""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, field_validator

from payhub.api.orders import order_or_404
from payhub.api.problems import BY_ID, GATEWAY_CALL, problem_responses
from payhub.api.rate_limits import rate_limits_of
from payhub.api.schemas import orders as schemas
from payhub.api.security import Caller, CallerDep, HubDep, MerchantDep, require_own_order
from payhub.domain.errors import NotFound
from payhub.money import MAX_AMOUNT_MINOR
from payhub.services import checkout, manual
from payhub.services.context import Hub
from payhub.store import reads

router = APIRouter()


async def payment_or_404(hub: Hub, caller: Caller, payment_id: str) -> reads.PaymentView:
    """The caller's merchant's attempt on an order of the caller's mode, or 404."""
    payment = await reads.payment_view(hub.db, payment_id)
    if (
        payment is None
        or payment.merchant_id != caller.merchant_id
        or payment.livemode != caller.livemode
    ):
        raise NotFound(f"no payment {payment_id}")
    return payment


class PaymentIn(BaseModel):
    gateway: str = Field(
        default="auto",
        description='a gateway name, as listed by GET /v1/gateways, or "auto" (the default): '
        "the merchant's routing picks it and falls back when a create fails with nothing made",
    )
    options: dict[str, str] = Field(default_factory=dict)
    # The customer's context, passed on to the gateways that take it (docs/api.md).
    customer_ip: str | None = Field(
        default=None, max_length=45, description="the customer's IPv4 or IPv6 address"
    )
    locale: Literal["vi", "en", "ms"] | None = Field(
        default=None, description="the customer's language; default: the order's, then vi"
    )
    user_agent: str | None = Field(
        default=None, max_length=512, description="the customer's browser User-Agent"
    )

    @field_validator("customer_ip")
    @classmethod
    def _parse_ip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError("customer_ip must be an IPv4 or IPv6 address") from None


class ManualPaymentIn(BaseModel):
    amount: int = Field(gt=0, le=MAX_AMOUNT_MINOR, description="minor units received")
    reference: str = Field(min_length=1, max_length=100, description="bank transfer ref, receipt")
    note: str = Field(default="", max_length=500)


@router.post(
    "/orders/{order_id}/payments",
    summary="Start (or return the live) payment attempt",
    operation_id="startPayment",
    response_model=schemas.StartedPayment,
    # `routing` is in the body only when routing chose the account.
    response_model_exclude_unset=True,
    responses=problem_responses(*BY_ID, 409, *GATEWAY_CALL),
)
async def start_payment(
    order_id: str, body: PaymentIn, request: Request, hub: HubDep, caller: CallerDep
) -> dict[str, Any]:
    order = await order_or_404(hub, caller, order_id)
    require_own_order(caller, order.customer_external_id)
    started = await checkout.start_payment(
        hub,
        caller.merchant_id,
        order_id,
        body.gateway,
        client_ip=body.customer_ip
        or rate_limits_of(request).client_ip(request.scope)
        or "127.0.0.1",
        locale=body.locale,
        user_agent=body.user_agent,
        options=body.options,
        actor=caller.actor,
    )
    payment = await reads.payment_view(hub.db, started.payment_id)
    assert payment is not None
    answer: dict[str, Any] = {**payment.as_dict(), "reused": started.reused}
    if started.routing is not None:
        answer["routing"] = started.routing.as_dict()
    return answer


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
    await order_or_404(hub, caller, order_id)
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
    payment = await payment_or_404(hub, caller, payment_id)
    if refresh:
        await checkout.refresh_payment(hub, payment_id, caller.merchant_id)
        payment = await payment_or_404(hub, caller, payment_id)
    return payment.as_dict()

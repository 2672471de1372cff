"""The merchant API, v1. Amounts are integers in the currency's minor units."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from payhub.api.security import CallerDep, HubDep, MerchantDep, require_own_order
from payhub.domain.errors import NotFound
from payhub.gateways.registry import entry
from payhub.money import Money
from payhub.services import (
    checkout,
    hosted,
    manual,
    merchants,
    orders,
    refunds,
    review,
    webhooks,
)
from payhub.services.accounts import account_status
from payhub.store.models import Customer, GatewayAccount, Payment

router = APIRouter(prefix="/v1", tags=["merchant API v1"])


class CustomerIn(BaseModel):
    external_id: str = Field(min_length=1, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)


class ItemIn(BaseModel):
    sku: str | None = Field(default=None, description="a product SKU; stock is reserved")
    name: str | None = Field(default=None, description="ad-hoc item name (no SKU)")
    unit_price: int | None = Field(default=None, ge=0, description="minor units, ad-hoc items")
    quantity: int = Field(default=1, ge=1, le=10_000)
    credits: int | None = Field(default=None, ge=0)


class OrderIn(BaseModel):
    merchant_reference: str = Field(min_length=1, max_length=200)
    currency: Literal["VND", "MYR"]
    items: list[ItemIn] = Field(min_length=1, max_length=100)
    customer: CustomerIn | None = None
    credits: int | None = Field(default=None, ge=0, description="credits granted once paid")
    expires_in_seconds: int | None = Field(default=None, ge=60, le=30 * 86400)
    cancel_on_failure: bool = False
    return_url: str | None = Field(default=None, max_length=1000)
    description: str = Field(default="", max_length=500)
    metadata: dict[str, Any] = Field(default_factory=dict)


class PaymentIn(BaseModel):
    gateway: str = Field(description="a gateway name, as listed by GET /v1/gateways")
    options: dict[str, str] = Field(default_factory=dict)


class RefundIn(BaseModel):
    amount: int | None = Field(default=None, gt=0, description="minor units; omit = all left")
    reason: str = Field(default="", max_length=500)
    manual: bool = Field(default=False, description="record money returned outside the gateway")


class ManualPaymentIn(BaseModel):
    amount: int = Field(gt=0, description="minor units received")
    reference: str = Field(min_length=1, max_length=100, description="bank transfer ref, receipt")
    note: str = Field(default="", max_length=500)


class ProductIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    price: int = Field(gt=0)
    currency: Literal["VND", "MYR"]
    credits: int = Field(default=0, ge=0)
    track_stock: bool = False
    stock: int | None = Field(default=None, ge=0)
    low_stock_threshold: int | None = Field(default=None, ge=0)


def _order_customer(session: Any, order: Any) -> str | None:
    if order.customer_id is None:
        return None
    customer = session.get(Customer, order.customer_id)
    return None if customer is None else str(customer.external_id)


@router.post("/orders", status_code=201, summary="Create an order (reserves tracked stock)")
async def create_order(body: OrderIn, hub: HubDep, caller: MerchantDep) -> dict[str, Any]:
    draft = orders.OrderDraft(
        merchant_reference=body.merchant_reference,
        currency=body.currency,
        items=[orders.ItemDraft(**i.model_dump()) for i in body.items],
        customer=orders.CustomerDraft(**body.customer.model_dump()) if body.customer else None,
        credits=body.credits,
        expires_in_seconds=body.expires_in_seconds,
        cancel_on_failure=body.cancel_on_failure,
        return_url=body.return_url,
        description=body.description,
        metadata=body.metadata,
    )
    order_id = await to_thread.run_sync(orders.create_order, hub, caller.merchant_id, draft)
    return await to_thread.run_sync(_order_detail, hub, caller.merchant_id, order_id)


def _order_detail(hub: Any, merchant_id: str, order_id: str) -> dict[str, Any]:
    with hub.db.session() as session:
        detail = orders.order_detail(session, orders.get_order(session, merchant_id, order_id))
    return {**detail, "hosted_checkout_url": hosted.hosted_checkout_url(hub, order_id)}


@router.get("/orders", summary="List orders, newest first")
async def list_orders(
    hub: HubDep,
    caller: MerchantDep,
    status: str | None = None,
    customer: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    starting_after: str | None = None,
) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with hub.db.session() as session:
            return orders.list_orders(
                session,
                caller.merchant_id,
                status=status,
                customer_external_id=customer,
                created_after=created_after,
                created_before=created_before,
                limit=limit,
                starting_after=starting_after,
            )

    return await to_thread.run_sync(run)


@router.get("/orders/{order_id}", summary="Read an order with its attempts and timeline")
async def get_order(order_id: str, hub: HubDep, caller: CallerDep) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with hub.db.session() as session:
            order = orders.get_order(session, caller.merchant_id, order_id)
            require_own_order(caller, _order_customer(session, order))
            return orders.order_detail(session, order)

    return await to_thread.run_sync(run)


@router.post("/orders/{order_id}/payments", summary="Start (or return the live) payment attempt")
async def start_payment(
    order_id: str, body: PaymentIn, request: Request, hub: HubDep, caller: CallerDep
) -> dict[str, Any]:
    def check_owner() -> None:
        with hub.db.session() as session:
            order = orders.get_order(session, caller.merchant_id, order_id)
            require_own_order(caller, _order_customer(session, order))

    if caller.is_customer:
        await to_thread.run_sync(check_owner)
    started = await checkout.start_payment(
        hub,
        caller.merchant_id,
        order_id,
        body.gateway,
        client_ip=request.client.host if request.client else "127.0.0.1",
        options=body.options,
        actor=caller.actor,
    )

    def view() -> dict[str, Any]:
        with hub.db.session() as session:
            payment = session.scalar(select(Payment).where(Payment.id == started.payment_id))
            assert payment is not None
            return {**orders.payment_view(payment), "reused": started.reused}

    return await to_thread.run_sync(view)


@router.post("/orders/{order_id}/cancel", summary="Cancel an unpaid order; releases stock once")
async def cancel_order(
    order_id: str, request: Request, hub: HubDep, caller: MerchantDep
) -> dict[str, Any]:
    await checkout.cancel_order(
        hub,
        caller.merchant_id,
        order_id,
        actor=caller.actor,
        source_ip=request.client.host if request.client else None,
    )
    return await to_thread.run_sync(_order_detail, hub, caller.merchant_id, order_id)


@router.post(
    "/orders/{order_id}/manual-payments",
    status_code=201,
    summary="Record a payment taken outside the gateways (bank transfer, cash); audited",
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


@router.get("/payments/{payment_id}", summary="Read an attempt; refresh=true asks the gateway")
async def get_payment(
    payment_id: str, hub: HubDep, caller: MerchantDep, refresh: bool = False
) -> dict[str, Any]:
    if refresh:
        await checkout.refresh_payment(hub, payment_id, caller.merchant_id)

    def run() -> dict[str, Any]:
        with hub.db.session() as session:
            payment = session.scalar(select(Payment).where(Payment.id == payment_id))
            if payment is None or payment.merchant_id != caller.merchant_id:
                raise NotFound(f"no payment {payment_id}")
            return orders.payment_view(payment)

    return await to_thread.run_sync(run)


@router.post("/payments/{payment_id}/refunds", status_code=201, summary="Refund (full or partial)")
async def create_refund(
    payment_id: str, body: RefundIn, hub: HubDep, caller: MerchantDep
) -> dict[str, Any]:
    return await refunds.create_refund(
        hub,
        caller.merchant_id,
        payment_id,
        amount=body.amount,
        reason=body.reason,
        manual=body.manual,
        actor=caller.actor,
    )


@router.get("/payments/{payment_id}/refunds", summary="List a payment's refunds")
async def list_refunds(payment_id: str, hub: HubDep, caller: MerchantDep) -> dict[str, Any]:
    data = await to_thread.run_sync(refunds.list_refunds, hub, caller.merchant_id, payment_id)
    return {"data": data}


@router.get("/products", summary="Products with their stock")
async def list_products(hub: HubDep, caller: MerchantDep) -> dict[str, Any]:
    def run() -> dict[str, Any]:
        with hub.db.session() as session:
            return {"data": merchants.list_products(session, caller.merchant_id)}

    return await to_thread.run_sync(run)


@router.put("/products/{sku}", summary="Create or update a product")
async def put_product(
    sku: str, body: ProductIn, hub: HubDep, caller: MerchantDep
) -> dict[str, Any]:
    return await to_thread.run_sync(
        lambda: merchants.upsert_product(
            hub, caller.merchant_id, sku=sku, actor=caller.actor, **body.model_dump()
        )
    )


@router.get("/customers/{external_id}/credits", summary="A customer's credit balance and ledger")
async def customer_credits(external_id: str, hub: HubDep, caller: CallerDep) -> dict[str, Any]:
    require_own_order(caller, external_id)

    def run() -> dict[str, Any]:
        with hub.db.session() as session:
            return merchants.credit_balance(session, caller.merchant_id, external_id)

    return await to_thread.run_sync(run)


@router.get("/gateways", summary="Gateways enabled for this merchant, filtered by amount")
async def available_gateways(
    hub: HubDep, caller: MerchantDep, amount: int | None = None, currency: str | None = None
) -> dict[str, Any]:

    def run() -> dict[str, Any]:
        with hub.db.session() as session:
            rows = session.scalars(
                select(GatewayAccount)
                .where(
                    GatewayAccount.merchant_id == caller.merchant_id,
                    GatewayAccount.enabled.is_(True),
                )
                .order_by(GatewayAccount.priority)
            ).all()
            out = []
            for row in rows:
                status = account_status(row)
                if status["missing"]:
                    continue
                caps = entry(row.gateway).adapter.capabilities
                if currency is not None:
                    limits = caps.limits_for(currency)
                    if limits is None:
                        continue
                    if amount is not None and not limits.min_minor <= amount <= limits.max_minor:
                        continue
                out.append(
                    {
                        "gateway": row.gateway,
                        "display_name": entry(row.gateway).adapter.display_name,
                        "environment": row.environment,
                        "refunds": caps.refund,
                        "currencies": {
                            cur: {
                                "min": lim.min_minor,
                                "max": lim.max_minor,
                                "min_display": Money(lim.min_minor, cur).display(),
                            }
                            for cur, lim in caps.currencies.items()
                        },
                    }
                )
            return {"data": out}

    return await to_thread.run_sync(run)


class WebhookEndpointIn(BaseModel):
    url: str = Field(max_length=2000, description="where events are POSTed")
    event_types: list[str] = Field(
        default_factory=list, description="only these types; empty = every merchant event"
    )


@router.post(
    "/webhook-endpoints",
    status_code=201,
    summary="Register an endpoint; the whsec_ signing secret is returned once",
)
async def create_webhook_endpoint(
    body: WebhookEndpointIn, hub: HubDep, caller: MerchantDep
) -> dict[str, Any]:
    return await to_thread.run_sync(
        lambda: webhooks.create_endpoint(
            hub, caller.merchant_id, body.url, body.event_types, actor=caller.actor
        )
    )


@router.get("/webhook-endpoints", summary="List endpoints (secrets are never shown again)")
async def list_webhook_endpoints(hub: HubDep, caller: MerchantDep) -> dict[str, Any]:
    return {"data": await to_thread.run_sync(webhooks.list_endpoints, hub, caller.merchant_id)}


@router.delete("/webhook-endpoints/{endpoint_id}", status_code=204)
async def disable_webhook_endpoint(endpoint_id: str, hub: HubDep, caller: MerchantDep) -> None:
    await to_thread.run_sync(
        lambda: webhooks.disable_endpoint(hub, caller.merchant_id, endpoint_id, actor=caller.actor)
    )


@router.get("/events", summary="Recent events, newest first")
async def list_events(
    hub: HubDep, caller: MerchantDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> dict[str, Any]:
    return {"data": await to_thread.run_sync(webhooks.list_events, hub, caller.merchant_id, limit)}


@router.get("/events/{event_id}", summary="An event with its delivery and attempt log")
async def get_event(event_id: str, hub: HubDep, caller: MerchantDep) -> dict[str, Any]:
    return await to_thread.run_sync(webhooks.event_log, hub, caller.merchant_id, event_id)


@router.post("/events/{event_id}/redeliver", summary="Send an event to its endpoints again")
async def redeliver_event(event_id: str, hub: HubDep, caller: MerchantDep) -> dict[str, Any]:
    count = await to_thread.run_sync(
        lambda: webhooks.redeliver(hub, caller.merchant_id, event_id, actor=caller.actor)
    )
    return {"event_id": event_id, "deliveries_rescheduled": count}


class AcceptIn(BaseModel):
    note: str = Field(min_length=1, max_length=500, description="why the money is accepted")


@router.get("/review-queue", summary="Payments in review (money moved, nothing settled)")
async def review_queue(hub: HubDep, caller: MerchantDep) -> dict[str, Any]:
    return {"data": await to_thread.run_sync(review.list_review_queue, hub, caller.merchant_id)}


@router.post(
    "/payments/{payment_id}/accept",
    summary="Accept a payment in review: the order becomes paid (credits once); audited",
)
async def accept_payment(
    payment_id: str, body: AcceptIn, hub: HubDep, caller: MerchantDep
) -> dict[str, Any]:
    return await to_thread.run_sync(
        lambda: review.accept_review(
            hub, caller.merchant_id, payment_id, actor=caller.actor, note=body.note
        )
    )

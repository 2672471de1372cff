"""Merchant API v1, orders: create, list, read, cancel."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from anyio import to_thread
from fastapi import APIRouter, Body, Request, Response
from pydantic import AfterValidator, BaseModel, Field

from payhub.api.pagination import PageDep
from payhub.api.problems import BY_ID, GATEWAY_CALL, problem_responses
from payhub.api.schemas import orders as schemas
from payhub.api.security import Caller, CallerDep, HubDep, MerchantDep, require_own_order
from payhub.domain.errors import InvalidRequest, NotFound
from payhub.money import MAX_AMOUNT_MINOR, MAX_CREDITS, MAX_QUANTITY
from payhub.services import checkout, hosted, orders
from payhub.services.context import Hub
from payhub.store import reads

router = APIRouter()


def absolute_http_url(value: str) -> str:
    """An absolute http(s) URL with a host: the customer's browser is sent there, so
    `javascript:`, `data:`, scheme-relative `//host` and relative paths are refused."""
    if any(ch.isspace() or ord(ch) < 0x20 or ch in "\\\x7f" for ch in value):
        raise ValueError("must not contain whitespace, control characters or backslashes")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise ValueError("must be an absolute http(s) URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError("must be an absolute http(s) URL, e.g. https://shop.example/done")
    return value


ReturnUrl = Annotated[str, AfterValidator(absolute_http_url)]


class CustomerIn(BaseModel):
    external_id: str = Field(min_length=1, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)


class ItemIn(BaseModel):
    sku: str | None = Field(default=None, description="a product SKU; stock is reserved")
    name: str | None = Field(default=None, description="ad-hoc item name (no SKU)")
    unit_price: int | None = Field(
        default=None, ge=0, le=MAX_AMOUNT_MINOR, description="minor units, ad-hoc items"
    )
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY)
    credits: int | None = Field(default=None, ge=0, le=MAX_CREDITS, description="per unit")


class OrderIn(BaseModel):
    merchant_reference: str = Field(min_length=1, max_length=200)
    currency: Literal["VND", "MYR"]
    items: list[ItemIn] = Field(min_length=1, max_length=100)
    customer: CustomerIn | None = None
    credits: int | None = Field(
        default=None, ge=0, le=MAX_CREDITS, description="credits granted once paid"
    )
    expires_in_seconds: int | None = Field(default=None, ge=60, le=30 * 86400)
    cancel_on_failure: bool = False
    return_url: ReturnUrl | None = Field(
        default=None,
        max_length=1000,
        description="absolute http(s) URL the customer is sent back to after paying",
    )
    description: str = Field(default="", max_length=500)
    metadata: dict[str, Any] = Field(default_factory=dict)
    locale: Literal["vi", "en", "ms"] | None = Field(
        default=None, description="language of the customer's e-mails (else the merchant's)"
    )


async def order_or_404(hub: Hub, caller: Caller, order_id: str) -> reads.OrderView:
    """The caller's merchant's order in the caller's mode, or 404: a test key never sees a
    live order, nor a live key a test one."""
    view = await reads.order_view(hub.db, caller.merchant_id, order_id)
    if view is None or view.summary.livemode != caller.livemode:
        raise NotFound(f"no order {order_id}")
    return view


def order_read(hub: Hub, view: reads.OrderView) -> dict[str, Any]:
    """Every order read: the order and its hosted checkout link."""
    return {
        **view.as_dict(),
        "hosted_checkout_url": hosted.hosted_checkout_url(hub, view.summary.id),
    }


async def _order_with_checkout_url(hub: Hub, caller: Caller, order_id: str) -> dict[str, Any]:
    """What a write on an order answers: the order, and its hosted checkout link."""
    return order_read(hub, await order_or_404(hub, caller, order_id))


_ORDER_EXAMPLE = {
    "merchant_reference": "shop-1001",
    "currency": "VND",
    "items": [{"sku": "CREDITS-100", "quantity": 1}],
    "customer": {"external_id": "u42", "email": "an@example.com"},
    "metadata": {"booking": "B-7"},
    "return_url": "https://shop.example/done",
}


@router.post(
    "/orders",
    status_code=201,
    summary="Create an order (reserves tracked stock)",
    operation_id="createOrder",
    response_model=schemas.Order,
    responses=problem_responses(409),
)
async def create_order(
    body: Annotated[OrderIn, Body(examples=[_ORDER_EXAMPLE])],
    response: Response,
    hub: HubDep,
    caller: MerchantDep,
) -> dict[str, Any]:
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
        locale=body.locale,
        livemode=caller.livemode,
    )
    order_id = await to_thread.run_sync(orders.create_order, hub, caller.merchant_id, draft)
    response.headers["location"] = f"/v1/orders/{order_id}"
    return await _order_with_checkout_url(hub, caller, order_id)


@router.get(
    "/orders",
    summary="List orders, newest first",
    operation_id="listOrders",
    response_model=schemas.OrderList,
)
async def list_orders(
    hub: HubDep,
    caller: MerchantDep,
    page: PageDep,
    status: str | None = None,
    customer: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> dict[str, Any]:
    where = reads.OrderFilter(
        status=status,
        customer=customer,
        created_after=created_after,
        created_before=created_before,
        livemode=caller.livemode,
    )
    found = await reads.order_page(
        hub.db, caller.merchant_id, where, limit=page.limit, starting_after=page.starting_after
    )
    if found is None:
        raise InvalidRequest(f"unknown cursor {page.starting_after}")
    listing = found.as_dict()
    listing["data"] = [
        {**row, "hosted_checkout_url": hosted.hosted_checkout_url(hub, row["id"])}
        for row in listing["data"]
    ]
    return listing


@router.get(
    "/orders/{order_id}",
    summary="Read an order with its attempts and timeline",
    operation_id="getOrder",
    response_model=schemas.Order,
    responses=problem_responses(*BY_ID),
)
async def get_order(order_id: str, hub: HubDep, caller: CallerDep) -> dict[str, Any]:
    view = await order_or_404(hub, caller, order_id)
    require_own_order(caller, view.customer_external_id)
    return order_read(hub, view)


@router.post(
    "/orders/{order_id}/cancel",
    summary="Cancel an unpaid order; releases stock once",
    operation_id="cancelOrder",
    response_model=schemas.Order,
    responses=problem_responses(*BY_ID, 409, *GATEWAY_CALL),
)
async def cancel_order(
    order_id: str, request: Request, hub: HubDep, caller: MerchantDep
) -> dict[str, Any]:
    await order_or_404(hub, caller, order_id)
    await checkout.cancel_order(
        hub,
        caller.merchant_id,
        order_id,
        actor=caller.actor,
        source_ip=request.client.host if request.client else None,
    )
    return await _order_with_checkout_url(hub, caller, order_id)

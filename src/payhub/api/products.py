"""Merchant API v1, the product catalogue: list with stock, create or update by SKU."""

from __future__ import annotations

from typing import Any, Literal

from anyio import to_thread
from fastapi import APIRouter
from pydantic import BaseModel, Field

from payhub.api.pagination import PageDep, page_of
from payhub.api.schemas import products as schemas
from payhub.api.security import HubDep, MerchantDep
from payhub.money import MAX_AMOUNT_MINOR, MAX_CREDITS, MAX_STOCK
from payhub.services import merchants
from payhub.store import reads

router = APIRouter()


class ProductIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    price: int = Field(gt=0, le=MAX_AMOUNT_MINOR)
    currency: Literal["VND", "MYR"]
    credits: int = Field(default=0, ge=0, le=MAX_CREDITS)
    track_stock: bool = False
    stock: int | None = Field(default=None, ge=0, le=MAX_STOCK)
    low_stock_threshold: int | None = Field(default=None, ge=0, le=MAX_STOCK)


@router.get(
    "/products",
    summary="Active products with their stock, newest first",
    operation_id="listProducts",
    response_model=schemas.ProductList,
)
async def list_products(hub: HubDep, caller: MerchantDep, page: PageDep) -> dict[str, Any]:
    rows = await reads.products(hub.db, caller.merchant_id, order_by="created")
    return page_of([p.as_dict() for p in rows], page, lambda p: str(p["id"]))


@router.put(
    "/products/{sku}",
    summary="Create or update a product",
    operation_id="putProduct",
    response_model=schemas.Product,
)
async def put_product(
    sku: str, body: ProductIn, hub: HubDep, caller: MerchantDep
) -> dict[str, Any]:
    return await to_thread.run_sync(
        lambda: merchants.upsert_product(
            hub, caller.merchant_id, sku=sku, actor=caller.actor, **body.model_dump()
        )
    )

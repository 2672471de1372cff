"""The product catalogue (store.reads.catalog)."""

from __future__ import annotations

from pydantic import Field

from payhub.api.schemas.common import Cursor, Resource


class Product(Resource):
    id: str
    sku: str
    name: str
    price: int = Field(description="minor units")
    currency: str
    price_display: str
    credits: int
    track_stock: bool
    stock_available: int | None
    low_stock: bool


class ProductList(Resource):
    data: list[Product]
    has_more: bool
    next_cursor: Cursor

"""Read model of the product catalogue: products with their stock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from payhub.money import Money
from payhub.store.db import Database
from payhub.store.models import Product
from payhub.store.reads.running import run_read


@dataclass(frozen=True, slots=True)
class ProductView:
    """A product; `as_dict()` is its JSON in GET /v1/products."""

    id: str
    sku: str
    name: str
    price: int
    currency: str
    credits: int
    track_stock: bool
    stock: int
    low_stock_threshold: int | None

    @classmethod
    def of(cls, p: Product) -> ProductView:
        return cls(
            id=p.id,
            sku=p.sku,
            name=p.name,
            price=p.price_minor,
            currency=p.currency,
            credits=p.credits,
            track_stock=p.track_stock,
            stock=p.stock_available,
            low_stock_threshold=p.low_stock_threshold,
        )

    @property
    def price_display(self) -> str:
        return Money(self.price, self.currency).display()

    @property
    def stock_available(self) -> int | None:
        """Units left, or `None` when the product's stock is not tracked."""
        return self.stock if self.track_stock else None

    @property
    def low_stock(self) -> bool:
        return bool(
            self.track_stock
            and self.low_stock_threshold is not None
            and self.stock <= self.low_stock_threshold
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sku": self.sku,
            "name": self.name,
            "price": self.price,
            "currency": self.currency,
            "price_display": self.price_display,
            "credits": self.credits,
            "track_stock": self.track_stock,
            "stock_available": self.stock_available,
            "low_stock": self.low_stock,
        }


def _products(
    session: Session, merchant_id: str, order_by: Literal["sku", "price", "created"]
) -> list[ProductView]:
    ordering: tuple[Any, ...] = (Product.sku,)
    if order_by == "price":
        ordering = (Product.currency, Product.price_minor)
    elif order_by == "created":
        ordering = (Product.created_at.desc(), Product.id.desc())
    rows = session.scalars(
        select(Product)
        .where(Product.merchant_id == merchant_id, Product.active.is_(True))
        .order_by(*ordering)
    ).all()
    return [ProductView.of(p) for p in rows]


async def products(
    db: Database, merchant_id: str, *, order_by: Literal["sku", "price", "created"] = "sku"
) -> list[ProductView]:
    """The merchant's active products, by SKU, by (currency, price) or newest first."""
    return await run_read(db, _products, merchant_id, order_by)


def _product(session: Session, merchant_id: str, sku: str) -> ProductView | None:
    row = session.scalar(
        select(Product).where(Product.merchant_id == merchant_id, Product.sku == sku)
    )
    return None if row is None else ProductView.of(row)


async def product(db: Database, merchant_id: str, sku: str) -> ProductView | None:
    """The merchant's product with this SKU, active or not."""
    return await run_read(db, _product, merchant_id, sku)

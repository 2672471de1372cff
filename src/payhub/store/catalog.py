"""The merchant's product catalogue. A product a write operation hands out
(`product_to_change`, `new_product`) belongs to that transaction: changes to it are written
at the commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from payhub.store.models import Product
from payhub.store.tx import Reader, Tx, session_of

__all__ = ["active_product", "active_products", "new_product", "product_to_change"]


def active_product(reader: Reader, merchant_id: str, sku: str) -> Product | None:
    """The merchant's active product with this SKU, to read."""
    return session_of(reader).scalar(
        select(Product).where(
            Product.merchant_id == merchant_id, Product.sku == sku, Product.active.is_(True)
        )
    )


def product_to_change(tx: Tx, merchant_id: str, sku: str) -> Product | None:
    """The merchant's product with this SKU, locked, to change."""
    return tx._session.scalar(
        select(Product)
        .where(Product.merchant_id == merchant_id, Product.sku == sku)
        .with_for_update()
    )


def new_product(tx: Tx, **fields: Any) -> Product:
    """A new product with these column values, written at the commit (or at `flush`)."""
    row = Product(**fields)
    tx._session.add(row)
    return row


def active_products(reader: Reader, merchant_id: str) -> list[Product]:
    """The merchant's active products, by SKU."""
    return list(
        session_of(reader).scalars(
            select(Product)
            .where(Product.merchant_id == merchant_id, Product.active.is_(True))
            .order_by(Product.sku)
        )
    )

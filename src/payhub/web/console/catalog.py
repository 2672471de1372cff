"""The console's products page (`/console/products`): the catalogue with its stock, low
stock highlighted; owners restock a tracked product (with a reason, kept in the audit) and
add or change products, through `services.inventory` and `services.merchants`."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Form
from fastapi.responses import Response

from payhub.domain.errors import InvalidRequest
from payhub.services import inventory, merchants
from payhub.store import reads
from payhub.web.console.auth import ConsoleDep, allowed
from payhub.web.console.i18n import translator
from payhub.web.console.orders import parse_amount
from payhub.web.console.rendering import Console
from payhub.web.console.roles import Action

router = APIRouter()


@router.get("/products")
async def products_page(console: ConsoleDep) -> Response:
    products = await reads.products(console.hub.db, console.merchant_id)
    return console.render(
        "catalog/index.html",
        title="Products",
        products=products,
        low=[p for p in products if p.low_stock],
    )


@router.post("/products/{sku}/restock")
async def restock(
    console: Annotated[Console, allowed(Action.PRODUCTS)],
    sku: str,
    quantity: Annotated[int, Form(ge=1, le=inventory.MAX_RESTOCK)],
    reason: Annotated[str, Form(min_length=1, max_length=inventory.MAX_REASON)],
) -> Response:
    result = await to_thread.run_sync(
        lambda: inventory.restock(
            console.hub, console.merchant_id, sku, quantity, reason=reason, actor=console.actor
        )
    )
    _ = translator(console.locale)
    return console.redirect(
        "/products", flash=_("Restocked:") + f" {sku} → {result['stock_available']}"
    )


def _optional_int(value: str, name: str) -> int | None:
    if not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError:
        raise InvalidRequest(f"{name} must be a whole number") from None


@router.post("/products")
async def save_product(
    console: Annotated[Console, allowed(Action.PRODUCTS)],
    sku: Annotated[str, Form(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    price: Annotated[str, Form(min_length=1, max_length=30)],
    currency: Annotated[str, Form(min_length=3, max_length=3)],
    credits: Annotated[int, Form(ge=0)] = 0,
    track_stock: Annotated[bool, Form()] = False,
    stock: Annotated[str, Form(max_length=20)] = "",
    low_stock_threshold: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Add a product or change the one with this SKU; the price is in major units, read
    as the order forms read amounts ("40.000" or "40000" VND, "10.50" MYR), exactly. An
    empty stock keeps the current count."""
    currency = currency.upper()
    price_minor = parse_amount(price, currency)
    stock_count = _optional_int(stock, "stock")
    threshold = _optional_int(low_stock_threshold, "low stock threshold")
    await to_thread.run_sync(
        lambda: merchants.upsert_product(
            console.hub,
            console.merchant_id,
            sku=sku,
            name=name.strip(),
            price=price_minor,
            currency=currency,
            credits=credits,
            track_stock=track_stock,
            stock=stock_count,
            low_stock_threshold=threshold,
            actor=console.actor,
        )
    )
    _ = translator(console.locale)
    return console.redirect("/products", flash=_("Product saved:") + f" {sku}")

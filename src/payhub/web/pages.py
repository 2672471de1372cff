"""Hosted checkout, the result page and the demo storefront.

The result page never trusts the return URL: it shows the attempt's stored status and polls
until a verified notification (or a server-side query) has settled it. It and its status
poll need the payment's result token (`services.hosted`): a payment id alone shows nothing,
least of all the customer's credit balance. Every page is served under the CSP of
`web.headers` (no inline script or style: they are files under `/static/`).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from payhub.api.security import HubDep
from payhub.domain.errors import DomainError, InvalidRequest
from payhub.errors import GatewayCallFailed, NoGatewayAvailable
from payhub.gateways.registry import entry
from payhub.money import Money
from payhub.services import checkout, hosted, orders
from payhub.services.context import Hub
from payhub.store import reads

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
FINAL = {"succeeded", "failed", "cancelled", "expired", "review"}
DEMO_CUSTOMER = "demo-customer"  # the storefront's one shopper


def _check_token(hub: Hub, order_id: str, token: str) -> bool:
    return hosted.token_is_valid(hub, order_id, token)


def _gateways_for(names: list[str]) -> list[dict[str, str]]:
    """The gateways routing would try for the order, in its order (the first is the
    default choice)."""
    return [{"name": name, "display": entry(name).adapter.display_name} for name in names]


@router.get("/pay/{order_id}", response_class=HTMLResponse)
async def hosted_checkout(
    order_id: str, request: Request, hub: HubDep, token: str = ""
) -> Response:
    if not _check_token(hub, order_id, token):
        return HTMLResponse("<h1>Link invalid</h1>", status_code=403)
    page = await reads.hosted_checkout(hub.db, order_id)
    if page is None:
        return HTMLResponse("<h1>Unknown order</h1>", status_code=404)
    names = await to_thread.run_sync(checkout.routed_gateways, hub, order_id)
    context = {"order": page.order.as_dict(), "gateways": _gateways_for(names), "token": token}
    return templates.TemplateResponse(request, "checkout.html", context)


@router.post("/pay/{order_id}")
async def hosted_checkout_start(
    order_id: str, request: Request, hub: HubDep, gateway: str = Form(), token: str = Form()
) -> Response:
    if not _check_token(hub, order_id, token):
        return HTMLResponse("<h1>Link invalid</h1>", status_code=403)
    merchant_id = await reads.order_merchant(hub.db, order_id)
    if merchant_id is None:
        return HTMLResponse("<h1>Unknown order</h1>", status_code=404)
    try:
        started = await checkout.start_payment(
            hub,
            merchant_id,
            order_id,
            gateway,
            client_ip=request.client.host if request.client else "127.0.0.1",
            actor="hosted-checkout",
        )
    except (DomainError, GatewayCallFailed, NoGatewayAvailable) as exc:
        message = exc.message if isinstance(exc, GatewayCallFailed) else exc.detail
        return templates.TemplateResponse(
            request,
            "message.html",
            {"title": "Payment could not start", "message": message},
            status_code=409,
        )
    payment = await reads.payment_view(hub.db, started.payment_id)
    target = None if payment is None else payment.checkout_url
    return RedirectResponse(target or hosted.result_path(hub, started.payment_id), status_code=303)


async def _status(hub: Hub, payment_id: str) -> dict[str, Any] | None:
    progress = await reads.payment_progress(hub.db, payment_id)
    if progress is None:
        return None
    payment = progress.payment
    return {
        "payment_id": payment.id,
        "status": payment.status,
        "final": payment.status in FINAL,
        "order_id": payment.order_id,
        "order_status": progress.order_status,
        "amount_display": Money(payment.amount, payment.currency).display(),
        "gateway": payment.gateway,
        "credits_granted": progress.order_credits if progress.order_status == "paid" else 0,
        "credit_balance": progress.credit_balance,
    }


@router.get("/pay/status/{payment_id}")
async def payment_status(payment_id: str, hub: HubDep, token: str = "") -> Response:
    if not hosted.result_token_is_valid(hub, payment_id, token):
        return JSONResponse({"error": "link invalid"}, status_code=403)
    data = await _status(hub, payment_id)
    if data is None:
        return JSONResponse({"error": "unknown payment"}, status_code=404)
    return JSONResponse(data)


@router.get("/pay/result/{payment_id}", response_class=HTMLResponse)
async def result_page(payment_id: str, request: Request, hub: HubDep, token: str = "") -> Response:
    if not hosted.result_token_is_valid(hub, payment_id, token):
        return HTMLResponse("<h1>Link invalid</h1>", status_code=403)
    data = await _status(hub, payment_id)
    if data is None:
        return HTMLResponse("<h1>Unknown payment</h1>", status_code=404)
    return templates.TemplateResponse(request, "result.html", {"p": data, "token": token})


# ------------------------------------------------------------------ demo storefront


@router.get("/demo", response_class=HTMLResponse)
async def demo_store(request: Request, hub: HubDep) -> Response:
    merchant_id = getattr(request.app.state, "demo_merchant_id", None)
    if merchant_id is None:
        return HTMLResponse("<h1>No demo on this hub</h1>", status_code=404)
    products = await reads.products(hub.db, merchant_id, order_by="price")
    context = {
        "products": [
            {
                "sku": p.sku,
                "name": p.name,
                "price": p.price_display,
                "credits": p.credits,
                "stock": p.stock_available,
            }
            for p in products
        ],
        "balance": await reads.customer_balance(hub.db, merchant_id, DEMO_CUSTOMER),
    }
    return templates.TemplateResponse(request, "demo.html", context)


@router.post("/demo/buy")
async def demo_buy(request: Request, hub: HubDep, sku: str = Form()) -> Response:
    merchant_id = getattr(request.app.state, "demo_merchant_id", None)
    if merchant_id is None:
        return HTMLResponse("<h1>No demo on this hub</h1>", status_code=404)

    try:
        product = await reads.product(hub.db, merchant_id, sku)
        if product is None:
            raise InvalidRequest(f"unknown sku {sku}")
        draft = orders.OrderDraft(
            merchant_reference=f"demo-{secrets.token_hex(6)}",
            currency=product.currency,
            items=[orders.ItemDraft(sku=sku, quantity=1)],
            customer=orders.CustomerDraft(
                external_id=DEMO_CUSTOMER,
                name="Demo Customer",
                email="demo@example.com",
                phone="0900000000",
            ),
            description=f"Demo {sku}",
        )
        order_id = await to_thread.run_sync(orders.create_order, hub, merchant_id, draft)
    except DomainError as exc:
        return templates.TemplateResponse(
            request, "message.html", {"title": "Cannot buy", "message": exc.detail}, status_code=409
        )
    return RedirectResponse(hosted.hosted_checkout_url(hub, order_id), status_code=303)

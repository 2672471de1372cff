"""Hosted checkout, the result page and the demo storefront.

The result page never trusts the return URL: it shows the attempt's stored status and polls
until a verified notification (or a server-side query) has settled it.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from payhub.api.security import HubDep
from payhub.domain.errors import DomainError, InvalidRequest
from payhub.errors import GatewayCallFailed
from payhub.gateways.registry import entry
from payhub.money import Money
from payhub.services import checkout, hosted, orders
from payhub.services.accounts import account_status
from payhub.services.context import Hub
from payhub.store.models import CreditAccount, GatewayAccount, Order, Payment, Product

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
FINAL = {"succeeded", "failed", "cancelled", "expired", "review"}


def _check_token(hub: Hub, order_id: str, token: str) -> bool:
    return hosted.token_is_valid(hub, order_id, token)


def _gateways_for(session: Any, order: Order) -> list[dict[str, str]]:
    rows = session.scalars(
        select(GatewayAccount)
        .where(GatewayAccount.merchant_id == order.merchant_id, GatewayAccount.enabled.is_(True))
        .order_by(GatewayAccount.priority)
    ).all()
    out = []
    for row in rows:
        if account_status(row)["missing"]:
            continue
        limits = entry(row.gateway).adapter.capabilities.limits_for(order.currency)
        if limits is None or not limits.min_minor <= order.total_minor <= limits.max_minor:
            continue
        out.append({"name": row.gateway, "display": entry(row.gateway).adapter.display_name})
    return out


@router.get("/pay/{order_id}", response_class=HTMLResponse)
async def hosted_checkout(
    order_id: str, request: Request, hub: HubDep, token: str = ""
) -> Response:
    if not _check_token(hub, order_id, token):
        return HTMLResponse("<h1>Link invalid</h1>", status_code=403)

    def load() -> dict[str, Any]:
        with hub.db.session() as session:
            order = session.get(Order, order_id)
            if order is None:
                return {}
            return {
                "order": orders.order_summary(order),
                "gateways": _gateways_for(session, order),
                "token": token,
            }

    context = await to_thread.run_sync(load)
    if not context:
        return HTMLResponse("<h1>Unknown order</h1>", status_code=404)
    return templates.TemplateResponse(request, "checkout.html", context)


@router.post("/pay/{order_id}")
async def hosted_checkout_start(
    order_id: str, request: Request, hub: HubDep, gateway: str = Form(), token: str = Form()
) -> Response:
    if not _check_token(hub, order_id, token):
        return HTMLResponse("<h1>Link invalid</h1>", status_code=403)

    def merchant_of() -> str | None:
        with hub.db.session() as session:
            order = session.get(Order, order_id)
            return None if order is None else order.merchant_id

    merchant_id = await to_thread.run_sync(merchant_of)
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
    except (DomainError, GatewayCallFailed) as exc:
        message = exc.detail if isinstance(exc, DomainError) else exc.message
        return templates.TemplateResponse(
            request,
            "message.html",
            {"title": "Payment could not start", "message": message},
            status_code=409,
        )

    def url() -> str | None:
        with hub.db.session() as session:
            payment = session.scalar(select(Payment).where(Payment.id == started.payment_id))
            return None if payment is None else payment.checkout_url

    target = await to_thread.run_sync(url)
    return RedirectResponse(target or f"/pay/result/{started.payment_id}", status_code=303)


def _status(hub: Hub, payment_id: str) -> dict[str, Any] | None:
    with hub.db.session() as session:
        payment = session.scalar(select(Payment).where(Payment.id == payment_id))
        if payment is None:
            return None
        order = session.get(Order, payment.order_id)
        assert order is not None
        balance = None
        if order.customer_id:
            account = session.scalar(
                select(CreditAccount).where(CreditAccount.customer_id == order.customer_id)
            )
            balance = account.balance if account else 0
        return {
            "payment_id": payment.id,
            "status": payment.status,
            "final": payment.status in FINAL,
            "order_id": order.id,
            "order_status": order.status,
            "amount_display": Money(payment.amount_minor, payment.currency).display(),
            "gateway": payment.gateway,
            "credits_granted": order.credits_to_grant if order.status == "paid" else 0,
            "credit_balance": balance,
        }


@router.get("/pay/status/{payment_id}")
async def payment_status(payment_id: str, hub: HubDep) -> Response:
    data = await to_thread.run_sync(_status, hub, payment_id)
    if data is None:
        return JSONResponse({"error": "unknown payment"}, status_code=404)
    return JSONResponse(data)


@router.get("/pay/result/{payment_id}", response_class=HTMLResponse)
async def result_page(payment_id: str, request: Request, hub: HubDep) -> Response:
    data = await to_thread.run_sync(_status, hub, payment_id)
    if data is None:
        return HTMLResponse("<h1>Unknown payment</h1>", status_code=404)
    return templates.TemplateResponse(request, "result.html", {"p": data})


# ------------------------------------------------------------------ demo storefront


@router.get("/demo", response_class=HTMLResponse)
async def demo_store(request: Request, hub: HubDep) -> Response:
    merchant_id = getattr(request.app.state, "demo_merchant_id", None)
    if merchant_id is None:
        return HTMLResponse("<h1>No demo on this hub</h1>", status_code=404)

    def load() -> dict[str, Any]:
        with hub.db.session() as session:
            products = session.scalars(
                select(Product)
                .where(Product.merchant_id == merchant_id, Product.active.is_(True))
                .order_by(Product.currency, Product.price_minor)
            ).all()
            customer = "demo-customer"
            from payhub.store.models import Customer

            row = session.scalar(
                select(Customer).where(
                    Customer.merchant_id == merchant_id, Customer.external_id == customer
                )
            )
            balance = 0
            if row is not None:
                account = session.scalar(
                    select(CreditAccount).where(CreditAccount.customer_id == row.id)
                )
                balance = account.balance if account else 0
            return {
                "products": [
                    {
                        "sku": p.sku,
                        "name": p.name,
                        "price": Money(p.price_minor, p.currency).display(),
                        "credits": p.credits,
                        "stock": p.stock_available if p.track_stock else None,
                    }
                    for p in products
                ],
                "balance": balance,
            }

    return templates.TemplateResponse(request, "demo.html", await to_thread.run_sync(load))


@router.post("/demo/buy")
async def demo_buy(request: Request, hub: HubDep, sku: str = Form()) -> Response:
    merchant_id = getattr(request.app.state, "demo_merchant_id", None)
    if merchant_id is None:
        return HTMLResponse("<h1>No demo on this hub</h1>", status_code=404)

    def create() -> str:
        with hub.db.session() as session:
            product = session.scalar(
                select(Product).where(Product.merchant_id == merchant_id, Product.sku == sku)
            )
            if product is None:
                raise InvalidRequest(f"unknown sku {sku}")
            currency = product.currency
        draft = orders.OrderDraft(
            merchant_reference=f"demo-{secrets.token_hex(6)}",
            currency=currency,
            items=[orders.ItemDraft(sku=sku, quantity=1)],
            customer=orders.CustomerDraft(
                external_id="demo-customer",
                name="Demo Customer",
                email="demo@example.com",
                phone="0900000000",
            ),
            description=f"Demo {sku}",
        )
        return orders.create_order(hub, merchant_id, draft)

    try:
        order_id = await to_thread.run_sync(create)
    except DomainError as exc:
        return templates.TemplateResponse(
            request, "message.html", {"title": "Cannot buy", "message": exc.detail}, status_code=409
        )
    return RedirectResponse(hosted.hosted_checkout_url(hub, order_id), status_code=303)

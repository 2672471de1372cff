"""Hosted checkout, its pay step, the result page and the demo storefront.

The customer pages (`/pay/{order}`, `/pay/{order}/attempt/{payment}`, `/pay/result/{payment}`)
are in Vietnamese, English or Malay (`web.i18n`), carry the merchant's name, logo and brand
colour (`web.theme`), and show a "Test mode" ribbon on test orders. The pay step draws the
gateway's QR content itself (`web.qr`) and offers the gateway's app deeplink on phones.

The result page never trusts the return URL: it shows the attempt's stored status and polls
until a verified notification (or a server-side query) has settled it, then stops. It and its
status poll need the payment's result token (`services.hosted`): a payment id alone shows
nothing, least of all the customer's credit balance. Every page is served under the CSP of
`web.headers` (no inline script or style: they are files under `/static/`; the brand colour
comes from `/theme/{rrggbb}.css`).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from anyio import to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from payhub.api.rate_limits import rate_limits_of
from payhub.api.security import HubDep
from payhub.domain.errors import DomainError, InvalidRequest
from payhub.domain.lifecycle import ORDER_HOLDS_STOCK, ORDER_IS_PAID, OrderStatus
from payhub.errors import GatewayCallFailed, NoGatewayAvailable
from payhub.gateways.registry import entry
from payhub.money import Money
from payhub.services import checkout, hosted, orders
from payhub.services.context import Hub
from payhub.store import reads
from payhub.web import theme
from payhub.web.headers import csp_allowing_images
from payhub.web.i18n import LANGUAGE_NAMES, LOCALES, RESULT_STATE, Translator, choose_locale
from payhub.web.i18n import gateway_line as gateway_line_of
from payhub.web.qr import qr_svg

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
FINAL = {"succeeded", "failed", "cancelled", "expired", "review"}
RETRYABLE = {"failed", "cancelled", "expired"}
DEMO_CUSTOMER = "demo-customer"  # the storefront's one shopper
MAX_USER_AGENT = 512
# The language the customer chose on the checkout, remembered for the pages after the
# gateway (its return lands on the result page without `?lang=`).
LANG_COOKIE = "payhub_lang"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _check_token(hub: Hub, order_id: str, token: str) -> bool:
    return hosted.token_is_valid(hub, order_id, token)


@dataclass(frozen=True, slots=True)
class GatewayChoice:
    """One way to pay offered on the hosted checkout."""

    name: str
    display: str


def checkout_gateways(names: list[str]) -> list[GatewayChoice]:
    """The gateways routing would try for the order, in its order (the first is the
    default choice): `services.checkout.routed_gateways` gives the names (enabled, ready,
    in the order's mode, taking its currency and amount, circuit not open)."""
    return [GatewayChoice(name=n, display=entry(n).adapter.display_name) for n in names]


def _display_name(gateway: str) -> str:
    """A gateway's name for customers; a payment recorded by hand ("manual") has none."""
    try:
        return entry(gateway).adapter.display_name
    except KeyError:
        return gateway


def _locale(request: Request, order_locale: str | None, merchant: reads.MerchantProfile) -> str:
    query = request.query_params.get("lang")
    return choose_locale(
        query if query in LOCALES else request.cookies.get(LANG_COOKIE),
        order_locale,
        merchant.default_locale,
        request.headers.get("accept-language"),
    )


def _brand(merchant: reads.MerchantProfile) -> dict[str, Any]:
    """What the customer pages' header shows of the merchant."""
    return {
        "name": merchant.name,
        "logo_url": merchant.logo_url,
        "theme_css": f"/theme/{theme.brand_hex(merchant.brand_color)}.css",
    }


def _page_headers(merchant: reads.MerchantProfile) -> dict[str, str]:
    """A CSP that lets the merchant's logo load when it lives on another host."""
    logo = merchant.logo_url
    if not logo or logo.startswith("/"):
        return {}
    parts = urlsplit(logo)
    return {"content-security-policy": csp_allowing_images((f"{parts.scheme}://{parts.netloc}",))}


def _switcher(request: Request, locale: str) -> list[dict[str, Any]]:
    """The language switcher's links: this page in each language."""
    params = {k: v for k, v in request.query_params.items() if k != "lang"}
    return [
        {
            "code": code,
            "name": LANGUAGE_NAMES[code],
            "href": f"{request.url.path}?{urlencode({**params, 'lang': code})}",
            "current": code == locale,
        }
        for code in LOCALES
    ]


def _customer_ip(request: Request) -> str:
    """The browser's address: the peer, or what a trusted proxy says (PAYHUB_TRUSTED_PROXIES)."""
    return rate_limits_of(request).client_ip(request.scope) or "127.0.0.1"


def _user_agent(request: Request) -> str | None:
    value = _CONTROL.sub("", request.headers.get("user-agent", ""))[:MAX_USER_AGENT]
    return value or None


def _plain(request: Request, key: str, status_code: int) -> Response:
    t = Translator(choose_locale(None, None, None, request.headers.get("accept-language")))
    return templates.TemplateResponse(
        request,
        "message.html",
        {"title": t(key), "message": "", "lang": t.locale},
        status_code=status_code,
    )


def _common(
    request: Request, t: Translator, merchant: reads.MerchantProfile, livemode: bool
) -> dict[str, Any]:
    return {
        "t": t,
        "lang": t.locale,
        "brand": _brand(merchant),
        "languages": _switcher(request, t.locale),
        "test_mode": not livemode,
    }


def _payable(hub: Hub, order: reads.OrderSummary) -> bool:
    return OrderStatus(order.status) in ORDER_HOLDS_STOCK and order.expires_at > hub.clock.now()


@router.get("/theme/{brand}.css")
async def theme_stylesheet(brand: str) -> Response:
    if theme.brand_hex(brand) != brand.lower():
        return Response(status_code=404)
    return Response(
        theme.theme_css(brand),
        media_type="text/css",
        headers={"cache-control": "public, max-age=86400"},
    )


@router.get("/pay/{order_id}", response_class=HTMLResponse)
async def hosted_checkout(
    order_id: str, request: Request, hub: HubDep, token: str = ""
) -> Response:
    if not _check_token(hub, order_id, token):
        return _plain(request, "link_invalid", 403)
    page = await reads.hosted_checkout(hub.db, order_id)
    if page is None:
        return _plain(request, "unknown_order", 404)
    order = page.order
    names = await to_thread.run_sync(checkout.routed_gateways, hub, order_id)
    t = Translator(_locale(request, page.locale, page.merchant))
    left = order.expires_at - hub.clock.now()
    context = {
        **_common(request, t, page.merchant, order.livemode),
        "order": order.as_dict(),
        "amount": t.money(order.amount, order.currency),
        "items": [
            {
                "name": i.name,
                "quantity": i.quantity,
                "total": t.money(i.unit_price * i.quantity, order.currency),
            }
            for i in page.items
        ],
        "payable": _payable(hub, order),
        "paid": OrderStatus(order.status) in ORDER_IS_PAID,
        "seconds_left": max(0, int(left.total_seconds())),
        "minutes_left": t.minutes_left(left),
        "gateways": [
            {"name": g.name, "display": g.display, "line": gateway_line_of(t, g.name)}
            for g in checkout_gateways(names)
        ],
        "token": token,
    }
    return templates.TemplateResponse(
        request, "checkout.html", context, headers=_page_headers(page.merchant)
    )


@router.post("/pay/{order_id}")
async def hosted_checkout_start(
    order_id: str,
    request: Request,
    hub: HubDep,
    gateway: str = Form(),
    token: str = Form(),
    lang: str = Form(default=""),
) -> Response:
    if not _check_token(hub, order_id, token):
        return _plain(request, "link_invalid", 403)
    merchant_id = await reads.order_merchant(hub.db, order_id)
    if merchant_id is None:
        return _plain(request, "unknown_order", 404)
    locale = lang if lang in LOCALES else None
    try:
        started = await checkout.start_payment(
            hub,
            merchant_id,
            order_id,
            gateway,
            client_ip=_customer_ip(request),
            locale=locale,
            user_agent=_user_agent(request),
            actor="hosted-checkout",
        )
    except (DomainError, GatewayCallFailed, NoGatewayAvailable) as exc:
        message = exc.message if isinstance(exc, GatewayCallFailed) else exc.detail
        t = Translator(
            locale or choose_locale(None, None, None, request.headers.get("accept-language"))
        )
        return templates.TemplateResponse(
            request,
            "message.html",
            {"title": t("could_not_start"), "message": message, "lang": t.locale},
            status_code=409,
        )
    payment = await reads.payment_view(hub.db, started.payment_id)
    if payment is not None and (payment.qr_content or payment.deeplink):
        query = urlencode({"token": token, **({"lang": locale} if locale else {})})
        target = f"/pay/{order_id}/attempt/{payment.id}?{query}"
    else:
        target = (payment.checkout_url if payment else None) or hosted.result_path(
            hub, started.payment_id
        )
    redirect = RedirectResponse(target, status_code=303)
    if locale:
        redirect.set_cookie(
            LANG_COOKIE, locale, max_age=86400, path="/pay/", httponly=True, samesite="lax"
        )
    return redirect


@router.get("/pay/{order_id}/attempt/{payment_id}", response_class=HTMLResponse)
async def pay_step(
    order_id: str, payment_id: str, request: Request, hub: HubDep, token: str = ""
) -> Response:
    """The chosen gateway's QR (drawn by the hub), its app deeplink and its own page."""
    if not _check_token(hub, order_id, token):
        return _plain(request, "link_invalid", 403)
    progress = await reads.payment_progress(hub.db, payment_id)
    if progress is None or progress.payment.order_id != order_id:
        return _plain(request, "unknown_payment", 404)
    payment = progress.payment
    lang = request.query_params.get("lang")
    result = hosted.result_path(hub, payment.id) + (f"&lang={lang}" if lang in LOCALES else "")
    if payment.status in FINAL:
        return RedirectResponse(result, status_code=303)
    t = Translator(_locale(request, progress.order_locale, progress.merchant))
    display = _display_name(payment.gateway)
    copy = entry(payment.gateway).adapter.checkout_copy
    qr = None
    if payment.qr_content:
        qr = qr_svg(payment.qr_content, title=t("qr_label", gateway=display))
    context = {
        **_common(request, t, progress.merchant, progress.order.livemode),
        "amount": t.money(payment.amount, payment.currency),
        "gateway": payment.gateway,
        "display": display,
        "qr": qr,
        "qr_desktop_only": copy.qr_for_own_app and bool(payment.deeplink),
        "scan_hint": t("scan_qr_app", gateway=display) if copy.qr_for_own_app else t("scan_qr"),
        "deeplink": payment.deeplink,
        "checkout_url": payment.checkout_url,
        "result_url": result,
        "checkout_page": f"/pay/{order_id}?"
        + urlencode({"token": token, **({"lang": lang} if lang in LOCALES else {})}),
    }
    return templates.TemplateResponse(
        request, "pay_step.html", context, headers=_page_headers(progress.merchant)
    )


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
        return _plain(request, "link_invalid", 403)
    progress = await reads.payment_progress(hub.db, payment_id)
    if progress is None:
        return _plain(request, "unknown_payment", 404)
    payment, order = progress.payment, progress.order
    t = Translator(_locale(request, progress.order_locale, progress.merchant))
    state = RESULT_STATE.get(payment.status, "pending")
    final = payment.status in FINAL
    display = _display_name(payment.gateway)
    notes = {
        "pending": t("note_pending", gateway=display),
        "succeeded": t("note_succeeded", merchant=progress.merchant.name),
        "review": t("note_review", merchant=progress.merchant.name),
    }
    try_again = None
    if state in RETRYABLE and _payable(hub, order):
        try_again = hosted.hosted_checkout_url(hub, order.id) + f"&lang={t.locale}"
    lang_q = request.query_params.get("lang")
    context = {
        **_common(request, t, progress.merchant, order.livemode),
        "payment_id": payment.id,
        "status": payment.status,
        "state": state,
        "final": final,
        "headline": t(f"head_{state}"),
        "status_label": t(f"st_{state}"),
        "note": notes.get(state, t("note_failed")),
        "amount": t.money(payment.amount, payment.currency),
        "order_status": progress.order_status,
        "credit_balance": progress.credit_balance,
        "try_again": try_again,
        "back_to_shop": order.return_url,
        "status_url": f"/pay/status/{payment.id}?token={token}",
        "lang_query": lang_q if lang_q in LOCALES else None,
    }
    return templates.TemplateResponse(
        request, "result.html", context, headers=_page_headers(progress.merchant)
    )


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

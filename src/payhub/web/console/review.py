"""The console's review queue (`/console/review`): payments where money moved but nothing
settled by itself, each with its reason in plain words (an amount that differs, with both
amounts; paid after the order expired; paid twice), and a confirm step that says what
accepting or rejecting will do before it is done (the POSTs are `orders.accept` and
`orders.reject`, calling `services.review`)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from payhub.domain.errors import NotFound
from payhub.gateways.registry import entry
from payhub.store.reads import console_orders
from payhub.web.console.auth import ConsoleDep
from payhub.web.console.inputs import identifier

router = APIRouter()


@router.get("/review")
async def review_queue(console: ConsoleDep) -> Response:
    items = await console_orders.review_items(console.hub.db, console.merchant_id)
    return console.render("review.html", title="Review queue", items=items)


@router.get("/review/{payment_id}")
async def review_confirm(console: ConsoleDep, payment_id: str) -> Response:
    """The confirm step: what accepting, or rejecting, will do to this payment (a second
    payment of a paid order can only be rejected)."""
    identifier(payment_id, "payment")
    item = await console_orders.review_item(console.hub.db, console.merchant_id, payment_id)
    if item is None:
        raise NotFound(f"no payment {payment_id} in review")
    return console.render(
        "review_confirm.html",
        title="Review queue",
        item=item,
        acceptable=item.reason != "double_payment",
        gateway_refunds=_gateway_refunds(item.gateway),
    )


def _gateway_refunds(gateway: str) -> bool:
    """Whether the gateway can send the money back itself (else the operator does it)."""
    try:
        return bool(entry(gateway).adapter.capabilities.refund)
    except KeyError:
        return False

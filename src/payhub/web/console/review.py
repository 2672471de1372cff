"""The console's review queue (`/console/review`): payments where money moved but nothing
settled by itself, each with its reason in plain words (an amount that differs, with both
amounts; paid after the order expired; paid twice), and a confirm step that says what
accepting will do before it is done (the POST is `orders.accept`).

There is no "reject" yet: rejecting means giving the money back, and `services.refunds`
refunds only succeeded payments (the strict xfail in tests/services/test_refunds.py). The
page says so and tells the operator to return the money at the gateway until it does."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from payhub.domain.errors import InvalidRequest, NotFound
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
    """The confirm step: what accepting will do to this payment, and its note."""
    identifier(payment_id, "payment")
    item = await console_orders.review_item(console.hub.db, console.merchant_id, payment_id)
    if item is None:
        raise NotFound(f"no payment {payment_id} in review")
    if item.reason == "double_payment":
        raise InvalidRequest(
            "the order was already paid by another attempt: this payment cannot be accepted"
        )
    return console.render("review_confirm.html", title="Review queue", item=item)

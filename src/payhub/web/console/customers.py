"""The console's customers page (`/console/customers`): search customers by external id,
name, e-mail or phone; each customer's credit balance and ledger; owners adjust a balance
with a reason."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from anyio import to_thread
from fastapi import APIRouter, Form
from fastapi.responses import Response

from payhub.domain.errors import NotFound
from payhub.services import ledger
from payhub.store import reads
from payhub.store.reads.console_pages import customer_search
from payhub.web.console.auth import ConsoleDep, allowed
from payhub.web.console.i18n import translator
from payhub.web.console.rendering import Console
from payhub.web.console.roles import Action

router = APIRouter()


@router.get("/customers")
async def customers_page(console: ConsoleDep, q: str = "") -> Response:
    q = q[:200]
    found = await customer_search(console.hub.db, console.merchant_id, q)
    return console.render("customers/index.html", title="Customers", customers=found, q=q)


@router.get("/customers/ledger")
async def customer_ledger(console: ConsoleDep, customer: str = "") -> Response:
    ledger = await reads.credit_ledger(console.hub.db, console.merchant_id, customer[:200])
    if ledger is None:
        raise NotFound("no such customer")
    return console.render("customers/ledger.html", title="Credit ledger", ledger=ledger)


@router.post("/customers/adjust")
async def adjust(
    console: Annotated[Console, allowed(Action.CREDITS)],
    customer: Annotated[str, Form(min_length=1, max_length=200)],
    amount: Annotated[int, Form()],
    reason: Annotated[str, Form(min_length=1, max_length=ledger.MAX_NOTE)],
) -> Response:
    """An operator's correction of the balance (signed), with its reason: the ledger and
    the audit keep it (`services.ledger.adjust_credits`, the CLI's `credits adjust`)."""
    movement = await to_thread.run_sync(
        lambda: ledger.adjust_credits(
            console.hub,
            console.merchant_id,
            customer,
            amount,
            reason,
            console.actor,
            source_ip=console.client_ip,
        )
    )
    _ = translator(console.locale)
    return console.redirect(
        f"/customers/ledger?customer={quote(customer)}",
        flash=_("Balance adjusted:") + f" {amount:+d} → {movement.entry.balance_after}",
    )

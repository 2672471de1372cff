"""The console's customers page (`/console/customers`): search customers by external id,
name, e-mail or phone; each customer's credit balance and ledger."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from payhub.domain.errors import NotFound
from payhub.store import reads
from payhub.store.reads.console_pages import customer_search
from payhub.web.console.auth import ConsoleDep

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

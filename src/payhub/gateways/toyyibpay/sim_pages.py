"""The pages of payhub's local ToyyibPay sandbox: a bill's page and its refusals."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Final

from payhub.gateways.simkit import page
from payhub.gateways.toyyibpay import wire
from payhub.gateways.toyyibpay.sim_state import BANKS, Bill

GATEWAY: Final = "ToyyibPay"


def bill_page(bill: Bill, now: datetime, notice: str = "") -> str:
    """A bill's page: the test banks, or why it takes no payment now, or `notice`."""
    amount = html.escape(bill.amount.display())
    rows = [
        ("Bill", bill.name),
        ("Description", bill.description),
        ("Bill code", bill.code),
        ("Reference", bill.external_ref or "—"),
    ]
    if bill.expires_at:
        rows.append(("Expires", wire.format_malaysia_time(bill.expires_at) + " (MYT)"))
    details = "".join(
        f"<dt>{html.escape(label)}</dt><dd>{html.escape(value)}</dd>" for label, value in rows
    )
    refusal = bill.refusal(now)
    if notice:
        action = f'<p role="status">{html.escape(notice)}</p>'
    elif refusal:
        action = f'<p role="alert"><strong>{html.escape(refusal)}</strong></p>'
    else:
        buttons = "".join(
            f'<button type="submit" name="bank" value="{key}"'
            f"{' class=primary' if key == 'A' else ''}>"
            f"Pay with {html.escape(label)} ({html.escape(hint)})</button>"
            for key, (label, _, _), hint in (
                ("A", BANKS["A"], "success"),
                ("B", BANKS["B"], "failure"),
                ("C", BANKS["C"], "pending, then success"),
            )
        )
        action = (
            "<p>Choose a test bank (FPX sandbox):</p>"
            f'<form method="post" action="/{html.escape(bill.code)}/pay">{buttons}</form>'
        )
    body = f'<div class="card"><div class="amount">{amount}</div><dl>{details}</dl>{action}</div>'
    return page(GATEWAY, f"Pay bill {bill.code}", body)


def not_found_page() -> str:
    return page(GATEWAY, "Bill not found", "<p>There is no bill with this code.</p>")

"""The pages of payhub's local PayOS sandbox: the checkout page (with the link's VietQR,
drawn by segno as inline SVG, as PayOS's own page shows it) and its refusals."""

from __future__ import annotations

import html
import io
from typing import Final

import segno

from payhub.gateways import simkit
from payhub.gateways.payos.sim_state import Link

GATEWAY: Final = "PayOS"


def checkout_page(link: Link) -> str:
    rows = [
        ("Amount", f"{link.amount:,} ₫"),
        ("Paid so far", f"{link.amount_paid:,} ₫"),
        ("Description", link.description),
        ("Order code", str(link.order_code)),
        ("Status", link.status),
    ]
    details = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows)
    action = f"/web/{html.escape(link.id)}"
    buttons = ""
    if link.payable:
        buttons += (
            f'<form method="post" action="{action}">'
            '<input type="hidden" name="outcome" value="paid">'
            '<button class="primary" type="submit">Pay in full</button></form>'
            f'<form method="post" action="{action}">'
            '<input type="hidden" name="outcome" value="partial">'
            '<button type="submit">Pay partially</button></form>'
        )
    if link.status == "PENDING":
        buttons += (
            f'<form method="post" action="{action}">'
            '<input type="hidden" name="outcome" value="cancel">'
            '<button type="submit">Cancel</button></form>'
            f'<form method="post" action="{action}">'
            '<input type="hidden" name="outcome" value="expire">'
            '<button type="submit">Expire</button></form>'
        )
    if not buttons:
        buttons = f"<p>This payment link is {html.escape(link.status.lower())}.</p>"
    qr = _vietqr_svg(link.qr_code) if link.qr_code and link.payable else ""
    body = (
        f'<div class="card"><div class="amount">{link.amount_remaining:,} ₫</div>'
        f"{qr}<dl>{details}</dl>{buttons}</div>"
    )
    return simkit.page(GATEWAY, "Pay by VietQR transfer", body)


def _vietqr_svg(content: str) -> str:
    out = io.BytesIO()
    segno.make(content, error="m", micro=False).save(
        out, kind="svg", xmldecl=False, scale=5, border=4, title="VietQR", svgclass="vietqr"
    )
    svg = out.getvalue().decode("utf-8")
    caption = "Scan with any Vietnamese banking app (sandbox: no money moves)"
    return f'<figure data-testid="vietqr">{svg}<figcaption>{caption}</figcaption></figure>'


def not_found_page() -> str:
    return simkit.page(GATEWAY, "Link not found", "<p>No such payment link.</p>")


def refused_page(reason: str) -> str:
    return simkit.page(GATEWAY, "Not possible", f"<p>{html.escape(reason)}</p>")

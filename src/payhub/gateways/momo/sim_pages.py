"""The pages of payhub's local MoMo sandbox: the payment page and its refusals."""

from __future__ import annotations

import html
from typing import Final

from payhub.gateways import simkit
from payhub.gateways.momo.sim_state import Order

GATEWAY: Final = "MoMo"

OUTCOME_BUTTONS: Final = (
    ("paid", "Pay", "primary"),
    ("denied", "User denied (1006)", ""),
    ("insufficient", "Insufficient balance (1001)", ""),
    ("expired", "Expire (1005)", ""),
)


def pay_page(order: Order, token: str, qr_content: str, redirect_url: str) -> str:
    """The payment page: outcome buttons, or the result of a finished payment."""
    details = (
        f'<div class="card"><div class="amount">{order.amount:,} ₫</div>'
        f"<dl><dt>Merchant</dt><dd>{html.escape(order.partner_code)}</dd>"
        f"<dt>Order</dt><dd><code>{html.escape(order.order_id)}</code></dd>"
        f"<dt>Description</dt><dd>{html.escape(order.order_info)}</dd>"
        f"<dt>QR content</dt><dd><code>{html.escape(qr_content)}</code></dd></dl></div>"
    )
    if order.final:
        body_html = details + (
            f"<p>This payment is finished: resultCode {order.result_code} "
            f"({html.escape(order.message)}).</p>"
            f'<p><a href="{html.escape(redirect_url)}">Back to the shop</a></p>'
        )
    else:
        buttons = "".join(
            f'<button type="submit" name="outcome" value="{value}"'
            f"{f' class={chr(34)}{css}{chr(34)}' if css else ''}>{html.escape(text)}</button>"
            for value, text, css in OUTCOME_BUTTONS
        )
        body_html = details + (
            f'<form method="post" action="/v2/gateway/pay?t={html.escape(token)}">{buttons}</form>'
        )
    return simkit.page(GATEWAY, "Pay with MoMo", body_html)


def not_found_page() -> str:
    return simkit.page(GATEWAY, "Payment not found", "<p>This payment link is unknown.</p>")


def unknown_choice_page() -> str:
    return simkit.page(GATEWAY, "Unknown choice", "<p>Unknown outcome.</p>")

"""The pages of payhub's local VNPay sandbox: the checkout page and the error page."""

from __future__ import annotations

import html
from typing import Final

from payhub.gateways import simkit
from payhub.gateways.vnpay import wire
from payhub.gateways.vnpay.sim_state import OUTCOMES, Transaction
from payhub.money import Money

GATEWAY: Final = "VNPay"

ERROR_MESSAGES: Final = {
    "01": "Giao dịch đã tồn tại (this vnp_TxnRef was already used today)",
    "03": "Dữ liệu gửi sang không đúng định dạng (invalid data format)",
    "15": "Giao dịch đã quá thời gian chờ thanh toán (the payment link has expired)",
    "70": "Sai chữ ký (wrong checksum)",
    "72": "Không tìm thấy website / terminal (unknown vnp_TmnCode)",
}


def checkout_page(txn: Transaction) -> str:
    amount = Money(txn.amount_x100 // 100, wire.CURRENCY)
    rows = "".join(
        f"<dt>{html.escape(k)}</dt><dd><code>{html.escape(v)}</code></dd>"
        for k, v in (
            ("Order", txn.order_info),
            ("vnp_TxnRef", txn.txn_ref),
            ("Terminal", txn.tmn_code),
            ("Expires (GMT+7)", txn.expire_date),
        )
    )
    if txn.outcome is not None:
        body = (
            f'<div class="card"><p class="amount">{html.escape(amount.display())}</p>'
            f"<dl>{rows}</dl><p>This payment is finished: "
            f"<strong>{html.escape(OUTCOMES[txn.outcome].label)}</strong>.</p></div>"
        )
        return simkit.page(GATEWAY, "Payment finished", body)
    buttons = "".join(
        f'<button type="submit" name="outcome" value="{name}"'
        f"{' class=primary' if name == 'success' else ''}>{html.escape(o.label)}</button>"
        for name, o in OUTCOMES.items()
    )
    body = (
        f'<div class="card"><p class="amount">{html.escape(amount.display())}</p>'
        f"<dl>{rows}</dl>"
        f'<form method="post" action="{wire.CHECKOUT_PATH}">'
        f'<input type="hidden" name="token" value="{html.escape(txn.token)}">'
        f"{buttons}</form></div>"
    )
    return simkit.page(GATEWAY, "Choose the payment outcome", body)


def error_page(code: str) -> str:
    message = ERROR_MESSAGES.get(code, "Lỗi không xác định (unknown error)")
    body = (
        f'<div class="card"><p>Error code <code>{html.escape(code)}</code></p>'
        f"<p>{html.escape(message)}</p></div>"
    )
    return simkit.page(GATEWAY, "Payment error", body)

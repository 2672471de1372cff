"""The console's orders and payments: search and filters, cursor paging, CSV export, the
order's full record, and its actions (cancel, refund, accept a review, record a manual
payment, redeliver an event).

Every action calls the service the merchant API calls (`services.checkout.cancel_order`,
`services.refunds.create_refund`, `services.review.accept_review`,
`services.manual.record_manual_payment`, `services.webhooks.redeliver`) with the console
user as the actor; the services check the rules and write the audit rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Form
from fastapi.responses import Response, StreamingResponse

from payhub.domain.errors import InvalidRequest, NotFound
from payhub.domain.lifecycle import OrderStatus
from payhub.gateways.registry import registry
from payhub.money import MAX_AMOUNT_MINOR, UnknownCurrency, exponent_of
from payhub.services import checkout, manual, refunds, review, webhooks
from payhub.store import reads
from payhub.store.reads import console_orders
from payhub.store.reads.console_orders import OrderRow, OrderSearch
from payhub.web.console.auth import ConsoleDep, allowed
from payhub.web.console.i18n import translator
from payhub.web.console.inputs import ID, identifier, plain_text, search_text
from payhub.web.console.rendering import Console
from payhub.web.console.roles import Action

router = APIRouter()

CSV_PAGE = 500
CSV_MAX_ROWS = 100_000
CSV_COLUMNS = (
    "order_id",
    "merchant_reference",
    "status",
    "currency",
    "amount_minor",
    "refunded_minor",
    "livemode",
    "customer_external_id",
    "customer_email",
    "gateways",
    "created_at",
    "paid_at",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A cell a spreadsheet will not run: text starting like a formula gets a `'` first."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def parse_amount(text: str, currency: str) -> int:
    """An amount the operator typed in major units ("10.50" MYR, "20.000" or "20000" VND) as
    minor units; `InvalidRequest` when it is not one."""
    try:
        exponent = exponent_of(currency)
    except UnknownCurrency as exc:
        raise InvalidRequest(str(exc)) from None
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    if exponent == 0:
        cleaned = cleaned.replace(".", "").replace(",", "")
    elif "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    else:
        cleaned = cleaned.replace(",", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidRequest(f"{text!r} is not an amount") from None
    if not amount.is_finite():
        raise InvalidRequest(f"{text!r} is not an amount")
    minor = amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise InvalidRequest(f"{text!r} has more decimals than {currency} has")
    if not 0 < minor <= MAX_AMOUNT_MINOR:
        raise InvalidRequest(f"the amount must be more than 0 and at most {MAX_AMOUNT_MINOR}")
    return int(minor)


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _search(
    console: Console,
    q: str,
    status: str,
    gateway: str,
    currency: str,
    date_from: str,
    date_to: str,
) -> OrderSearch:
    if status and status not in {s.value for s in OrderStatus}:
        raise InvalidRequest(f"unknown status {status!r}")
    zone = console.zone
    start, end = _day(date_from), _day(date_to)
    return OrderSearch(
        query=search_text(q) or None,
        status=status or None,
        gateway=search_text(gateway)[:32] or None,
        currency=search_text(currency).upper()[:3] or None,
        created_from=datetime.combine(start, time(0), zone).astimezone(UTC) if start else None,
        created_to=(
            datetime.combine(end + timedelta(days=1), time(0), zone).astimezone(UTC)
            if end
            else None
        ),
    )


@router.get("/orders")
async def order_list(
    console: ConsoleDep,
    q: str = "",
    status: str = "",
    gateway: str = "",
    currency: str = "",
    date_from: str = "",
    date_to: str = "",
    after: str = "",
) -> Response:
    search = _search(console, q, status, gateway, currency, date_from, date_to)
    page = await console_orders.order_rows(
        console.hub.db,
        console.merchant_id,
        search,
        limit=50,
        starting_after=identifier(after, "order") if after else None,
    )
    if page is None:
        raise NotFound(f"no order {after}")
    filters = {
        "q": q,
        "status": status,
        "gateway": gateway,
        "currency": currency,
        "date_from": date_from,
        "date_to": date_to,
    }
    return console.render(
        "orders.html",
        title="Orders",
        page=page,
        filters=filters,
        statuses=[s.value for s in OrderStatus],
        gateways=[*registry(), "manual"],
    )


async def _csv_lines(console: Console, search: OrderSearch) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: list[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_cell(v) for v in values])
        return buffer.getvalue()

    yield line(list(CSV_COLUMNS))
    after: str | None = None
    sent = 0
    while sent < CSV_MAX_ROWS:
        page = await console_orders.order_rows(
            console.hub.db, console.merchant_id, search, limit=CSV_PAGE, starting_after=after
        )
        if page is None:
            return
        for row in page.rows:
            yield line(_csv_values(row))
        sent += len(page.rows)
        if not page.has_more:
            return
        after = page.next_cursor


def _csv_values(row: OrderRow) -> list[object]:
    return [
        row.id,
        row.merchant_reference,
        row.status,
        row.currency,
        row.amount,
        row.refunded,
        "live" if row.livemode else "test",
        row.customer_external_id,
        row.customer_email,
        " ".join(row.gateways),
        row.created_at.isoformat(),
        row.paid_at.isoformat() if row.paid_at else "",
    ]


@router.get("/orders.csv")
async def order_export(
    console: ConsoleDep,
    q: str = "",
    status: str = "",
    gateway: str = "",
    currency: str = "",
    date_from: str = "",
    date_to: str = "",
) -> Response:
    """The search's orders as CSV (at most 100,000 rows), streamed page by page."""
    search = _search(console, q, status, gateway, currency, date_from, date_to)
    stamp = console.hub.clock.now().astimezone(console.zone).strftime("%Y%m%d-%H%M")
    filename = f"orders-{console.merchant_id}-{stamp}.csv"
    return StreamingResponse(
        _csv_lines(console, search),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/orders/{order_id}")
async def order_detail(console: ConsoleDep, order_id: str) -> Response:
    identifier(order_id, "order")
    view = await reads.order_view(console.hub.db, console.merchant_id, order_id)
    record = await console_orders.order_record(console.hub.db, console.merchant_id, order_id)
    if view is None or record is None:
        raise NotFound(f"no order {order_id}")
    refundable = [
        a for a in record.attempts if a.status == "succeeded" and a.refunded < (a.received or 0)
    ]
    in_review = [a for a in record.attempts if a.status == "review"]
    holds_stock = view.summary.status in ("awaiting_payment", "payment_failed")
    payable = view.summary.status in ("awaiting_payment", "payment_failed", "cancelled", "expired")
    return console.render(
        "order.html",
        title="Orders",
        order=view,
        record=record,
        refundable=refundable,
        in_review=in_review,
        cancellable=holds_stock,
        payable=payable,
    )


# -- actions ----------------------------------------------------------------------------------


@router.post("/orders/{order_id}/cancel")
async def cancel(order_id: str, console: Annotated[Console, allowed(Action.CANCEL)]) -> Response:
    await checkout.cancel_order(
        console.hub,
        console.merchant_id,
        order_id,
        actor=console.actor,
        source_ip=console.client_ip,
    )
    _ = translator(console.locale)
    return console.redirect(f"/orders/{order_id}", flash=_("The order is cancelled."))


async def _attempt_of_order(console: Console, payment_id: str) -> reads.PaymentView:
    identifier(payment_id, "payment")
    payment = await reads.payment_view(console.hub.db, payment_id)
    if payment is None or payment.merchant_id != console.merchant_id:
        raise NotFound(f"no payment {payment_id}")
    return payment


@router.post("/payments/{payment_id}/refund")
async def refund(
    payment_id: str,
    console: Annotated[Console, allowed(Action.REFUND)],
    reason: Annotated[str, Form(min_length=1, max_length=500)],
    amount: Annotated[str, Form(max_length=40)] = "",
    manual: Annotated[bool, Form()] = False,
) -> Response:
    """A refund through the gateway, or (`manual`) a record of money given back outside
    it, for gateways without a refund API and operator-recorded payments."""
    payment = await _attempt_of_order(console, payment_id)
    reason = plain_text(reason, "the reason")
    minor = parse_amount(amount, payment.currency) if amount.strip() else None
    result = await refunds.create_refund(
        console.hub,
        console.merchant_id,
        payment_id,
        amount=minor,
        reason=reason,
        manual=manual,
        actor=console.actor,
    )
    _ = translator(console.locale)
    shown = console.money(int(result["amount"]), payment.currency)
    status = str(result["status"])
    kind = {"succeeded": "ok", "pending": "warn"}.get(status, "bad")
    return console.redirect(
        f"/orders/{payment.order_id}",
        flash=f"{_('Refund')} {shown}: {_(status)}",
        kind=kind,
    )


@router.post("/payments/{payment_id}/accept")
async def accept(
    payment_id: str,
    console: Annotated[Console, allowed(Action.REVIEW)],
    note: Annotated[str, Form(min_length=1, max_length=500)],
    back: Annotated[str, Form(max_length=20)] = "order",
) -> Response:
    payment = await _attempt_of_order(console, payment_id)
    note = plain_text(note, "the note")
    await to_thread.run_sync(
        lambda: review.accept_review(
            console.hub, console.merchant_id, payment_id, actor=console.actor, note=note
        )
    )
    _ = translator(console.locale)
    target = "/review" if back == "review" else f"/orders/{payment.order_id}"
    return console.redirect(target, flash=_("Accepted: the order is paid."))


@router.post("/payments/{payment_id}/reject")
async def reject(
    payment_id: str,
    console: Annotated[Console, allowed(Action.REVIEW)],
    note: Annotated[str, Form(min_length=1, max_length=500)],
    manual: Annotated[bool, Form()] = False,
    back: Annotated[str, Form(max_length=20)] = "order",
) -> Response:
    payment = await _attempt_of_order(console, payment_id)
    note = plain_text(note, "the note")
    await review.reject_review(
        console.hub,
        console.merchant_id,
        payment_id,
        actor=console.actor,
        note=note,
        manual=manual,
    )
    _ = translator(console.locale)
    target = "/review" if back == "review" else f"/orders/{payment.order_id}"
    return console.redirect(target, flash=_("Rejected: the money goes back to the payer."))


@router.post("/orders/{order_id}/manual-payment")
async def manual_payment(
    order_id: str,
    console: Annotated[Console, allowed(Action.MANUAL_PAYMENT)],
    amount: Annotated[str, Form(min_length=1, max_length=40)],
    reference: Annotated[str, Form(min_length=1, max_length=100)],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    view = await reads.order_view(
        console.hub.db, console.merchant_id, identifier(order_id, "order")
    )
    if view is None:
        raise NotFound(f"no order {order_id}")
    minor = parse_amount(amount, view.summary.currency)
    reference = plain_text(reference, "the reference")
    note = plain_text(note, "the note")
    await to_thread.run_sync(
        lambda: manual.record_manual_payment(
            console.hub,
            console.merchant_id,
            order_id,
            amount=minor,
            reference=reference,
            note=note,
            actor=console.actor,
            source_ip=console.client_ip,
        )
    )
    _ = translator(console.locale)
    return console.redirect(f"/orders/{order_id}", flash=_("The manual payment is recorded."))


@router.post("/events/{event_id}/redeliver")
async def redeliver(
    event_id: str,
    console: Annotated[Console, allowed(Action.REDELIVER)],
    order_id: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    identifier(event_id, "event")
    count = await to_thread.run_sync(
        lambda: webhooks.redeliver(console.hub, console.merchant_id, event_id, actor=console.actor)
    )
    _ = translator(console.locale)
    target = f"/orders/{order_id}" if ID.fullmatch(order_id) else "/orders"
    return console.redirect(target, flash=f"{_('Deliveries due again:')} {count}")

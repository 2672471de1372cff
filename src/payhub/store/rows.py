"""Payments and orders read with one Core statement, for the webhook path.

Loading ORM objects and flushing them back costs several times more CPU than the SQL they
run. The inbound pipeline instead reads the attempt and its order in one locking SELECT
into these rows; settlement changes them by plain attribute assignment (as it does ORM
objects), each row keeps the values it was read with, and `save_row` writes the columns
that differ with one UPDATE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Select, Table, bindparam, select, update
from sqlalchemy.orm import Session

from payhub.store.direct import DirectStatement
from payhub.store.models import Order, Payment
from payhub.store.tables import table_of


@dataclass(slots=True, eq=False)
class PaymentRow:
    table: ClassVar[Table] = table_of(Payment)
    id: str
    merchant_id: str
    order_id: str
    gateway_account_id: str | None
    gateway: str
    gateway_reference: str
    gateway_txn_id: str | None
    status: str
    amount_minor: int
    currency: str
    received_minor: int | None
    review_reason: str | None
    failure_code: str | None
    failure_message: str | None
    updated_at: datetime
    loaded: tuple[Any, ...] = field(default=(), repr=False)  # the values as read


@dataclass(slots=True, eq=False)
class OrderRow:
    table: ClassVar[Table] = table_of(Order)
    id: str
    merchant_id: str
    merchant_reference: str
    customer_id: str | None
    currency: str
    status: str
    credits_to_grant: int
    cancel_on_failure: bool
    paid_at: datetime | None
    paid_payment_id: str | None
    updated_at: datetime
    loaded: tuple[Any, ...] = field(default=(), repr=False)  # the values as read


def _columns(row_type: type[PaymentRow] | type[OrderRow]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(row_type) if f.name != "loaded")


_PAYMENT_COLUMNS = _columns(PaymentRow)
_ORDER_COLUMNS = _columns(OrderRow)
_COLUMNS = {PaymentRow: _PAYMENT_COLUMNS, OrderRow: _ORDER_COLUMNS}


def select_payment_with_order() -> Select[Any]:
    """Columns of both rows, labelled `p_*` and `o_*`, joined on the payment's order;
    the caller adds the WHERE clause. Locks both rows on PostgreSQL."""
    payments, orders = PaymentRow.table, OrderRow.table
    return (
        select(
            *(payments.c[name].label(f"p_{name}") for name in _PAYMENT_COLUMNS),
            *(orders.c[name].label(f"o_{name}") for name in _ORDER_COLUMNS),
        )
        .select_from(payments.join(orders, orders.c.id == payments.c.order_id))
        .with_for_update()
    )


def rows_from(found: Sequence[Any]) -> tuple[PaymentRow, OrderRow]:
    """The two rows from one result of `select_payment_with_order` (payment columns first,
    then the order's; columns the caller added come after them)."""
    values = tuple(found)
    split, end = len(_PAYMENT_COLUMNS), len(_PAYMENT_COLUMNS) + len(_ORDER_COLUMNS)
    payment_values, order_values = values[:split], values[split:end]
    payment, order = PaymentRow(*payment_values), OrderRow(*order_values)
    payment.loaded, order.loaded = payment_values, order_values
    return payment, order


_UPDATES = {
    kind: DirectStatement(update(kind.table).where(kind.table.c.id == bindparam("row_id")))
    for kind in (PaymentRow, OrderRow)
}


def save_row(session: Session, row: PaymentRow | OrderRow) -> None:
    """Write the columns of `row` whose values changed since it was read (nothing when
    none did)."""
    names = _COLUMNS[type(row)]
    changed = {
        name: value
        for name, value, was in zip(
            names, (getattr(row, n) for n in names), row.loaded, strict=True
        )
        if value != was
    }
    if not changed:
        return
    _UPDATES[type(row)].run(session, {"row_id": row.id, **changed}, set_columns=tuple(changed))
    row.loaded = tuple(getattr(row, n) for n in names)

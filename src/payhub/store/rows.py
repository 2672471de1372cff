"""Attempts and orders as plain records read with Core: the one row model of settlement.

Loading ORM objects and flushing them back costs several times more CPU than the SQL they
run. Every path that settles (notifications, queries, manual payments, review actions,
cancels, refunds) instead reads the attempt and its order into these records, in one
locking SELECT where it can; settlement changes them by plain attribute assignment, each
record keeps the values it was read with, and `save_row` writes the columns that differ
with one UPDATE. Private to store/: services get the records from `store.attempts`.
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
class AttemptRecord:
    """What settlement reads and changes on a payment attempt."""

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
    refunded_minor: int
    review_reason: str | None
    failure_code: str | None
    failure_message: str | None
    updated_at: datetime
    loaded: tuple[Any, ...] = field(default=(), repr=False)  # the values as read


@dataclass(slots=True, eq=False)
class OrderRecord:
    """What settlement reads and changes on an order."""

    table: ClassVar[Table] = table_of(Order)
    id: str
    merchant_id: str
    merchant_reference: str
    customer_id: str | None
    currency: str
    status: str
    total_minor: int
    refunded_minor: int
    credits_to_grant: int
    cancel_on_failure: bool
    paid_at: datetime | None
    paid_payment_id: str | None
    updated_at: datetime
    loaded: tuple[Any, ...] = field(default=(), repr=False)  # the values as read


def _columns(row_type: type[AttemptRecord] | type[OrderRecord]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(row_type) if f.name != "loaded")


_PAYMENT_COLUMNS = _columns(AttemptRecord)
_ORDER_COLUMNS = _columns(OrderRecord)
_COLUMNS = {AttemptRecord: _PAYMENT_COLUMNS, OrderRecord: _ORDER_COLUMNS}


def select_payment_with_order() -> Select[Any]:
    """Columns of both rows, labelled `p_*` and `o_*`, joined on the payment's order;
    the caller adds the WHERE clause. Locks both rows on PostgreSQL."""
    payments, orders = AttemptRecord.table, OrderRecord.table
    return (
        select(
            *(payments.c[name].label(f"p_{name}") for name in _PAYMENT_COLUMNS),
            *(orders.c[name].label(f"o_{name}") for name in _ORDER_COLUMNS),
        )
        .select_from(payments.join(orders, orders.c.id == payments.c.order_id))
        .with_for_update()
    )


def rows_from(found: Sequence[Any]) -> tuple[AttemptRecord, OrderRecord]:
    """The two rows from one result of `select_payment_with_order` (payment columns first,
    then the order's; columns the caller added come after them)."""
    values = tuple(found)
    split, end = len(_PAYMENT_COLUMNS), len(_PAYMENT_COLUMNS) + len(_ORDER_COLUMNS)
    payment_values, order_values = values[:split], values[split:end]
    payment, order = AttemptRecord(*payment_values), OrderRecord(*order_values)
    payment.loaded, order.loaded = payment_values, order_values
    return payment, order


def select_records(kind: type[AttemptRecord] | type[OrderRecord]) -> Select[Any]:
    """The columns of one kind of record, locked (FOR UPDATE on PostgreSQL); the caller
    adds the WHERE clause."""
    return select(*(kind.table.c[name] for name in _COLUMNS[kind])).with_for_update()


def attempt_from(found: Sequence[Any]) -> AttemptRecord:
    """The attempt from one result of `select_records(AttemptRecord)`."""
    values = tuple(found)
    attempt = AttemptRecord(*values)
    attempt.loaded = values
    return attempt


def order_from(found: Sequence[Any]) -> OrderRecord:
    """The order from one result of `select_records(OrderRecord)`."""
    values = tuple(found)
    order = OrderRecord(*values)
    order.loaded = values
    return order


_UPDATES = {
    kind: DirectStatement(update(kind.table).where(kind.table.c.id == bindparam("row_id")))
    for kind in (AttemptRecord, OrderRecord)
}


def save_row(session: Session, row: AttemptRecord | OrderRecord) -> None:
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

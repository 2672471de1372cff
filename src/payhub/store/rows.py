"""Payments and orders read with one Core statement, for the webhook path.

Loading ORM objects and flushing them back costs several times more CPU than the SQL they
run. The inbound pipeline instead reads the attempt and its order in one locking SELECT
into these rows; settlement changes them by plain attribute assignment (as it does ORM
objects), each row remembers which columns were assigned, and `save_row` writes exactly
those columns with one UPDATE.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import RowMapping, Select, Table, bindparam, select, update
from sqlalchemy.orm import Session

from payhub.store.models import Order, Payment
from payhub.store.tables import execute_core, table_of


class _Tracked:
    """Remembers the names of the fields assigned after construction."""

    __slots__ = ()
    changed: set[str]

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        changed = getattr(self, "changed", None)  # not there yet while __init__ runs
        if changed is not None and name != "changed":
            changed.add(name)


@dataclass(slots=True, eq=False)
class PaymentRow(_Tracked):
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
    changed: set[str] = field(default_factory=set, repr=False)


@dataclass(slots=True, eq=False)
class OrderRow(_Tracked):
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
    changed: set[str] = field(default_factory=set, repr=False)


def _columns(row_type: type[PaymentRow] | type[OrderRow]) -> list[str]:
    return [f.name for f in fields(row_type) if f.name != "changed"]


_PAYMENT_COLUMNS = _columns(PaymentRow)
_ORDER_COLUMNS = _columns(OrderRow)


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


def rows_from(found: RowMapping) -> tuple[PaymentRow, OrderRow]:
    """The two rows from one result of `select_payment_with_order`."""
    payment = PaymentRow(*(found[f"p_{name}"] for name in _PAYMENT_COLUMNS))
    order = OrderRow(*(found[f"o_{name}"] for name in _ORDER_COLUMNS))
    return payment, order


_UPDATES = {
    kind: update(kind.table).where(kind.table.c.id == bindparam("row_id"))
    for kind in (PaymentRow, OrderRow)
}


def save_row(session: Session, row: PaymentRow | OrderRow) -> None:
    """Write the assigned columns of `row` (nothing when none were assigned)."""
    if not row.changed:
        return
    values = {name: getattr(row, name) for name in sorted(row.changed)}
    execute_core(session, _UPDATES[type(row)], {"row_id": row.id, **values})
    row.changed.clear()

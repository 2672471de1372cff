"""Payment attempts and their orders: locked and read as records, saved, opened, found.

Settlement works on `AttemptRecord` and `OrderRecord` on every path (store.rows): a lock
operation reads them, settlement changes their fields, `save` writes the fields that
changed. The other operations here are the attempt's own bookkeeping (opening one, its
checkout link, its reference) and the reads that views and gateway calls need, which hand
back the ORM `Payment` to read (not to change).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update

from payhub.store.direct import DirectStatement
from payhub.store.models import Order, Payment
from payhub.store.rows import (
    AttemptRecord,
    OrderRecord,
    attempt_from,
    order_from,
    rows_from,
    save_row,
    select_payment_with_order,
    select_records,
)
from payhub.store.tx import Reader, Tx, session_of

__all__ = [
    "AttemptRecord",
    "OrderRecord",
    "attempt_in_flight",
    "attempt_status",
    "attempts_in_review",
    "attempts_of_order",
    "claim_attempts_to_close",
    "claim_due_checks",
    "find_attempt",
    "find_attempt_by_reference",
    "live_attempts",
    "lock_attempt",
    "lock_attempt_and_order",
    "lock_attempt_and_order_by_reference",
    "lock_live_attempts",
    "lock_order",
    "mark_closed_at_gateway",
    "newest_pending_attempt",
    "open_attempt",
    "other_live_attempt",
    "record_check",
    "record_checkout",
    "save",
    "set_reference",
]

_PAYMENTS = AttemptRecord.table
# Built once: statements on the webhook path take their values as parameters, so
# SQLAlchemy neither rebuilds them nor recomputes their cache keys per call.
_LOCK_BY_REFERENCE = DirectStatement(
    select_payment_with_order().where(
        _PAYMENTS.c.gateway_account_id == bindparam("account_id"),
        _PAYMENTS.c.gateway_reference == bindparam("reference"),
    )
)
_LOCK_BY_ID = DirectStatement(select_payment_with_order().where(_PAYMENTS.c.id == bindparam("id")))
_LOCK_ORDER = DirectStatement(
    select_records(OrderRecord).where(OrderRecord.table.c.id == bindparam("id"))
)
_LOCK_ATTEMPT = DirectStatement(
    select_records(AttemptRecord).where(_PAYMENTS.c.id == bindparam("id"))
)
_LOCK_LIVE = select_records(AttemptRecord).where(
    _PAYMENTS.c.order_id == bindparam("order_id"),
    _PAYMENTS.c.status.in_(bindparam("statuses", expanding=True)),
)
_OTHER_LIVE = select(_PAYMENTS.c.id).where(
    _PAYMENTS.c.order_id == bindparam("order_id"),
    _PAYMENTS.c.id != bindparam("payment_id"),
    _PAYMENTS.c.status.in_(bindparam("statuses", expanding=True)),
)


def lock_attempt_and_order_by_reference(
    tx: Tx, account_id: str, reference: str
) -> tuple[AttemptRecord, OrderRecord] | None:
    """The attempt an inbound notification names and its order, both locked, in one
    statement.

    Check the dedupe key in a statement of its own, after this one: on PostgreSQL a
    statement that waited for the lock still reads with the snapshot it started with, so
    it would miss an event that the lock holder has just committed."""
    found = _LOCK_BY_REFERENCE.run(tx._session, {"account_id": account_id, "reference": reference})
    return rows_from(found[0]) if found else None


def lock_attempt_and_order(tx: Tx, payment_id: str) -> tuple[AttemptRecord, OrderRecord] | None:
    """The attempt and its order, both locked for this transaction (FOR UPDATE on
    PostgreSQL; on SQLite the BEGIN IMMEDIATE write lock already serialises writers)."""
    found = _LOCK_BY_ID.run(tx._session, {"id": payment_id})
    return rows_from(found[0]) if found else None


def lock_attempt(tx: Tx, payment_id: str) -> AttemptRecord | None:
    """The attempt alone, locked (its order is not)."""
    found = _LOCK_ATTEMPT.run(tx._session, {"id": payment_id})
    return attempt_from(found[0]) if found else None


def lock_order(tx: Tx, order_id: str) -> OrderRecord:
    """The order, locked for this transaction."""
    [found] = _LOCK_ORDER.run(tx._session, {"id": order_id})
    return order_from(found)


def lock_live_attempts(tx: Tx, order_id: str, statuses: list[str]) -> list[AttemptRecord]:
    """The order's attempts in one of `statuses`, locked."""
    session = tx._session
    rows = session.execute(_LOCK_LIVE, {"order_id": order_id, "statuses": statuses}).all()
    return [attempt_from(row) for row in rows]


def other_live_attempt(tx: Tx, order_id: str, payment_id: str, statuses: list[str]) -> bool:
    """Whether another attempt of the order is in one of `statuses`."""
    found = tx._session.execute(
        _OTHER_LIVE, {"order_id": order_id, "payment_id": payment_id, "statuses": statuses}
    )
    return found.first() is not None


def save(tx: Tx, *records: AttemptRecord | OrderRecord) -> None:
    """Write the fields of each record that changed since it was read."""
    session = tx._session
    for record in records:
        save_row(session, record)


def open_attempt(
    tx: Tx,
    *,
    payment_id: str,
    merchant_id: str,
    order_id: str,
    gateway_account_id: str | None,
    gateway: str,
    gateway_reference: str,
    status: str,
    amount_minor: int,
    currency: str,
    gateway_data: dict[str, Any],
    expires_at: datetime | None,
    now: datetime,
) -> int:
    """Write a new attempt; returns its serial (the number gateway references are made of)."""
    payment = Payment(
        id=payment_id,
        merchant_id=merchant_id,
        order_id=order_id,
        gateway_account_id=gateway_account_id,
        gateway=gateway,
        gateway_reference=gateway_reference,
        status=status,
        amount_minor=amount_minor,
        currency=currency,
        refunded_minor=0,
        gateway_data=gateway_data,
        expires_at=expires_at,
        created_at=now,
        updated_at=now,
    )
    session = tx._session
    session.add(payment)
    session.flush()
    return payment.serial


def set_reference(tx: Tx, payment_id: str, reference: str) -> None:
    """Give the attempt its gateway reference."""
    tx._session.execute(
        update(Payment).where(Payment.id == payment_id).values(gateway_reference=reference)
    )


def record_checkout(
    tx: Tx,
    payment_id: str,
    *,
    status: str,
    reference: str | None,
    checkout_url: str | None,
    qr_content: str | None,
    deeplink: str | None,
    gateway_data: dict[str, Any],
    expires_at: datetime | None,
    now: datetime,
) -> None:
    """What the gateway answered when it created the attempt: its link and data."""
    values: dict[str, Any] = {
        "status": status,
        "checkout_url": checkout_url,
        "qr_content": qr_content,
        "deeplink": deeplink,
        "gateway_data": gateway_data,
        "updated_at": now,
    }
    if reference:
        values["gateway_reference"] = reference
    if expires_at is not None:
        values["expires_at"] = expires_at
    tx._session.execute(update(Payment).where(Payment.id == payment_id).values(**values))


def find_attempt(reader: Reader, payment_id: str) -> Payment | None:
    """The attempt as stored now, to read."""
    return session_of(reader).scalar(
        select(Payment).where(Payment.id == payment_id).execution_options(populate_existing=True)
    )


def find_attempt_by_reference(reader: Reader, account_id: str, reference: str) -> Payment | None:
    """The attempt the account knows by this gateway reference, to read."""
    return session_of(reader).scalar(
        select(Payment).where(
            Payment.gateway_account_id == account_id, Payment.gateway_reference == reference
        )
    )


def attempt_status(reader: Reader, payment_id: str) -> str | None:
    return session_of(reader).scalar(select(Payment.status).where(Payment.id == payment_id))


def newest_pending_attempt(reader: Reader, order_id: str, gateway: str) -> Payment | None:
    """The order's newest `pending` attempt on `gateway`."""
    return session_of(reader).scalar(
        select(Payment)
        .where(
            Payment.order_id == order_id,
            Payment.gateway == gateway,
            Payment.status == "pending",
        )
        .order_by(Payment.serial.desc())
    )


def attempt_in_flight(reader: Reader, order_id: str, gateway: str, since: datetime) -> bool:
    """Whether an attempt on `gateway` was opened (`initiated`) after `since` and is still
    waiting for the gateway's answer."""
    return (
        session_of(reader).scalar(
            select(Payment.id).where(
                Payment.order_id == order_id,
                Payment.gateway == gateway,
                Payment.status == "initiated",
                Payment.created_at > since,
            )
        )
        is not None
    )


def live_attempts(reader: Reader, order_id: str, statuses: list[str]) -> list[Payment]:
    """The order's attempts at a gateway that are in one of `statuses`, to read."""
    return list(
        session_of(reader).scalars(
            select(Payment).where(
                Payment.order_id == order_id,
                Payment.status.in_(statuses),
                Payment.gateway_account_id.is_not(None),
            )
        )
    )


def attempts_of_order(reader: Reader, order_id: str) -> list[Payment]:
    """The order's attempts, oldest first, to read."""
    return list(
        session_of(reader).scalars(
            select(Payment).where(Payment.order_id == order_id).order_by(Payment.serial)
        )
    )


def attempts_in_review(reader: Reader, merchant_id: str) -> list[Payment]:
    """The merchant's attempts waiting for an operator, oldest change first."""
    return list(
        session_of(reader).scalars(
            select(Payment)
            .where(Payment.merchant_id == merchant_id, Payment.status == "review")
            .order_by(Payment.updated_at)
        )
    )


def claim_due_checks(
    tx: Tx,
    now: datetime,
    *,
    statuses: list[str],
    quiet_since: datetime,
    worker: str,
    lease_until: datetime,
    limit: int,
) -> list[str]:
    """Claim up to `limit` attempts in `statuses` whose gateway check is due: its
    `next_check_at` has come, or (never scheduled) it has not changed since `quiet_since`.
    Rows another worker holds (locked, or leased until later) are skipped."""
    session = tx._session
    ids = list(
        session.scalars(
            select(Payment.id)
            .where(
                Payment.status.in_(statuses),
                Payment.gateway_account_id.is_not(None),
                or_(
                    Payment.next_check_at <= now,
                    and_(Payment.next_check_at.is_(None), Payment.updated_at <= quiet_since),
                ),
                or_(Payment.claimed_until.is_(None), Payment.claimed_until < now),
            )
            .order_by(Payment.next_check_at, Payment.updated_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(
            update(Payment)
            .where(Payment.id.in_(ids))
            .values(claimed_by=worker, claimed_until=lease_until)
            .execution_options(synchronize_session=False)
        )
    return ids


def record_check(
    tx: Tx, payment_id: str, *, next_check_at: datetime, worker: str | None = None
) -> int | None:
    """Count one gateway check of the attempt (in SQL) and set when the next is due.
    With `worker`, only while that worker holds the claim, which it gives up; without
    (a browser return's query), the claim is left alone. The count afterwards, or None."""
    conditions = [Payment.id == payment_id]
    values: dict[str, Any] = {
        "check_count": Payment.check_count + 1,
        "next_check_at": next_check_at,
    }
    if worker is not None:
        conditions.append(Payment.claimed_by == worker)
        values |= {"claimed_by": None, "claimed_until": None}
    counted = tx._session.execute(
        update(Payment)
        .where(*conditions)
        .values(**values)
        .returning(Payment.check_count)
        .execution_options(synchronize_session=False)
    ).scalar()
    return None if counted is None else int(counted)


def claim_attempts_to_close(
    tx: Tx,
    now: datetime,
    *,
    statuses: list[str],
    order_statuses: list[str],
    gateways: list[str],
    worker: str,
    lease_until: datetime,
    limit: int,
) -> list[str]:
    """Claim attempts in `statuses` of orders in `order_statuses`, at `gateways`, that
    were never closed at the gateway (the hub gave up on them; their link may be payable)."""
    session = tx._session
    ids = list(
        session.scalars(
            select(Payment.id)
            .join(Order, Order.id == Payment.order_id)
            .where(
                Payment.status.in_(statuses),
                Order.status.in_(order_statuses),
                Payment.gateway.in_(gateways),
                Payment.gateway_account_id.is_not(None),
                Payment.gateway_closed_at.is_(None),
                or_(Payment.claimed_until.is_(None), Payment.claimed_until < now),
            )
            .order_by(Payment.updated_at)
            .limit(limit)
            .with_for_update(skip_locked=True, of=Payment)
        )
    )
    if ids:
        session.execute(
            update(Payment)
            .where(Payment.id.in_(ids))
            .values(claimed_by=worker, claimed_until=lease_until)
            .execution_options(synchronize_session=False)
        )
    return ids


def mark_closed_at_gateway(tx: Tx, payment_id: str, now: datetime) -> None:
    """The attempt's link or bill is closed at the gateway (or there is nothing to close);
    any claim on it is given up."""
    tx._session.execute(
        update(Payment)
        .where(Payment.id == payment_id)
        .values(gateway_closed_at=now, claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )

"""Payment and order rows read with Core: only columns whose values changed are written."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from payhub.store.db import Database
from payhub.store.models import Payment
from payhub.store.rows import rows_from, save_row, select_payment_with_order
from payhub.store.tables import table_of
from tests.store.conftest import NOW


@contextmanager
def updates_sent(session: Session) -> Iterator[list[str]]:
    """The UPDATE statements the session's connection sends to the database meanwhile,
    seen by the driver itself (the webhook path runs some statements on the DBAPI cursor,
    below SQLAlchemy's events): SQLite's trace callback, libpq's protocol trace."""
    sent: list[str] = []
    dbapi = session.connection().connection.driver_connection
    if isinstance(dbapi, sqlite3.Connection):
        dbapi.set_trace_callback(sent.append)
        try:
            yield sent
        finally:
            dbapi.set_trace_callback(None)
    else:
        with tempfile.TemporaryFile(mode="w+") as trace:
            dbapi.pgconn.trace(trace.fileno())
            try:
                yield sent
            finally:
                dbapi.pgconn.untrace()
                trace.seek(0)
                # Frontend messages: "<time>\tF\t<length>\tParse|Query\t <text>"
                sent.extend(
                    line.split("\t", 4)[4]
                    for line in trace
                    if line.count("\t") >= 4
                    and line.split("\t")[1] == "F"
                    and line.split("\t")[3] in ("Parse", "Query")
                )
    sent[:] = [s for s in sent if "UPDATE " in s]


_BY_REFERENCE = select_payment_with_order().where(table_of(Payment).c.gateway_reference == "123")


def test_rows_are_read_together_and_only_changed_columns_are_written(seeded: Database) -> None:
    later = NOW + timedelta(minutes=1)
    with seeded.transaction() as session, updates_sent(session) as updates:
        found = session.connection().execute(_BY_REFERENCE).one()
        payment, order = rows_from(found)
        assert (payment.id, payment.status, payment.amount_minor) == ("pay_1", "pending", 20_000)
        assert (order.id, order.status, order.credits_to_grant) == (
            "ord_1",
            "awaiting_payment",
            100,
        )
        save_row(session, order)  # nothing changed: no statement
        payment.status = "succeeded"
        payment.received_minor = 20_000
        payment.updated_at = later
        payment.currency = "VND"  # the same value again: not a change
        save_row(session, payment)
        save_row(session, payment)  # saved already: nothing more to write
    assert not any("UPDATE orders" in s for s in updates)  # the unchanged order: no statement
    assert len(updates) == 1 and "UPDATE payments" in updates[0]
    assert "status" in updates[0] and "received_minor" in updates[0]
    assert "currency" not in updates[0] and "amount_minor" not in updates[0]
    with seeded.engine.connect() as conn:
        stored = conn.execute(
            select(Payment.status, Payment.received_minor, Payment.currency)
        ).one()
    assert tuple(stored) == ("succeeded", 20_000, "VND")

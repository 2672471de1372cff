"""Payment and order rows read with Core: only columns whose values changed are written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.engine import Connection

from payhub.store.db import Database
from payhub.store.models import GatewayAccount, Merchant, Order, Payment
from payhub.store.rows import rows_from, save_row, select_payment_with_order
from payhub.store.tables import table_of

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@pytest.fixture
def seeded(db: Database) -> Database:
    with db.engine.begin() as conn:
        conn.execute(
            insert(table_of(Merchant)),
            {"id": "mer_1", "name": "Shop", "created_at": NOW},
        )
        conn.execute(
            insert(table_of(GatewayAccount)),
            {
                "id": "gwa_1",
                "merchant_id": "mer_1",
                "gateway": "payos",
                "environment": "simulator",
                "base_url": "http://127.0.0.1:1",
                "enabled": True,
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
        conn.execute(
            insert(table_of(Order)),
            {
                "id": "ord_1",
                "merchant_id": "mer_1",
                "merchant_reference": "r1",
                "currency": "VND",
                "total_minor": 20_000,
                "refunded_minor": 0,
                "status": "awaiting_payment",
                "description": "",
                "credits_to_grant": 100,
                "cancel_on_failure": False,
                "metadata": {},
                "expires_at": NOW + timedelta(minutes=30),
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
        conn.execute(
            insert(table_of(Payment)),
            {
                "id": "pay_1",
                "merchant_id": "mer_1",
                "order_id": "ord_1",
                "gateway_account_id": "gwa_1",
                "gateway": "payos",
                "gateway_reference": "123",
                "status": "pending",
                "amount_minor": 20_000,
                "currency": "VND",
                "refunded_minor": 0,
                "gateway_data": {},
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
    return db


@pytest.fixture
def updates(seeded: Database) -> Iterator[list[str]]:
    """The UPDATE statements the engine sends while the test runs."""
    sent: list[str] = []

    def record(_conn: Connection, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            sent.append(statement)

    event.listen(seeded.engine, "before_cursor_execute", record)
    yield sent
    event.remove(seeded.engine, "before_cursor_execute", record)


_BY_REFERENCE = select_payment_with_order().where(table_of(Payment).c.gateway_reference == "123")


def test_rows_are_read_together_and_only_changed_columns_are_written(
    seeded: Database, updates: list[str]
) -> None:
    later = NOW + timedelta(minutes=1)
    with seeded.transaction() as session:
        found = session.connection().execute(_BY_REFERENCE).one()
        payment, order = rows_from(found)
        assert (payment.id, payment.status, payment.amount_minor) == ("pay_1", "pending", 20_000)
        assert (order.id, order.status, order.credits_to_grant) == (
            "ord_1",
            "awaiting_payment",
            100,
        )
        save_row(session, order)  # nothing changed: no statement
        assert updates == []
        payment.status = "succeeded"
        payment.received_minor = 20_000
        payment.updated_at = later
        payment.currency = "VND"  # the same value again: not a change
        save_row(session, payment)
        save_row(session, payment)  # saved already: nothing more to write
    assert len(updates) == 1
    assert "status" in updates[0] and "received_minor" in updates[0]
    assert "currency" not in updates[0] and "amount_minor" not in updates[0]
    with seeded.engine.connect() as conn:
        stored = conn.execute(
            select(Payment.status, Payment.received_minor, Payment.currency)
        ).one()
    assert tuple(stored) == ("succeeded", 20_000, "VND")

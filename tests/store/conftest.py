"""A migrated database and its `Database`, on SQLite and on PostgreSQL; `seeded` adds one
merchant, PayOS account, order (`ord_1`) and pending attempt (`pay_1`, reference 123)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from payhub.store.db import Database
from payhub.store.migrate import upgrade
from payhub.store.models import GatewayAccount, Merchant, Order, Payment
from payhub.store.tables import table_of


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    upgrade(db_url)
    database = Database(db_url)
    yield database
    database.dispose()


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

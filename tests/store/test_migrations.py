"""Migrations on a database that holds data: down to 0002 and up again, on SQLite (whose
batch mode rebuilds tables that other rows refer to) and PostgreSQL, losing nothing."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from payhub.services.orders import CustomerDraft, ItemDraft, OrderDraft, create_order
from payhub.store.migrate import alembic_config, upgrade
from tests.support.hub import make_hub


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as c:
        counts = {
            t: int(c.execute(text(f"select count(*) from {t}")).scalar_one())
            for t in ("merchants", "products", "orders", "order_items", "stock_movements")
        }
        if url.startswith("sqlite"):
            assert c.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    engine.dispose()
    return counts


def test_a_populated_database_goes_down_to_0002_and_up_again(db_url: str) -> None:
    url = db_url
    th = make_hub(url)
    for n in range(3):
        create_order(
            th.hub,
            th.merchant_id,
            OrderDraft(
                merchant_reference=f"m-{n}",
                currency="VND",
                items=[ItemDraft(sku="pack-100", quantity=1)],
                customer=CustomerDraft(external_id=f"c-{n}"),
            ),
        )
    th.hub.db.dispose()
    before = _counts(url)
    assert before["orders"] == 3
    command.downgrade(alembic_config(url), "0002")
    upgrade(url)
    assert _counts(url) == before


def test_spent_credits_keep_the_database_above_0013(sqlite_url: str) -> None:
    from payhub.services.ledger import adjust_credits

    th = make_hub(sqlite_url)
    create_order(
        th.hub,
        th.merchant_id,
        OrderDraft(
            merchant_reference="m-1",
            currency="VND",
            items=[ItemDraft(sku="pack-100", quantity=1)],
            customer=CustomerDraft(external_id="c-1"),
        ),
    )
    adjust_credits(th.hub, th.merchant_id, "c-1", 10, "gift", "test")
    th.hub.db.dispose()
    with pytest.raises(RuntimeError, match="1 credit debits/adjustments exist"):
        command.downgrade(alembic_config(sqlite_url), "0006")
    engine = create_engine(sqlite_url)
    with engine.connect() as c:
        assert c.execute(text("select count(*) from credit_entries")).scalar_one() == 1
    engine.dispose()


def test_0009_makes_each_merchants_oldest_key_its_owner_key(db_url: str) -> None:
    url = db_url
    upgrade(url, "0006")
    engine = create_engine(url)
    with engine.begin() as c:
        for mid in ("mer_a", "mer_b"):
            c.execute(
                text("insert into merchants (id, name, created_at) values (:id, 'x', :at)"),
                {"id": mid, "at": "2026-01-01 00:00:00+00:00"},
            )
        for key_id, mid, at in [
            ("key_a2", "mer_a", "2026-01-02 00:00:00+00:00"),
            ("key_a1", "mer_a", "2026-01-01 00:00:00+00:00"),
            ("key_b1", "mer_b", "2026-01-03 00:00:00+00:00"),
        ]:
            c.execute(
                text(
                    "insert into api_keys (id, merchant_id, prefix, key_hash, mode, label,"
                    " created_at) values (:id, :mid, :id, :id, 'test', '', :at)"
                ),
                {"id": key_id, "mid": mid, "at": at},
            )
    upgrade(url)
    with engine.connect() as c:
        roles = dict(c.execute(text("select id, role from api_keys")).all())
    engine.dispose()
    assert roles == {"key_a1": "owner", "key_a2": "standard", "key_b1": "owner"}

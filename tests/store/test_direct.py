"""DirectStatement: the same values in and out as SQLAlchemy's own execution, in the
session's transaction, with SQLAlchemy's errors and no parameters in them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from payhub.store.db import Database
from payhub.store.direct import DirectStatement
from payhub.store.models import AuditEntry, InboundRequest, Order, Payment, TimelineEntry
from payhub.store.tables import table_of
from tests.store.conftest import NOW

ORDERS = table_of(Order)
PAYMENTS = table_of(Payment)

_READ_ORDER = select(
    ORDERS.c.id,
    ORDERS.c.credits_to_grant,
    ORDERS.c.cancel_on_failure,
    ORDERS.c.expires_at,
    ORDERS.c.paid_at,
    ORDERS.c.metadata,
).where(ORDERS.c.id == bindparam("order_id"))
_SET_PAYMENT = update(PAYMENTS).where(PAYMENTS.c.id == bindparam("row_id"))


def test_rows_come_back_as_sqlalchemy_returns_them(seeded: Database) -> None:
    with seeded.transaction() as session:
        expected = session.connection().execute(_READ_ORDER, {"order_id": "ord_1"}).all()
        direct = DirectStatement(_READ_ORDER).run(session, {"order_id": "ord_1"})
        assert direct == [tuple(row) for row in expected]
        order_id, credits, cancel, expires, paid_at, metadata = direct[0]
        assert (order_id, credits, cancel, paid_at, metadata) == ("ord_1", 100, False, None, {})
        assert type(cancel) is bool and expires.replace(tzinfo=None) == (
            NOW + timedelta(minutes=30)
        ).replace(tzinfo=None)
        assert DirectStatement(_READ_ORDER).run(session, {"order_id": "nope"}) == []


def test_an_update_sets_the_named_columns_and_returns(seeded: Database) -> None:
    later = NOW + timedelta(hours=1)
    set_status = DirectStatement(_SET_PAYMENT)
    add_credits = DirectStatement(
        update(ORDERS)
        .where(ORDERS.c.id == bindparam("order_id"))
        .values(credits_to_grant=ORDERS.c.credits_to_grant + bindparam("more"))
        .returning(ORDERS.c.credits_to_grant, ORDERS.c.updated_at)
    )
    with seeded.transaction() as session:
        params: dict[str, Any] = {"row_id": "pay_1", "status": "succeeded", "updated_at": later}
        assert set_status.run(session, params, set_columns=("status", "updated_at")) == []
        assert (
            set_status.run(
                session, {"row_id": "pay_1", "received_minor": 5}, set_columns=("received_minor",)
            )
            == []
        )
        [(credits, updated_at)] = add_credits.run(session, {"order_id": "ord_1", "more": 5})
        assert credits == 105 and updated_at.replace(tzinfo=None) == NOW.replace(tzinfo=None)
    with seeded.engine.connect() as conn:
        stored = conn.execute(
            select(PAYMENTS.c.status, PAYMENTS.c.received_minor, PAYMENTS.c.updated_at)
        ).one()
        credits = conn.execute(select(ORDERS.c.credits_to_grant)).scalar_one()
    assert (stored.status, stored.received_minor, credits) == ("succeeded", 5, 105)
    assert stored.updated_at.replace(tzinfo=None) == later.replace(tzinfo=None)


def test_it_runs_in_the_session_transaction(seeded: Database) -> None:
    set_status = DirectStatement(_SET_PAYMENT)
    with pytest.raises(RuntimeError), seeded.transaction() as session:
        set_status.run(session, {"row_id": "pay_1", "status": "failed"}, set_columns=("status",))
        raise RuntimeError("roll back")
    with seeded.engine.connect() as conn:
        assert conn.execute(select(PAYMENTS.c.status)).scalar_one() == "pending"


def test_a_missing_parameter_is_named_and_nothing_runs(seeded: Database) -> None:
    with seeded.transaction() as session:
        with pytest.raises(KeyError, match="'row_id'"):
            DirectStatement(_SET_PAYMENT).run(
                session, {"status": "failed"}, set_columns=("status",)
            )
    with seeded.engine.connect() as conn:
        assert conn.execute(select(PAYMENTS.c.status)).scalar_one() == "pending"


def test_database_errors_are_sqlalchemy_errors_without_the_parameters(seeded: Database) -> None:
    secret = "hunter2-not-in-errors"
    with seeded.transaction() as session:
        session.connection().execute(
            insert(PAYMENTS),
            {
                "id": "pay_2",
                "merchant_id": "mer_1",
                "order_id": "ord_1",
                "gateway_account_id": "gwa_1",
                "gateway": "payos",
                "gateway_reference": "456",
                "status": "pending",
                "amount_minor": 1,
                "currency": "VND",
                "refunded_minor": 0,
                "gateway_data": {},
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
    # (gateway_account_id, gateway_reference) is unique: moving pay_2 onto 123 breaks it.
    with pytest.raises(IntegrityError) as caught, seeded.transaction() as session:
        DirectStatement(_SET_PAYMENT).run(
            session,
            {"row_id": "pay_2", "gateway_reference": "123", "failure_message": secret},
            set_columns=("gateway_reference", "failure_message"),
        )
    assert secret not in str(caught.value) and secret not in repr(caught.value)
    with seeded.engine.connect() as conn:
        refs = conn.execute(select(PAYMENTS.c.gateway_reference).order_by(PAYMENTS.c.id)).all()
    assert [r[0] for r in refs] == ["123", "456"]


def test_inserts_name_their_columns_and_return(seeded: Database) -> None:
    inbound = table_of(InboundRequest)
    add_inbound = DirectStatement(insert(inbound).returning(inbound.c.id, inbound.c.headers))
    add_audit = DirectStatement(insert(table_of(AuditEntry)))
    row = {
        "merchant_id": "mer_1",
        "gateway": "payos",
        "gateway_account_id": "gwa_1",
        "kind": "notification",
        "method": "POST",
        "path": "/callbacks/payos/gwa_1",
        "query_string": "",
        "headers": {"content-type": "application/json"},
        "body": b'{"code":"00"}',
        "source_ip": "127.0.0.1",
        "outcome": "applied",
        "detail": "",
        "payment_id": "pay_1",
        "received_at": NOW,
    }
    audits = [
        {
            "merchant_id": "mer_1",
            "actor": "test",
            "action": "test.many",
            "subject": f"s{i}",
            "source_ip": None,
            "before": None,
            "after": {"i": i},
            "created_at": NOW,
        }
        for i in range(3)
    ]
    with seeded.transaction() as session:
        [(first_id, headers)] = add_inbound.run(session, row)
        [(second_id, _)] = add_inbound.run(session, row)
        add_audit.run_many(session, audits)
        add_audit.run_many(session, [])
    assert second_id == first_id + 1 and headers == {"content-type": "application/json"}
    with seeded.engine.connect() as conn:
        body = conn.execute(select(inbound.c.body).where(inbound.c.id == first_id)).scalar_one()
        after = conn.execute(select(table_of(AuditEntry).c.after)).scalars().all()
    assert bytes(body) == b'{"code":"00"}' and after == [{"i": 0}, {"i": 1}, {"i": 2}]


def test_a_column_with_a_python_default_must_be_given(seeded: Database) -> None:
    inbound = table_of(InboundRequest)
    with seeded.transaction() as session:
        with pytest.raises(ValueError, match="set body, detail, headers, query_string"):
            DirectStatement(insert(inbound)).run(
                session,
                {
                    "gateway": "payos",
                    "kind": "notification",
                    "method": "POST",
                    "path": "/",
                    "outcome": "applied",
                    "received_at": NOW,
                },
            )


def test_every_inserted_row_names_the_same_columns(seeded: Database) -> None:
    add_timeline = DirectStatement(insert(table_of(TimelineEntry)))
    row = {
        "merchant_id": "mer_1",
        "order_id": "ord_1",
        "payment_id": None,
        "kind": "note",
        "message": "first",
        "created_at": NOW,
    }
    shorter = {k: v for k, v in row.items() if k != "payment_id"}
    with seeded.transaction() as session, pytest.raises(ValueError, match="same columns"):
        add_timeline.run_many(session, [row, {**row, "message": "second"}, shorter])
    with seeded.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table_of(TimelineEntry))).scalar() == 0


def test_returning_rows_need_run_not_run_many(seeded: Database) -> None:
    returning = DirectStatement(_SET_PAYMENT.returning(PAYMENTS.c.id))
    with seeded.transaction() as session, pytest.raises(ValueError, match="RETURNING"):
        returning.run_many(session, [{"row_id": "pay_1", "status": "x"}], set_columns=("status",))


def test_only_select_insert_and_update() -> None:
    with pytest.raises(TypeError, match="Delete"):
        DirectStatement(delete(PAYMENTS))  # type: ignore[arg-type]

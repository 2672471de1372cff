"""Credits can be spent: a debit is charged once per merchant reference and never takes the
balance below zero; an operator's adjustment carries a reason and cannot either. Both are in
the ledger, the audit log and the outbox, and hold under parallel requests on SQLite and
PostgreSQL (the invariants are checked in SQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from payhub.domain.errors import InvalidRequest, NotFound
from payhub.services.ledger import (
    CreditMovement,
    CreditReferenceReused,
    InsufficientCredits,
    adjust_credits,
    debit_credits,
)
from payhub.store.invariants import check_invariants
from payhub.store.models import AuditEntry, CreditAccount, CreditEntry, Customer, OutboxEvent
from tests.services.conftest import Env

pytestmark = pytest.mark.anyio


def balance(env: Env, external_id: str = "bao") -> int:
    customer = env.one(Customer, merchant_id=env.merchant_id, external_id=external_id)
    return int(env.one(CreditAccount, customer_id=customer["id"])["balance"])


def ledger(env: Env) -> list[tuple[str, int, int | None]]:
    return [
        (e["reason"], e["amount"], e["balance_after"])
        for e in sorted(env.rows(CreditEntry), key=lambda e: e["id"])
    ]


def funded(env: Env, credits: int = 100, customer: str = "bao") -> None:
    """A customer with an order (so the hub knows them) and `credits` on the account."""
    env.order(customer=customer)
    adjust_credits(env.hub, env.merchant_id, customer, credits, "opening balance", "test")


def debit(
    env: Env, amount: int, reference: str, customer: str = "bao", **kw: Any
) -> CreditMovement:
    return debit_credits(
        env.hub, env.merchant_id, customer, amount=amount, reference=reference, actor="test", **kw
    )


async def test_a_debit_spends_and_is_in_ledger_audit_and_outbox(env: Env) -> None:
    order_id, _ = await env.paid_order()  # 100 credits granted by a paid order
    spent = debit(env, 30, "spend-1", description="one export", metadata={"job": "j-7"})

    assert not spent.replayed
    assert spent.as_dict() | {"at": None} == {
        "customer": "bao",
        "id": spent.entry.id,
        "order_id": None,
        "reason": "debit",
        "amount": -30,
        "balance_after": 70,
        "reference": "spend-1",
        "description": "one export",
        "metadata": {"job": "j-7"},
        "at": None,
    }
    assert balance(env) == 70
    assert ledger(env) == [("order_paid", 100, 100), ("debit", -30, 70)]
    [audit] = env.rows(AuditEntry, action="credits.debited")
    assert audit["actor"] == "test" and audit["subject"] == f"credit_entry:{spent.entry.id}"
    assert audit["after"]["customer"] == "bao"
    assert audit["before"] == {"balance": 100}
    assert audit["after"]["balance"] == 70 and audit["after"]["reference"] == "spend-1"
    [event] = env.rows(OutboxEvent, event_type="credits.debited")
    assert event["event_key"] == f"credits.debited:{spent.entry.id}"
    assert event["payload"]["data"]["amount"] == -30
    assert event["payload"]["data"]["customer"] == "bao"
    assert order_id  # the grant's order is untouched by the spend
    env.assert_invariants()


async def test_a_repeated_reference_answers_the_first_debit(env: Env) -> None:
    funded(env)
    first = debit(env, 40, "once")
    again = debit(env, 40, "once", description="a retry")

    assert again.replayed and not first.replayed
    assert again.entry == first.entry  # the original entry, its balance_after included
    assert balance(env) == 60
    assert env.count(CreditEntry, reason="debit") == 1
    assert env.count(AuditEntry, action="credits.debited") == 1
    assert env.count(OutboxEvent, event_type="credits.debited") == 1
    env.assert_invariants()


async def test_a_reference_reused_with_another_amount_is_refused(env: Env) -> None:
    funded(env)
    debit(env, 40, "once")
    with pytest.raises(CreditReferenceReused) as refused:
        debit(env, 41, "once")
    assert refused.value.extra == {"reference": "once", "amount": 40}
    assert balance(env) == 60
    assert env.count(CreditEntry, reason="debit") == 1
    # References belong to one customer's account: another customer may use the same one.
    funded(env, 10, customer="lan")
    assert debit(env, 10, "once", customer="lan").entry.balance_after == 0
    env.assert_invariants()


async def test_an_overdraw_is_refused_with_the_balance_and_writes_nothing(env: Env) -> None:
    funded(env, 25)
    before = (env.count(CreditEntry), env.count(AuditEntry), env.count(OutboxEvent))
    with pytest.raises(InsufficientCredits) as refused:
        debit(env, 26, "too-much")
    assert refused.value.extra == {"balance": 25, "requested": 26}
    assert balance(env) == 25
    assert (env.count(CreditEntry), env.count(AuditEntry), env.count(OutboxEvent)) == before
    # The refused reference was not used up: the same reference may spend what is there.
    assert debit(env, 25, "too-much").entry.balance_after == 0
    env.assert_invariants()


async def test_a_customer_never_credited_has_nothing_to_spend(env: Env) -> None:
    env.order(customer="new")  # has an account at 0
    with pytest.raises(InsufficientCredits) as refused:
        debit(env, 1, "r", customer="new")
    assert refused.value.extra == {"balance": 0, "requested": 1}
    with pytest.raises(NotFound):
        debit(env, 1, "r", customer="nobody")
    with pytest.raises(NotFound):
        adjust_credits(env.hub, env.merchant_id, "nobody", 5, "why", "test")
    for amount, reference in ((0, "r"), (-5, "r"), (10**12 + 1, "r"), (1, ""), (1, "x" * 201)):
        with pytest.raises(InvalidRequest):
            debit(env, amount, reference, customer="new")
    with pytest.raises(InvalidRequest):
        debit(env, 1, "r", customer="new", description="d" * 501)
    assert env.count(CreditEntry) == 0
    env.assert_invariants()


async def test_an_adjustment_carries_its_reason_and_cannot_go_below_zero(env: Env) -> None:
    funded(env, 100)
    taken = adjust_credits(env.hub, env.merchant_id, "bao", -50, "double grant", "user:ops")
    assert taken.entry.amount == -50 and taken.entry.balance_after == 50
    assert taken.entry.description == "double grant"

    before = (env.count(CreditEntry), env.count(AuditEntry))
    with pytest.raises(InsufficientCredits) as refused:
        adjust_credits(env.hub, env.merchant_id, "bao", -51, "too far", "user:ops")
    assert refused.value.extra == {"balance": 50, "requested": 51}
    assert (env.count(CreditEntry), env.count(AuditEntry)) == before
    for amount, reason in ((0, "nothing"), (5, ""), (5, "   "), (10**12 + 1, "huge")):
        with pytest.raises(InvalidRequest):
            adjust_credits(env.hub, env.merchant_id, "bao", amount, reason, "user:ops")

    assert ledger(env) == [("adjustment", 100, 100), ("adjustment", -50, 50)]
    audits = env.rows(AuditEntry, action="credits.adjusted")
    assert [(a["actor"], a["after"]["description"]) for a in audits] == [
        ("test", "opening balance"),
        ("user:ops", "double grant"),
    ]
    assert env.outbox_types(event_type="credits.adjusted") == ["credits.adjusted"] * 2
    assert balance(env) == 50
    env.assert_invariants()


def _in_parallel(n: int, call: Callable[[int], Any]) -> list[Any]:
    """Run `call(i)` for i < n in n threads released together; each result or exception."""
    start = threading.Barrier(n)

    def run(i: int) -> Any:
        start.wait()
        try:
            return call(i)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


async def test_parallel_debits_never_overdraw(env: Env) -> None:
    funded(env, 100)
    outcomes = _in_parallel(20, lambda i: debit(env, 10, f"p-{i}"))

    spent = [o for o in outcomes if isinstance(o, CreditMovement)]
    short = [o for o in outcomes if isinstance(o, InsufficientCredits)]
    assert (len(spent), len(short)) == (10, 10), outcomes
    assert balance(env) == 0
    assert sorted(m.entry.balance_after for m in spent) == list(range(0, 100, 10))
    assert env.count(CreditEntry, reason="debit") == 10
    assert env.count(OutboxEvent, event_type="credits.debited") == 10
    env.assert_invariants()


async def test_parallel_debits_with_one_reference_charge_once(env: Env) -> None:
    funded(env, 100)
    outcomes = _in_parallel(12, lambda _: debit(env, 10, "same"))

    assert all(isinstance(o, CreditMovement) for o in outcomes), outcomes
    assert len({o.entry.id for o in outcomes}) == 1
    assert sum(not o.replayed for o in outcomes) == 1
    assert balance(env) == 90
    env.assert_invariants()


async def test_parallel_adjustments_and_debits_stay_consistent(env: Env) -> None:
    funded(env, 30)

    def act(i: int) -> CreditMovement:
        if i % 2:
            return adjust_credits(env.hub, env.merchant_id, "bao", -10, f"fix {i}", "user:ops")
        return debit(env, 10, f"d-{i}")

    outcomes = _in_parallel(10, act)
    done = [o for o in outcomes if isinstance(o, CreditMovement)]
    assert len(done) == 3 and balance(env) == 0, outcomes
    assert all(isinstance(o, (CreditMovement, InsufficientCredits)) for o in outcomes)
    env.assert_invariants()


async def test_the_spending_invariants_catch_a_broken_ledger(env: Env) -> None:
    funded(env, 20)
    spent = debit(env, 5, "d")
    with env.hub.db.engine.begin() as conn:
        conn.execute(
            text("UPDATE credit_entries SET balance_after = -1, amount = 5 WHERE id = :id"),
            {"id": spent.entry.id},
        )
    broken = check_invariants(env.hub.db.engine)
    assert set(broken) == {
        "debit or adjustment left a balance below zero",
        "debit that adds credits",
        "credit entry's balance_after differs from its account's running sum",
        "credit balance differs from its ledger",
    }

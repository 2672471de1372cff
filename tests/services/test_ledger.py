"""Credits: granted exactly once, in the change that makes the order paid (by a gateway, an
operator's review decision or a manual payment); never for an order that is not paid;
reversed once, on the full refund only. The balance always equals the sum of its entries."""

from __future__ import annotations

import anyio
import pytest

from payhub.domain.errors import Conflict, InvalidRequest
from payhub.services.inbound import receive_notification
from payhub.services.manual import record_manual_payment
from payhub.services.orders import ItemDraft
from payhub.services.refunds import create_refund
from payhub.services.review import accept_review
from payhub.store.models import CreditAccount, CreditEntry, Customer, InboundRequest
from tests.services.conftest import Env

pytestmark = pytest.mark.anyio


def balance(env: Env, external_id: str = "bao") -> int:
    customer = env.one(Customer, merchant_id=env.merchant_id, external_id=external_id)
    return int(env.one(CreditAccount, customer_id=customer["id"])["balance"])


def entries(env: Env, order_id: str) -> list[tuple[str, int]]:
    return sorted((e["reason"], e["amount"]) for e in env.rows(CreditEntry, order_id=order_id))


async def test_the_account_opens_with_the_order_and_nothing_is_granted_before_payment(
    env: Env,
) -> None:
    order_id = env.order()
    assert balance(env) == 0
    assert entries(env, order_id) == []
    await env.start(order_id)
    assert entries(env, order_id) == []
    env.assert_invariants()


async def test_paid_orders_of_one_customer_add_up_on_one_account(env: Env) -> None:
    first, _ = await env.paid_order()
    second, _ = await env.paid_order("momo", items=[ItemDraft(sku="pack-100", quantity=3)])
    other, _ = await env.paid_order(customer="lan", credits=250)

    assert entries(env, first) == [("order_paid", 100)]
    assert entries(env, second) == [("order_paid", 300)]  # 100 per pack
    assert entries(env, other) == [("order_paid", 250)]  # the order's own figure wins
    assert (balance(env), balance(env, "lan")) == (400, 250)
    assert env.count(CreditAccount) == 2
    env.assert_invariants()


async def test_an_order_that_grants_credits_needs_a_customer(env: Env) -> None:
    with pytest.raises(InvalidRequest):
        env.order(customer=None)
    with pytest.raises(InvalidRequest):
        env.order(credits=-1)
    # An order with nothing to grant needs no customer and opens no account.
    order_id, _ = await env.paid_order(customer=None, items=[ItemDraft(sku="tshirt")])
    assert entries(env, order_id) == []
    assert env.count(CreditAccount) == 0
    env.assert_invariants()


async def test_an_attempt_that_does_not_pay_grants_nothing(env: Env) -> None:
    for outcome in ("insufficient", "denied", "expired"):  # failed, cancelled, expired
        order_id = env.order()
        started = await env.start(order_id, "momo")
        await env.sim_pay(started.payment_id, outcome)
        assert env.order_row(order_id)["status"] == "payment_failed", outcome
        assert entries(env, order_id) == [], outcome
    assert balance(env) == 0
    env.assert_invariants()


async def test_a_storm_of_one_notification_grants_once(env: Env) -> None:
    order_id = env.order()
    started = await env.start(order_id)
    env.callbacks.hold = True
    await env.sim_pay(started.payment_id)
    gateway, account_id, raw = env.callbacks.held[0]
    copies = 16
    replies: list[int] = []

    async def deliver() -> None:
        replies.append((await receive_notification(env.hub, gateway, account_id, raw)).status_code)

    async with anyio.create_task_group() as tg:
        for _ in range(copies):
            tg.start_soon(deliver)

    assert replies == [200] * copies
    outcomes = sorted(r["outcome"] for r in env.rows(InboundRequest, payment_id=started.payment_id))
    assert outcomes == ["applied"] + ["duplicate"] * (copies - 1)
    assert entries(env, order_id) == [("order_paid", 100)]
    assert balance(env) == 100
    env.assert_invariants()


async def test_a_review_accepted_grants_once(env: Env) -> None:
    order_id = env.order()
    started = await env.start(order_id)
    await env.fault("payos", "wrong_amount")
    await env.sim_pay(started.payment_id)
    assert entries(env, order_id) == []

    accept_review(env.hub, env.merchant_id, started.payment_id, actor="op", note="keep it")
    assert env.order_row(order_id)["status"] == "paid"
    assert entries(env, order_id) == [("order_paid", 100)]
    with pytest.raises(Conflict):
        accept_review(env.hub, env.merchant_id, started.payment_id, actor="op", note="again")
    assert entries(env, order_id) == [("order_paid", 100)]
    assert balance(env) == 100
    env.assert_invariants()


async def test_a_manual_payment_grants_once(env: Env) -> None:
    order_id = env.order()
    record_manual_payment(
        env.hub,
        env.merchant_id,
        order_id,
        amount=20_000,
        reference="bank-001",
        note="transfer seen on the statement",
        actor="op",
        source_ip=None,
    )
    assert env.order_row(order_id)["status"] == "paid"
    assert entries(env, order_id) == [("order_paid", 100)]
    assert balance(env) == 100
    env.assert_invariants()


async def test_only_the_full_refund_reverses_the_credits_once(env: Env) -> None:
    order_id, payment_id = await env.paid_order("momo")
    await create_refund(env.hub, env.merchant_id, payment_id, amount=5_000, reason="1", actor="t")
    assert entries(env, order_id) == [("order_paid", 100)]
    assert balance(env) == 100

    await create_refund(env.hub, env.merchant_id, payment_id, amount=None, reason="2", actor="t")
    assert entries(env, order_id) == [("order_paid", 100), ("order_refunded", -100)]
    assert balance(env) == 0
    env.assert_invariants()

"""Settlement through real signed notifications from the simulators: an order is paid once,
with its credits and `order.paid` event in the same change; a duplicate fact is recorded
once; money that must not settle goes to review with its reason and an operator alert; a
browser return only reads (it may ask the gateway, it never settles by itself)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest

from payhub.gateways import base
from payhub.services.checkout import cancel_order, expire_due_orders, refresh_payment
from payhub.services.inbound import receive_return
from payhub.store.models import (
    AuditEntry,
    CreditAccount,
    CreditEntry,
    InboundRequest,
    OutboxEvent,
    PaymentEvent,
)
from tests.services.conftest import Env

pytestmark = pytest.mark.anyio


async def test_a_paid_notification_settles_the_order_once_with_its_effects(env: Env) -> None:
    order_id = env.order()
    started = await env.start(order_id)
    assert env.payment(started.payment_id)["status"] == "pending"

    await env.sim_pay(started.payment_id)

    order, payment = env.order_row(order_id), env.payment(started.payment_id)
    assert (order["status"], payment["status"]) == ("paid", "succeeded")
    assert order["paid_payment_id"] == started.payment_id
    assert payment["received_minor"] == 20_000
    [grant] = env.rows(CreditEntry, order_id=order_id)
    assert (grant["reason"], grant["amount"]) == ("order_paid", 100)
    assert env.one(CreditAccount, id=grant["account_id"])["balance"] == 100
    # The grant and the transition are one change: they carry the same instant.
    assert grant["created_at"] == order["paid_at"]
    [paid] = env.rows(OutboxEvent, event_key=f"order.paid:{order_id}")
    assert paid["payload"]["data"]["payment_id"] == started.payment_id
    assert paid["payload"]["data"]["credits_granted"] == 100
    [event] = env.rows(PaymentEvent, payment_id=started.payment_id)
    assert (event["source"], event["payment_status_before"], event["payment_status_after"]) == (
        "notification",
        "pending",
        "succeeded",
    )
    assert [r["outcome"] for r in env.rows(InboundRequest, payment_id=started.payment_id)] == [
        "applied"
    ]
    assert env.callbacks.replies == [200]
    env.assert_invariants()


async def test_a_duplicated_notification_is_recorded_once(env: Env) -> None:
    order_id = env.order()
    started = await env.start(order_id)
    await env.fault("payos", "duplicate")
    await env.sim_pay(started.payment_id)

    # Both copies are acknowledged (the gateway must stop), one is applied.
    assert env.callbacks.replies == [200, 200]
    outcomes = sorted(r["outcome"] for r in env.rows(InboundRequest, payment_id=started.payment_id))
    assert outcomes == ["applied", "duplicate"]
    assert env.count(PaymentEvent, payment_id=started.payment_id) == 1
    assert env.count(CreditEntry, order_id=order_id) == 1
    assert env.count(OutboxEvent, event_key=f"order.paid:{order_id}") == 1
    env.assert_invariants()


async def test_a_tampered_notification_changes_nothing_but_its_record(env: Env) -> None:
    order_id = env.order()
    started = await env.start(order_id)
    await env.fault("payos", "tamper")
    await env.sim_pay(started.payment_id)

    assert env.payment(started.payment_id)["status"] == "pending"
    assert env.order_row(order_id)["status"] == "awaiting_payment"
    assert env.count(PaymentEvent, payment_id=started.payment_id) == 0
    assert env.count(CreditEntry, order_id=order_id) == 0
    rejected = env.rows(InboundRequest, outcome="invalid_signature")
    assert len(rejected) == len(env.callbacks.replies) >= 1  # each retry is refused again
    assert all(r["payment_id"] is None for r in rejected)
    assert env.count(AuditEntry, action="notification.invalid_signature") == len(rejected)
    assert "order.paid" not in env.outbox_types()
    env.assert_invariants()


async def test_a_wrong_amount_goes_to_review_with_an_operator_alert(env: Env) -> None:
    order_id = env.order()
    started = await env.start(order_id)
    await env.fault("payos", "wrong_amount")
    await env.sim_pay(started.payment_id)

    payment = env.payment(started.payment_id)
    assert (payment["status"], payment["review_reason"]) == ("review", "amount_mismatch")
    assert payment["received_minor"] == 21_000
    assert env.order_row(order_id)["status"] == "review"
    assert env.count(CreditEntry, order_id=order_id) == 0
    [alert] = env.rows(OutboxEvent, event_type="operator.alert")
    assert alert["payload"]["data"]["reason"] == "amount_mismatch"
    assert alert["payload"]["data"]["payment_id"] == started.payment_id
    assert (alert["payload"]["data"]["expected"], alert["payload"]["data"]["received"]) == (
        20_000,
        21_000,
    )
    assert env.count(OutboxEvent, event_type="payment.review") == 1
    assert "order.paid" not in env.outbox_types()
    assert [r["outcome"] for r in env.rows(InboundRequest, payment_id=started.payment_id)] == [
        "amount_mismatch"
    ]
    env.assert_invariants()


async def test_an_underpayment_goes_to_review_and_the_rest_moves_nothing(env: Env) -> None:
    order_id = env.order()
    started = await env.start(order_id)
    await env.sim_pay(started.payment_id, "partial", amount=5_000)
    payment = env.payment(started.payment_id)
    assert (payment["status"], payment["review_reason"]) == ("review", "amount_mismatch")

    # The customer transfers the rest: a new fact, recorded, but the table has no move
    # out of review for it; no second alert, still nothing settles.
    await env.sim_pay(started.payment_id, "paid")
    events = env.rows(PaymentEvent, payment_id=started.payment_id)
    assert sorted((e["amount_minor"], e["payment_status_after"]) for e in events) == [
        (5_000, "review"),
        (15_000, "review"),
    ]
    assert env.payment(started.payment_id)["status"] == "review"
    assert env.order_row(order_id)["status"] == "review"
    assert env.count(OutboxEvent, event_type="operator.alert") == 1
    assert env.count(CreditEntry, order_id=order_id) == 0
    env.assert_invariants()


@pytest.mark.parametrize("given_up", ["cancelled", "expired"])
async def test_money_after_the_order_was_given_up_goes_to_review(env: Env, given_up: str) -> None:
    # MoMo links cannot be cancelled at the gateway: the customer can still pay.
    order_id = env.order()
    started = await env.start(order_id, "momo")
    if given_up == "cancelled":
        await cancel_order(env.hub, env.merchant_id, order_id, actor="test")
    else:
        later = env.hub.clock.now() + timedelta(hours=1)
        assert await expire_due_orders(env.hub, now=later) == 1
    assert env.order_row(order_id)["status"] == given_up
    assert env.payment(started.payment_id)["status"] == "cancelled"

    await env.sim_pay(started.payment_id)

    payment = env.payment(started.payment_id)
    assert (payment["status"], payment["review_reason"]) == ("review", "paid_after_expiry")
    assert payment["received_minor"] == 20_000
    assert env.order_row(order_id)["status"] == "review"
    assert env.count(CreditEntry, order_id=order_id) == 0
    [alert] = env.rows(OutboxEvent, event_type="operator.alert")
    assert alert["payload"]["data"]["reason"] == "paid_after_expiry"
    assert env.callbacks.replies == [204]  # recorded: MoMo must not retry
    env.assert_invariants()


async def test_a_second_attempt_paying_a_paid_order_is_a_double_payment(env: Env) -> None:
    order_id = env.order()
    first = await env.start(order_id, "payos")
    second = await env.start(order_id, "momo")
    await env.sim_pay(first.payment_id)
    assert env.order_row(order_id)["status"] == "paid"

    await env.sim_pay(second.payment_id)

    payment = env.payment(second.payment_id)
    assert (payment["status"], payment["review_reason"]) == ("review", "double_payment")
    order = env.order_row(order_id)
    assert (order["status"], order["paid_payment_id"]) == ("paid", first.payment_id)
    assert env.count(CreditEntry, order_id=order_id) == 1
    assert env.count(OutboxEvent, event_key=f"order.paid:{order_id}") == 1
    [alert] = env.rows(OutboxEvent, event_type="operator.alert")
    assert (alert["payload"]["data"]["reason"], alert["payload"]["data"]["payment_id"]) == (
        "double_payment",
        second.payment_id,
    )
    env.assert_invariants()


async def test_a_failed_attempt_fails_the_order_until_a_new_attempt_pays(env: Env) -> None:
    order_id = env.order()
    failed = await env.start(order_id, "momo")
    await env.sim_pay(failed.payment_id, "insufficient")

    payment = env.payment(failed.payment_id)
    assert (payment["status"], payment["failure_code"]) == ("failed", "1001")
    assert env.order_row(order_id)["status"] == "payment_failed"
    assert env.outbox_types(event_type="payment.failed") == ["payment.failed"]

    retry = await env.start(order_id, "momo")
    assert retry.payment_id != failed.payment_id and not retry.reused
    assert env.order_row(order_id)["status"] == "awaiting_payment"
    await env.sim_pay(retry.payment_id)
    assert env.order_row(order_id)["paid_payment_id"] == retry.payment_id
    assert env.payment(failed.payment_id)["status"] == "failed"
    env.assert_invariants()


async def test_a_failure_while_another_attempt_is_live_keeps_the_order_payable(env: Env) -> None:
    order_id = env.order()
    live = await env.start(order_id, "payos")
    failing = await env.start(order_id, "momo")
    await env.sim_pay(failing.payment_id, "insufficient")

    assert env.payment(failing.payment_id)["status"] == "failed"
    assert env.order_row(order_id)["status"] == "awaiting_payment"
    await env.sim_pay(live.payment_id)
    assert env.order_row(order_id)["status"] == "paid"
    env.assert_invariants()


async def test_a_failure_reported_for_a_paid_order_does_not_unpay_it(env: Env) -> None:
    order_id = env.order()
    paying = await env.start(order_id, "payos")
    other = await env.start(order_id, "momo")
    await env.sim_pay(paying.payment_id)
    await env.sim_pay(other.payment_id, "insufficient")

    assert env.payment(other.payment_id)["status"] == "failed"
    assert env.order_row(order_id)["status"] == "paid"
    assert env.count(CreditEntry, order_id=order_id) == 1
    env.assert_invariants()


async def test_a_dropped_notification_is_settled_by_query_then_its_copy_is_a_duplicate(
    env: Env,
) -> None:
    order_id = env.order()
    started = await env.start(order_id, "momo")
    await env.fault("momo", "drop")
    await env.sim_pay(started.payment_id)
    assert env.callbacks.replies == []
    assert env.payment(started.payment_id)["status"] == "pending"

    assert await refresh_payment(env.hub, started.payment_id) == "succeeded"
    assert env.order_row(order_id)["status"] == "paid"
    [event] = env.rows(PaymentEvent, payment_id=started.payment_id)
    assert event["source"] == "query"

    # The gateway's own notice, arriving late, is a fact of its own (the query's key is not
    # the notification's): recorded, acknowledged, and it moves nothing. Its retry is a
    # duplicate.
    reference = env.payment(started.payment_id)["gateway_reference"]
    for _ in range(2):
        r = await env.sims["momo"].post(f"/__sim/resend/{reference}")
        assert r.status_code == 200, r.text
        await env.flush("momo")
    assert env.callbacks.replies == [204, 204]
    late = env.rows(PaymentEvent, payment_id=started.payment_id, source="notification")
    assert [(e["payment_status_before"], e["payment_status_after"]) for e in late] == [
        ("succeeded", "succeeded")
    ]
    outcomes = [r["outcome"] for r in env.rows(InboundRequest, payment_id=started.payment_id)]
    assert sorted(outcomes) == ["applied", "duplicate"]
    assert env.count(CreditEntry, order_id=order_id) == 1
    assert env.count(OutboxEvent, event_key=f"order.paid:{order_id}") == 1
    env.assert_invariants()


def browser_return(env: Env, payment_id: str, **claims: str) -> base.InboundRequest:
    payment = env.payment(payment_id)
    query = urlencode(
        {"code": "00", "id": payment["gateway_data"]["paymentLinkId"], "cancel": "false"}
        | {"orderCode": payment["gateway_reference"], **claims}
    )
    return base.InboundRequest(
        method="GET",
        path=f"/return/payos/{payment_id}",
        query_string=query.encode(),
        headers={},
        body=b"",
        remote_addr="198.51.100.4",
    )


async def test_a_browser_return_claiming_payment_settles_nothing(env: Env) -> None:
    order_id = env.order()
    started = await env.start(order_id)
    forged = browser_return(env, started.payment_id, status="PAID")

    view = await receive_return(env.hub, "payos", started.payment_id, forged)

    assert view is not None and (view.status, view.order_status) == ("pending", "awaiting_payment")
    assert env.count(PaymentEvent) == 0
    assert env.count(CreditEntry) == 0
    [logged] = env.rows(InboundRequest, payment_id=started.payment_id)
    assert (logged["kind"], logged["outcome"]) == ("return", "displayed")
    env.assert_invariants()


async def test_a_browser_return_after_a_lost_notification_settles_by_query(env: Env) -> None:
    order_id = env.order()
    started = await env.start(order_id)
    await env.fault("payos", "drop")
    await env.sim_pay(started.payment_id)

    view = await receive_return(
        env.hub, "payos", started.payment_id, browser_return(env, started.payment_id, status="PAID")
    )

    assert view is not None and (view.status, view.order_status) == ("succeeded", "paid")
    [event] = env.rows(PaymentEvent, payment_id=started.payment_id)
    assert event["source"] == "query"
    assert env.count(CreditEntry, order_id=order_id) == 1
    env.assert_invariants()

"""ToyyibPay end to end, what only ToyyibPay does: MYR bills paid on the sandbox's bank page
(A pays, B fails, C stays pending then pays or fails), callbacks that are only hints and
must be confirmed by getBillTransactions (a forged success with a valid hash settles
nothing), several payment attempts on one bill, amounts in ringgit or sen, a category
created on first use, Malaysia time under any host TZ, bills inactivated on expiry. The
contract every gateway meets is tests/e2e/test_flow.py; this file runs on the same kit
(tests/support/conformance.py) and driver (tests/e2e/drivers/toyyibpay.py), on SQLite and
PostgreSQL, and checks the money invariants in SQL after every scenario."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select, text

from payhub.gateways.toyyibpay import signing
from payhub.gateways.toyyibpay.simulator import DEFAULT_CATEGORY_CODE, sandbox_profile
from payhub.services.checkout import close_abandoned_attempts
from payhub.store.invariants import check_invariants
from payhub.store.models import (
    GatewayAccount,
    InboundRequest,
    OutboxEvent,
    PaymentEvent,
)
from tests.e2e.drivers.toyyibpay import DRIVER
from tests.e2e.drivers.toyyibpay import bill_code as _bill_code
from tests.support.conformance import Env, running
from tests.support.hub import HubUnderTest, run_worker_task

pytestmark = pytest.mark.e2e

GATEWAY = "toyyibpay"
PACK_MY_SEN = 1_050


@pytest.fixture
def env(seeded: Callable[[str], HubUnderTest]) -> Iterator[Env]:
    with running(DRIVER, seeded) as e:
        yield e


@pytest.fixture
def env_no_category(seeded: Callable[[str], HubUnderTest]) -> Iterator[Env]:
    """An account configured without a category: the adapter creates one on first use."""
    with running(DRIVER, seeded, category_code="") as e:
        yield e


# --------------------------------------------------------------------------- helpers


CUSTOMER = {
    "external_id": "aisyah",
    "name": "Aisyah Rahman",
    "email": "aisyah@example.my",
    "phone": "+60 12-345 6789",
}


def _order(env: Env, ref: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "merchant_reference": ref,
        "currency": "MYR",
        "items": [{"sku": "pack-my"}],
        "customer": CUSTOMER,
        **extra,
    }
    r = env.api.post("/v1/orders", json=body, headers={"Idempotency-Key": f"k-{ref}"})
    assert r.status_code == 201, r.text
    return r.json()


def _pay(env: Env, order_id: str) -> dict[str, Any]:
    r = env.api.post(f"/v1/orders/{order_id}/payments", json={"gateway": GATEWAY})
    assert r.status_code == 200, r.text
    payment = r.json()
    assert payment["status"] == "pending", payment
    return payment


def _sim_pay(env: Env, payment: dict[str, Any], bank: str) -> dict[str, Any]:
    r = env.sim.post(f"/__sim/pay/{_bill_code(payment)}", json={"bank": bank})
    assert r.status_code == 200, r.text
    flushed = env.sim.post("/__sim/flush")
    assert flushed.status_code == 200, flushed.text
    return r.json()


def _bill(env: Env, payment: dict[str, Any]) -> dict[str, Any]:
    r = env.sim.get(f"/__sim/bills/{_bill_code(payment)}")
    assert r.status_code == 200, r.text
    return r.json()


def _deliveries(env: Env) -> list[dict[str, Any]]:
    return list(env.sim.get("/__sim/deliveries").json()["deliveries"])


def _get_order(env: Env, order_id: str) -> dict[str, Any]:
    r = env.api.get(f"/v1/orders/{order_id}")
    assert r.status_code == 200, r.text
    return r.json()


def _wait_status(env: Env, order_id: str, status: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        order = _get_order(env, order_id)
        if order["status"] == status or time.monotonic() > deadline:
            return order
        time.sleep(0.05)


def _wait_deliveries(env: Env, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    """Wait until the simulator has sent `count` callbacks and every one has finished."""
    deadline = time.monotonic() + timeout
    while True:
        env.sim.post("/__sim/flush")
        deliveries = _deliveries(env)
        done = [d for d in deliveries if d["state"] != "scheduled"]
        if len(done) >= count or time.monotonic() > deadline:
            return deliveries
        time.sleep(0.05)


def _credits(env: Env, external_id: str = "aisyah") -> dict[str, Any]:
    r = env.api.get(f"/v1/customers/{external_id}/credits")
    assert r.status_code == 200, r.text
    return r.json()


def _stock(env: Env, sku: str) -> int:
    products = {p["sku"]: p for p in env.api.get("/v1/products").json()["data"]}
    return int(products[sku]["stock_available"])


def _scalar(env: Env, sql: str, **params: Any) -> Any:
    with env.th.hub.db.engine.connect() as c:
        return c.execute(text(sql), params).scalar()


def _outbox_types(env: Env) -> list[str]:
    with env.th.hub.db.session() as s:
        return list(s.scalars(select(OutboxEvent.event_type)).all())


def _inbound_outcomes(env: Env) -> list[str]:
    with env.th.hub.db.session() as s:
        return sorted(
            s.scalars(
                select(InboundRequest.outcome).where(InboundRequest.kind == "notification")
            ).all()
        )


def _put_product(env: Env, sku: str, stock: int = 3, price: int = 2_500) -> None:
    r = env.api.put(
        f"/v1/products/{sku}",
        json={
            "name": "Batik tote bag",
            "price": price,
            "currency": "MYR",
            "track_stock": True,
            "stock": stock,
        },
    )
    assert r.status_code == 200, r.text
    assert _stock(env, sku) == stock


def _forged_callback(
    env: Env, payment: dict[str, Any], status: str, refno: str, amount: str = "10.50"
) -> httpx.Response:
    """A callback signed with the account's real key, sent by the test, not the gateway."""
    key = sandbox_profile().credentials["user_secret_key"]
    reference = payment["gateway_reference"]
    fields = {
        "refno": refno,
        "status": status,
        "reason": "Approved",
        "billcode": _bill_code(payment),
        "order_id": reference,
        "amount": amount,
        "transaction_time": "2026-01-01 10:00:00",
        "hash": signing.callback_hash(key, status, reference, refno),
    }
    return httpx.post(
        env.callback_url,
        content=urlencode(fields).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=10,
    )


def _no_violations(env: Env) -> None:
    assert check_invariants(env.th.hub.db.engine) == {}


# --------------------------------------------------------------------------- scenarios


def test_bank_b_fails_then_a_new_attempt_pays(env: Env) -> None:
    order = _order(env, "my-b")
    payment = _pay(env, order["id"])
    _sim_pay(env, payment, "B")
    order = _wait_status(env, order["id"], "payment_failed")
    assert order["status"] == "payment_failed"
    attempt = order["payments"][0]
    assert attempt["status"] == "failed" and attempt["failure_code"] == "3"
    assert _credits(env)["balance"] == 0
    assert _outbox_types(env).count("payment.failed") == 1
    assert "order.paid" not in _outbox_types(env)
    deliveries = _deliveries(env)
    assert [a["status_code"] for a in deliveries[0]["attempts"]] == [200]
    _no_violations(env)

    # The customer tries again: a fresh attempt with a fresh bill, paid with bank A.
    second = _pay(env, order["id"])
    assert second["id"] != payment["id"] and second["reused"] is False
    assert _bill_code(second) != _bill_code(payment)
    assert second["gateway_reference"] != payment["gateway_reference"]
    _sim_pay(env, second, "A")
    order = _wait_status(env, order["id"], "paid")
    assert order["status"] == "paid"
    assert [p["status"] for p in order["payments"]] == ["failed", "succeeded"]
    assert _credits(env)["balance"] == 100
    assert _outbox_types(env).count("order.paid") == 1
    _no_violations(env)


def test_bank_b_with_cancel_on_failure_cancels_an_ad_hoc_order(env: Env) -> None:
    order = _order(
        env,
        "my-b-adhoc",
        items=[{"name": "Consultation", "unit_price": 4_990, "quantity": 1}],
        cancel_on_failure=True,
    )
    assert order["amount"] == 4_990
    payment = _pay(env, order["id"])
    assert _bill(env, payment)["amount_sen"] == 4_990
    _sim_pay(env, payment, "B")
    order = _wait_status(env, order["id"], "cancelled")
    assert order["status"] == "cancelled"
    assert order["payments"][0]["status"] == "failed"
    r = env.api.post(f"/v1/orders/{order['id']}/payments", json={"gateway": GATEWAY})
    assert r.status_code == 409
    assert r.json()["type"].endswith("/order-not-payable")
    _no_violations(env)


CLOSE_JOB = functools.partial(close_abandoned_attempts, worker="worker-test")


def test_cancel_on_failure_inactivates_the_bill_so_it_cannot_be_paid_later(env: Env) -> None:
    order = _order(env, "my-b-close", cancel_on_failure=True)
    payment = _pay(env, order["id"])
    _sim_pay(env, payment, "B")
    assert _wait_status(env, order["id"], "cancelled")["status"] == "cancelled"
    assert _bill(env, payment)["active"] is True  # the bank said no; the page still takes money
    closed = run_worker_task(env.th.hub, CLOSE_JOB)
    assert closed == 1
    assert _bill(env, payment)["active"] is False
    r = env.sim.post(f"/__sim/pay/{_bill_code(payment)}", json={"bank": "A"})
    assert r.status_code == 409 and "inactive" in r.text
    assert _get_order(env, order["id"])["status"] == "cancelled"  # not in review: never paid
    assert run_worker_task(env.th.hub, CLOSE_JOB) == 0  # once
    _no_violations(env)


def test_bank_b_with_cancel_on_failure_releases_tracked_stock_once(env: Env) -> None:
    _put_product(env, "tote-my", stock=3)
    order = _order(
        env, "my-b-stock", items=[{"sku": "tote-my", "quantity": 2}], cancel_on_failure=True
    )
    assert order["amount"] == 5_000
    assert _stock(env, "tote-my") == 1
    payment = _pay(env, order["id"])
    _sim_pay(env, payment, "B")
    order = _wait_status(env, order["id"], "cancelled")
    assert order["status"] == "cancelled"
    assert _stock(env, "tote-my") == 3
    n = _scalar(
        env,
        "select count(*) from stock_movements where order_id = :o and reason = 'release'",
        o=order["id"],
    )
    assert n == 1
    # Cancelling again is refused and releases nothing more.
    assert env.api.post(f"/v1/orders/{order['id']}/cancel").status_code == 409
    assert _stock(env, "tote-my") == 3
    _no_violations(env)


def test_bank_c_pending_then_settled_by_the_second_callback(env: Env) -> None:
    order = _order(env, "my-c")
    payment = _pay(env, order["id"])
    started = _sim_pay(env, payment, "C")
    assert started["transaction"]["billpaymentStatus"] == "2"
    refno = started["transaction"]["billpaymentInvoiceNo"]

    # After the first (pending) callback nothing is settled.
    order_now = _get_order(env, order["id"])
    assert order_now["status"] == "awaiting_payment"
    assert order_now["payments"][0]["status"] == "pending"
    assert _credits(env)["balance"] == 0

    # The bank decides after 0.3 s: the same refno turns into status 1 and calls back again.
    deliveries = _wait_deliveries(env, 2)
    order = _wait_status(env, order["id"], "paid")
    assert order["status"] == "paid"
    assert [d["label"].rsplit("=", 1)[-1] for d in deliveries] == ["2", "1"]
    assert all(d["attempts"][-1]["status_code"] == 200 for d in deliveries)
    with env.th.hub.db.session() as s:
        keys = sorted(s.scalars(select(PaymentEvent.dedupe_key)).all())
        code = _bill_code(payment)
        assert keys == [f"{code}:{refno}:1", f"{code}:{refno}:2"]
    assert _credits(env)["balance"] == 100
    assert _outbox_types(env).count("order.paid") == 1
    _no_violations(env)


def test_bank_c_settlement_callback_lost_is_recovered_by_refresh(env: Env) -> None:
    order = _order(env, "my-c-refresh")
    payment = _pay(env, order["id"])
    # Long enough that the refresh below still sees the bank undecided on a loaded machine
    # (with the driver's 0.3 s it sometimes saw the settlement already).
    env.sim.post("/__sim/config", json={"bank_c_delay": 3})
    _sim_pay(env, payment, "C")
    # The pending callback already went out; the settlement callback will be dropped.
    env.sim.post("/__sim/faults", json={"fault": "drop", "count": 1})
    r = env.api.get(f"/v1/payments/{payment['id']}", params={"refresh": "true"})
    assert r.status_code == 200 and r.json()["status"] == "pending"

    deadline = time.monotonic() + 30
    while _bill(env, payment)["transactions"][0]["billpaymentStatus"] != "1":
        assert time.monotonic() < deadline, "bank C never settled"
        time.sleep(0.05)
    env.sim.post("/__sim/flush")
    assert [d["state"] for d in _deliveries(env)] == ["delivered", "dropped"]
    assert _get_order(env, order["id"])["status"] == "awaiting_payment"

    r = env.api.get(f"/v1/payments/{payment['id']}", params={"refresh": "true"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "succeeded" and r.json()["received"] == PACK_MY_SEN
    order = _get_order(env, order["id"])
    assert order["status"] == "paid"
    assert _credits(env)["balance"] == 100
    # Refreshing again is idempotent.
    env.api.get(f"/v1/payments/{payment['id']}", params={"refresh": "true"})
    assert _credits(env)["balance"] == 100
    assert _outbox_types(env).count("order.paid") == 1
    _no_violations(env)


def test_forged_success_with_valid_hash_but_no_payment_settles_nothing(env: Env) -> None:
    order = _order(env, "my-forged")
    payment = _pay(env, order["id"])
    r = _forged_callback(env, payment, "1", "TP2601010000000001")
    # Accepted as a hint, confirmed by query (no transaction on the bill), nothing settled.
    assert r.status_code == 200 and r.text == "OK"
    order = _get_order(env, order["id"])
    assert order["status"] == "awaiting_payment"
    assert order["payments"][0]["status"] == "pending"
    assert _credits(env)["balance"] == 0
    assert "order.paid" not in _outbox_types(env)

    # A forged hash is rejected outright and audited.
    key_less = httpx.post(
        env.callback_url,
        content=urlencode(
            {
                "refno": "TP2601010000000002",
                "status": "1",
                "order_id": payment["gateway_reference"],
                "billcode": _bill_code(payment),
                "amount": "10.50",
                "hash": "0" * 32,
            }
        ).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert key_less.status_code == 400 and key_less.text == "INVALID HASH"
    assert "invalid_signature" in _inbound_outcomes(env)

    # The real payment still settles normally afterwards.
    _sim_pay(env, payment, "A")
    order = _wait_status(env, order["id"], "paid")
    assert order["status"] == "paid"
    assert _credits(env)["balance"] == 100
    _no_violations(env)


def test_forged_success_for_a_pending_bank_c_payment_does_not_block_its_settlement(
    env: Env,
) -> None:
    order = _order(env, "my-forged-c")
    payment = _pay(env, order["id"])
    env.sim.post("/__sim/config", json={"bank_c_delay": 60})
    started = _sim_pay(env, payment, "C")
    refno = started["transaction"]["billpaymentInvoiceNo"]
    # A success callback for the real refno before the bank has decided (forged, or early):
    # the confirming query says pending, so nothing settles.
    r = _forged_callback(env, payment, "1", refno)
    assert r.status_code == 200 and r.text == "OK"
    assert _get_order(env, order["id"])["status"] == "awaiting_payment"
    assert _credits(env)["balance"] == 0
    with env.th.hub.db.session() as s:
        keys = set(s.scalars(select(PaymentEvent.dedupe_key)).all())
    # The unconfirmed success is recorded as what the query said, under the query's key,
    # leaving the callback key free for the gateway's genuine success notice.
    assert f"{_bill_code(payment)}:{refno}:1" not in keys
    assert f"query:pending:{refno}" in keys

    # When the bank does decide, the gateway's own success callback must still settle.
    settled = env.sim.post(f"/__sim/settle/{_bill_code(payment)}", json={"outcome": "success"})
    assert settled.status_code == 200 and settled.json()["settled"] == 1
    env.sim.post("/__sim/flush")
    order = _wait_status(env, order["id"], "paid")
    assert order["status"] == "paid"
    assert _credits(env)["balance"] == 100
    _no_violations(env)


def test_category_created_on_first_use_is_remembered(env_no_category: Env) -> None:
    env = env_no_category
    with env.th.hub.db.session() as s:
        row = s.get(GatewayAccount, env.account)
        assert row is not None and row.settings.get("category_code") == ""

    first = _pay(env, _order(env, "my-cat-1")["id"])
    category = _bill(env, first)["category_code"]
    assert category and category != DEFAULT_CATEGORY_CODE
    with env.th.hub.db.session() as s:
        row = s.get(GatewayAccount, env.account)
        assert row is not None and row.settings["category_code"] == category

    # The next bill goes into the same category: no second createCategory.
    second = _pay(env, _order(env, "my-cat-2")["id"])
    assert _bill(env, second)["category_code"] == category
    with env.th.hub.db.session() as s:
        row = s.get(GatewayAccount, env.account)
        assert row is not None and row.settings["category_code"] == category

    _sim_pay(env, second, "A")
    assert _wait_status(env, second["order_id"], "paid")["status"] == "paid"
    _no_violations(env)


@pytest.mark.tz
def test_bill_expiry_and_reference_use_malaysia_time_whatever_the_host_tz(env: Env) -> None:
    order = _order(env, "my-tz", expires_in_seconds=3_600)
    payment = _pay(env, order["id"])
    bill = _bill(env, payment)
    # The simulator reads billExpiryDate as Malaysia wall time; it must be the same instant
    # as the attempt's expiry (to the second), under any host TZ.
    expected = datetime.fromisoformat(payment["expires_at"])
    assert expected.utcoffset() is not None, "API timestamps carry their offset"
    assert bill["expires_at"] is not None
    assert datetime.fromisoformat(bill["expires_at"]) == expected.replace(microsecond=0)
    created = datetime.fromisoformat(payment["created_at"])
    from payhub.clock import MALAYSIA, to_local

    malaysia_day = to_local(created, MALAYSIA).strftime("%y%m%d")
    assert payment["gateway_reference"].startswith(f"PH{malaysia_day}")

    _sim_pay(env, payment, "A")
    order = _wait_status(env, order["id"], "paid")
    assert order["status"] == "paid"
    _no_violations(env)


def test_cancel_while_bank_c_pending_then_late_success_goes_to_review(env: Env) -> None:
    _put_product(env, "tote-my", stock=3)
    order = _order(env, "my-cancel-c", items=[{"sku": "tote-my", "quantity": 1}])
    payment = _pay(env, order["id"])
    env.sim.post("/__sim/config", json={"bank_c_delay": 60})
    _sim_pay(env, payment, "C")
    # ToyyibPay refuses to inactivate a bill with a pending transaction; the order is still
    # cancelled here and its stock released once.
    r = env.api.post(f"/v1/orders/{order['id']}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    assert _bill(env, payment)["active"] is True
    assert _stock(env, "tote-my") == 3

    # The bank then approves: money moved for a cancelled order. That is review, with no
    # credits and no second stock movement.
    env.sim.post(f"/__sim/settle/{_bill_code(payment)}", json={"outcome": "success"})
    env.sim.post("/__sim/flush")
    order = _wait_status(env, order["id"], "review")
    assert order["status"] == "review"
    assert order["payments"][0]["status"] == "review"
    assert order["payments"][0]["review_reason"] == "paid_after_expiry"
    assert order["payments"][0]["received"] == 2_500
    assert "order.paid" not in _outbox_types(env)
    assert {"payment.review", "operator.alert"} <= set(_outbox_types(env))
    assert _stock(env, "tote-my") == 3
    n = _scalar(
        env,
        "select count(*) from stock_movements where order_id = :o and reason = 'release'",
        o=order["id"],
    )
    assert n == 1
    _no_violations(env)


def test_bank_b_then_bank_a_on_the_same_bill_pays_the_order(env: Env) -> None:
    # A ToyyibPay bill takes another attempt after a failed FPX attempt. The order is still
    # unpaid and the confirmed amount matches, so the success settles it, once.
    order = _order(env, "my-b-then-a")
    payment = _pay(env, order["id"])
    _sim_pay(env, payment, "B")
    assert _wait_status(env, order["id"], "payment_failed")["status"] == "payment_failed"
    _sim_pay(env, payment, "A")
    order = _wait_status(env, order["id"], "paid")
    assert order["status"] == "paid"
    assert order["payments"][0]["status"] == "succeeded"
    assert order["payments"][0]["received"] == PACK_MY_SEN
    assert _credits(env)["balance"] == 100
    assert _outbox_types(env).count("order.paid") == 1
    _no_violations(env)


def test_bank_a_after_the_order_was_paid_by_another_bill_goes_to_review(env: Env) -> None:
    order = _order(env, "my-two-bills")
    first = _pay(env, order["id"])
    _sim_pay(env, first, "B")
    _wait_status(env, order["id"], "payment_failed")
    second = _pay(env, order["id"])
    assert second["id"] != first["id"]
    _sim_pay(env, second, "A")
    _wait_status(env, order["id"], "paid")
    _sim_pay(env, first, "A")  # the customer also pays the first, failed bill
    order = (
        _get_order(env, order["id"])
        if "_get_order" in globals()
        else env.api.get(f"/v1/orders/{order['id']}").json()
    )
    statuses = {p["id"]: p for p in order["payments"]}
    assert order["status"] == "paid"
    assert statuses[first["id"]]["status"] == "review"
    assert statuses[first["id"]]["review_reason"] == "double_payment"
    assert _credits(env)["balance"] == 100
    _no_violations(env)


def test_sen_callback_amounts_are_read_as_sen(env: Env) -> None:
    env.sim.post("/__sim/config", json={"callback_amount_unit": "sen"})
    order = _order(env, "my-sen")
    payment = _pay(env, order["id"])
    _sim_pay(env, payment, "A")
    order = _wait_status(env, order["id"], "paid")
    assert order["status"] == "paid"
    assert order["payments"][0]["received"] == PACK_MY_SEN
    with env.th.hub.db.session() as s:
        event = s.scalars(select(PaymentEvent)).one()
        assert event.payload["notification"]["amount"] == "1050"
        assert event.amount_minor == PACK_MY_SEN
    _no_violations(env)


def test_bank_c_that_finally_fails_fails_the_attempt(env: Env) -> None:
    order = _order(env, "my-c-fail")
    payment = _pay(env, order["id"])
    env.sim.post("/__sim/config", json={"bank_c_delay": 60})
    _sim_pay(env, payment, "C")
    assert _get_order(env, order["id"])["status"] == "awaiting_payment"
    env.sim.post(f"/__sim/settle/{_bill_code(payment)}", json={"outcome": "fail"})
    env.sim.post("/__sim/flush")
    order = _wait_status(env, order["id"], "payment_failed")
    assert order["status"] == "payment_failed"
    assert order["payments"][0]["status"] == "failed"
    assert _credits(env)["balance"] == 0
    assert _outbox_types(env).count("payment.failed") == 1
    _no_violations(env)


def test_expiry_inactivates_the_bill_and_releases_stock_once(env: Env) -> None:
    from payhub.services.checkout import expire_due_orders

    _put_product(env, "tote-my", stock=3)
    order = _order(
        env, "my-expire", items=[{"sku": "tote-my", "quantity": 2}], expires_in_seconds=60
    )
    payment = _pay(env, order["id"])
    assert _bill(env, payment)["active"] is True
    hub = env.th.hub
    # Not yet due: expiry waits for the grace period after expires_at.
    assert run_worker_task(hub, expire_due_orders, hub.clock.now() + timedelta(seconds=90)) == 0
    later = hub.clock.now() + timedelta(minutes=10)
    assert run_worker_task(hub, expire_due_orders, later) == 1
    order = _get_order(env, order["id"])
    assert order["status"] == "expired"
    assert _bill(env, payment)["active"] is False
    r = env.sim.post(f"/__sim/pay/{_bill_code(payment)}", json={"bank": "A"})
    assert r.status_code == 409
    assert _stock(env, "tote-my") == 3
    assert run_worker_task(hub, expire_due_orders, later) == 0
    assert _outbox_types(env).count("order.expired") == 1
    _no_violations(env)


def test_expiry_settles_a_payment_that_went_through_instead_of_expiring(env: Env) -> None:
    from payhub.services.checkout import expire_due_orders

    order = _order(env, "my-expire-paid", expires_in_seconds=60)
    payment = _pay(env, order["id"])
    env.sim.post("/__sim/faults", json={"fault": "drop", "count": 1})
    _sim_pay(env, payment, "A")  # paid, but the callback never arrives
    later = env.th.hub.clock.now() + timedelta(minutes=10)
    assert run_worker_task(env.th.hub, expire_due_orders, later) == 0
    assert _get_order(env, order["id"])["status"] == "paid"
    assert _credits(env)["balance"] == 100
    _no_violations(env)

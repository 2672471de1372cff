"""ToyyibPay end to end over real loopback HTTP: hub and simulator as real uvicorn servers, on
SQLite and PostgreSQL. MYR orders (pack-my, RM10.50 = 1050 sen) are paid on the simulator's
bill page banks (A pays, B fails, C stays pending then pays). Every settling callback is
confirmed by getBillTransactions before it counts. The money invariants are checked in SQL
after every scenario."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select, text

from payhub.gateways.toyyibpay import signing
from payhub.gateways.toyyibpay.simulator import DEFAULT_CATEGORY_CODE, sandbox_profile
from payhub.store.invariants import check_invariants
from payhub.store.models import (
    CreditEntry,
    GatewayAccount,
    InboundRequest,
    OutboxEvent,
    PaymentEvent,
)
from tests.support.hub import (
    HubUnderTest,
    connect_gateway,
    make_hub,
    run_worker_task,
    simulator_app,
)
from tests.support.servers import free_port, serve_app

pytestmark = pytest.mark.e2e

GATEWAY = "toyyibpay"
PACK_MY_SEN = 1_050


@dataclass
class Env:
    th: HubUnderTest
    hub_url: str
    sim_url: str
    api: httpx.Client
    sim: httpx.Client

    @property
    def account(self) -> str:
        return self.th.accounts[GATEWAY]

    @property
    def callback_url(self) -> str:
        return f"{self.hub_url}/callbacks/{GATEWAY}/{self.account}"


@contextmanager
def _running(db_url: str, **account_settings: str) -> Iterator[Env]:
    hub_port, sim_port = free_port(), free_port()
    hub_url, sim_url = f"http://127.0.0.1:{hub_port}", f"http://127.0.0.1:{sim_port}"
    th = make_hub(db_url, public_url=hub_url)
    connect_gateway(th, GATEWAY, sim_url, **account_settings)
    sim = simulator_app(GATEWAY, sim_url, bank_c_delay="0.3")
    try:
        with serve_app(th.app, hub_port), serve_app(sim, sim_port):
            with (
                httpx.Client(base_url=hub_url, headers=th.headers, timeout=30) as api,
                httpx.Client(base_url=sim_url, timeout=30) as sim_client,
            ):
                yield Env(th, hub_url, sim_url, api, sim_client)
    finally:
        th.hub.db.dispose()


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    with _running(db_url) as running:
        yield running


@pytest.fixture
def env_no_category(db_url: str) -> Iterator[Env]:
    """An account configured without a category: the adapter creates one on first use."""
    with _running(db_url, category_code="") as running:
        yield running


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


def _bill_code(payment: dict[str, Any]) -> str:
    return str(payment["checkout_url"]).rstrip("/").rsplit("/", 1)[-1]


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


def test_bank_a_pays_once_credits_once_and_is_answered_200_ok(env: Env) -> None:
    order = _order(env, "my-a")
    assert order["status"] == "awaiting_payment"
    assert order["amount"] == PACK_MY_SEN and order["credits"] == 100
    payment = _pay(env, order["id"])
    assert payment["checkout_url"].startswith(env.sim_url + "/")
    assert payment["amount"] == PACK_MY_SEN and payment["currency"] == "MYR"
    assert payment["gateway_reference"].startswith("PH")
    again = _pay(env, order["id"])
    assert again["id"] == payment["id"] and again["reused"] is True

    bill = _bill(env, payment)
    # The hub hands ToyyibPay its own callback URL and the attempt reference on every bill.
    assert bill["callback_url"] == env.callback_url
    assert bill["return_url"] == f"{env.hub_url}/return/{GATEWAY}/{payment['id']}"
    assert bill["external_reference"] == payment["gateway_reference"]
    assert bill["amount_sen"] == PACK_MY_SEN
    assert bill["category_code"] == DEFAULT_CATEGORY_CODE
    assert bill["active"] is True and bill["transactions"] == []

    paid = _sim_pay(env, payment, "A")
    assert paid["transaction"]["billpaymentStatus"] == "1"
    order = _wait_status(env, order["id"], "paid")
    assert order["status"] == "paid"
    assert order["payments"][0]["status"] == "succeeded"
    assert order["payments"][0]["received"] == PACK_MY_SEN
    assert any(t["kind"] == "order.paid" for t in order["timeline"])

    # The callback was answered 200 "OK" (text/plain) on its first attempt.
    deliveries = _deliveries(env)
    assert len(deliveries) == 1
    assert deliveries[0]["state"] == "delivered"
    assert [(a["status_code"], a["response_body"]) for a in deliveries[0]["attempts"]] == [
        (200, "OK")
    ]

    credits = _credits(env)
    assert credits["balance"] == 100 and len(credits["entries"]) == 1
    with env.th.hub.db.session() as s:
        assert s.scalar(select(func.count()).select_from(CreditEntry)) == 1
        events = s.scalars(select(PaymentEvent)).all()
        # Settled through the confirming getBillTransactions, not the callback alone.
        assert [(e.source, e.payment_status_after, e.amount_minor) for e in events] == [
            ("notification+query", "succeeded", PACK_MY_SEN)
        ]
    assert _outbox_types(env).count("order.paid") == 1
    assert _inbound_outcomes(env) == ["applied"]

    # A refresh afterwards changes nothing; a new attempt on a paid order is refused.
    r = env.api.get(f"/v1/payments/{payment['id']}", params={"refresh": "true"})
    assert r.status_code == 200 and r.json()["status"] == "succeeded"
    r = env.api.post(f"/v1/orders/{order['id']}/payments", json={"gateway": GATEWAY})
    assert r.status_code == 409
    assert r.json()["type"].endswith("/order-already-paid")
    # The bill is paid: ToyyibPay's page refuses a second payment.
    r = env.sim.post(f"/__sim/pay/{_bill_code(payment)}", json={"bank": "A"})
    assert r.status_code == 409
    assert _credits(env)["balance"] == 100
    _no_violations(env)


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
    _sim_pay(env, payment, "C")
    # The pending callback already went out; the settlement callback will be dropped.
    env.sim.post("/__sim/faults", json={"fault": "drop", "count": 1})
    r = env.api.get(f"/v1/payments/{payment['id']}", params={"refresh": "true"})
    assert r.status_code == 200 and r.json()["status"] == "pending"

    deadline = time.monotonic() + 10
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


def test_wrong_amount_callback_is_settled_by_the_query_amount(env: Env) -> None:
    order = _order(env, "my-wrong")
    payment = _pay(env, order["id"])
    env.sim.post("/__sim/faults", json={"fault": "wrong_amount", "count": 1})
    _sim_pay(env, payment, "A")
    order = _wait_status(env, order["id"], "paid")
    # The forged callback said RM5.25 under a valid hash; getBillTransactions says RM10.50,
    # and that is what counts: paid in full, neither under-recorded nor sent to review.
    assert order["status"] == "paid"
    assert order["payments"][0]["status"] == "succeeded"
    assert order["payments"][0]["received"] == PACK_MY_SEN
    assert order["payments"][0]["review_reason"] is None
    with env.th.hub.db.session() as s:
        event = s.scalars(select(PaymentEvent)).one()
        assert event.source == "notification+query"
        assert event.amount_minor == PACK_MY_SEN
        assert event.payload["notification"]["amount"] == "5.25"
    assert _credits(env)["balance"] == 100
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


def test_duplicate_callbacks_have_one_effect(env: Env) -> None:
    order = _order(env, "my-dup")
    payment = _pay(env, order["id"])
    env.sim.post("/__sim/faults", json={"fault": "duplicate", "count": 1})
    _sim_pay(env, payment, "A")
    order = _wait_status(env, order["id"], "paid")
    assert order["status"] == "paid"
    deliveries = _deliveries(env)
    assert len(deliveries) == 2
    assert all(d["attempts"][-1]["status_code"] == 200 for d in deliveries)
    assert _inbound_outcomes(env) == ["applied", "duplicate"]

    # A replay of the exact bytes later is answered 200 OK and changes nothing.
    with env.th.hub.db.session() as s:
        body = s.scalars(
            select(InboundRequest.body).where(InboundRequest.outcome == "applied")
        ).one()
    for _ in range(2):
        r = httpx.post(
            env.callback_url,
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
            timeout=10,
        )
        assert r.status_code == 200 and r.text == "OK"
    assert _inbound_outcomes(env) == ["applied", "duplicate", "duplicate", "duplicate"]
    with env.th.hub.db.session() as s:
        assert s.scalar(select(func.count()).select_from(CreditEntry)) == 1
        assert s.scalar(select(func.count()).select_from(PaymentEvent)) == 1
    assert _credits(env)["balance"] == 100
    assert _outbox_types(env).count("order.paid") == 1
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


def test_cancel_order_inactivates_the_bill_and_releases_stock_once(env: Env) -> None:
    _put_product(env, "tote-my", stock=3)
    order = _order(env, "my-cancel", items=[{"sku": "tote-my", "quantity": 2}])
    assert _stock(env, "tote-my") == 1
    payment = _pay(env, order["id"])
    assert _bill(env, payment)["active"] is True

    r = env.api.post(f"/v1/orders/{order['id']}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    assert r.json()["payments"][0]["status"] == "cancelled"
    assert _bill(env, payment)["active"] is False
    # The inactive bill no longer takes a payment.
    r = env.sim.post(f"/__sim/pay/{_bill_code(payment)}", json={"bank": "A"})
    assert r.status_code == 409 and "inactive" in r.json()["error"]

    assert env.api.post(f"/v1/orders/{order['id']}/cancel").status_code == 409
    assert _stock(env, "tote-my") == 3
    n = _scalar(
        env,
        "select count(*) from stock_movements where order_id = :o and reason = 'release'",
        o=order["id"],
    )
    assert n == 1
    assert _credits(env)["balance"] == 0
    _no_violations(env)


def test_refund_is_not_supported_but_a_manual_refund_is_recorded(env: Env) -> None:
    order = _order(env, "my-refund")
    payment = _pay(env, order["id"])
    _sim_pay(env, payment, "A")
    assert _wait_status(env, order["id"], "paid")["status"] == "paid"
    assert _credits(env)["balance"] == 100

    r = env.api.post(f"/v1/payments/{payment['id']}/refunds", json={"reason": "changed mind"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/refunds-not-supported")
    assert env.api.get(f"/v1/payments/{payment['id']}/refunds").json()["data"] == []
    assert _get_order(env, order["id"])["status"] == "paid"

    r = env.api.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={"reason": "refunded by DuitNow transfer", "manual": True},
    )
    assert r.status_code == 201, r.text
    refund = r.json()
    assert refund["manual"] is True and refund["status"] == "succeeded"
    assert refund["amount"] == PACK_MY_SEN and refund["currency"] == "MYR"
    listed = env.api.get(f"/v1/payments/{payment['id']}/refunds").json()["data"]
    assert [x["id"] for x in listed] == [refund["id"]]
    order = _get_order(env, order["id"])
    assert order["status"] == "refunded"
    assert _credits(env)["balance"] == 0
    # Nothing is left to refund.
    r = env.api.post(
        f"/v1/payments/{payment['id']}/refunds", json={"reason": "again", "manual": True}
    )
    assert r.status_code == 422
    assert _outbox_types(env).count("refund.succeeded") == 1
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


def test_forged_return_url_changes_nothing_and_real_return_tells_the_truth(env: Env) -> None:
    order = _order(env, "my-return")
    payment = _pay(env, order["id"])
    forged = (
        f"/return/{GATEWAY}/{payment['id']}?status_id=1&billcode={_bill_code(payment)}"
        f"&order_id={payment['gateway_reference']}&msg=ok&transaction_id=TP2601010000000009"
    )
    r = httpx.get(env.hub_url + forged, follow_redirects=True, timeout=10)
    assert r.status_code == 200
    assert "Waiting for confirmation" in r.text
    order_now = _get_order(env, order["id"])
    assert order_now["status"] == "awaiting_payment"
    assert order_now["payments"][0]["status"] == "pending"

    # The real payment, with its callback lost: the browser return's server-side query
    # settles it (never the return's own claim).
    env.sim.post("/__sim/faults", json={"fault": "drop", "count": 1})
    paid = _sim_pay(env, payment, "A")
    assert _get_order(env, order["id"])["status"] == "awaiting_payment"
    r = httpx.get(paid["return_url"], follow_redirects=True, timeout=10)
    assert r.status_code == 200
    assert "Payment received" in r.text
    assert _get_order(env, order["id"])["status"] == "paid"
    assert _credits(env)["balance"] == 100
    with env.th.hub.db.session() as s:
        kinds = sorted(s.scalars(select(InboundRequest.kind)).all())
        assert kinds == ["return", "return"]
        sources = s.scalars(select(PaymentEvent.source)).all()
        assert sources == ["query"]
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


def test_tampered_callback_is_rejected_and_audited(env: Env) -> None:
    order = _order(env, "my-tamper")
    payment = _pay(env, order["id"])
    env.sim.post("/__sim/faults", json={"fault": "tamper", "count": 1})
    # Bank B, tampered into a success after signing: the hash no longer matches.
    _sim_pay(env, payment, "B")
    deliveries = _deliveries(env)
    assert len(deliveries) == 1 and deliveries[0]["state"] == "gave_up"
    assert {(a["status_code"], a["response_body"]) for a in deliveries[0]["attempts"]} == {
        (400, "INVALID HASH")
    }
    order = _get_order(env, order["id"])
    assert order["status"] == "awaiting_payment"
    assert order["payments"][0]["status"] == "pending"
    outcomes = _inbound_outcomes(env)
    assert outcomes and set(outcomes) == {"invalid_signature"}
    assert _scalar(env, "select count(*) from payment_events") == 0
    assert _scalar(
        env, "select count(*) from audit_log where action = 'notification.invalid_signature'"
    ) == len(outcomes)
    assert _credits(env)["balance"] == 0
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

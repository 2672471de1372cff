"""MoMo end to end, what only MoMo does: its result codes (1006 denied, 1001 insufficient
funds, 1005 expired), its amount minimums (create and refund), MoMo's own resend, a late
payment on a link it cannot cancel, concurrent creates racing one requestId, and a dropped
IPN settled by query into exactly the state an IPN leaves. The contract every gateway meets
is tests/e2e/test_flow.py; this file runs on the same kit (tests/support/conformance.py)
and driver (tests/e2e/drivers/momo.py), on SQLite and PostgreSQL, and checks the money
invariants in SQL after every scenario."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from payhub.store.invariants import check_invariants
from payhub.store.models import (
    AuditEntry,
    CreditEntry,
    InboundRequest,
    OutboxEvent,
    Payment,
    PaymentEvent,
)
from tests.e2e.drivers.momo import DRIVER
from tests.support.conformance import Env, running
from tests.support.hub import HubUnderTest, run_worker_task

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"


@pytest.fixture
def env(seeded: Callable[[str], HubUnderTest]) -> Iterator[Env]:
    with running(DRIVER, seeded) as e:
        yield e


# ---------------------------------------------------------------------- helpers


def _order(env: Env, ref: str, items: list[dict[str, Any]] | None = None, **extra: Any) -> dict:
    body = {
        "merchant_reference": ref,
        "currency": "VND",
        "items": items or [{"sku": "pack-100"}],
        "customer": {"external_id": "bao", "name": "Nguyễn Văn Bảo", "email": "bao@example.vn"},
        **extra,
    }
    r = env.api.post("/v1/orders", json=body, headers={"Idempotency-Key": f"k-{ref}"})
    assert r.status_code == 201, r.text
    return r.json()


def _pay(env: Env, order_id: str) -> dict:
    r = env.api.post(f"/v1/orders/{order_id}/payments", json={"gateway": "momo"})
    assert r.status_code == 200, r.text
    return r.json()


def _sim_pay(env: Env, payment: dict, outcome: str = "paid") -> dict:
    r = env.sim.post(f"/__sim/pay/{payment['gateway_reference']}", json={"outcome": outcome})
    assert r.status_code == 200, r.text
    _flush(env)
    return r.json()


def _flush(env: Env) -> None:
    r = env.sim.post("/__sim/flush")
    assert r.status_code == 200, r.text


def _fault(env: Env, name: str, count: int = 1) -> None:
    r = env.sim.post("/__sim/faults", json={"fault": name, "count": count})
    assert r.status_code == 200, r.text


def _get_order(env: Env, order_id: str) -> dict:
    r = env.api.get(f"/v1/orders/{order_id}")
    assert r.status_code == 200, r.text
    return r.json()


def _wait_status(env: Env, order_id: str, status: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        order = _get_order(env, order_id)
        if order["status"] == status or time.monotonic() > deadline:
            return order
        time.sleep(0.05)


def _deliveries(env: Env, reference: str) -> list[dict]:
    r = env.sim.get("/__sim/deliveries")
    assert r.status_code == 200, r.text
    return [d for d in r.json() if f"ipn {reference} " in d["label"]]


def _ipn_status_codes(env: Env, reference: str) -> list[int | None]:
    return [a["status_code"] for d in _deliveries(env, reference) for a in d["attempts"]]


def _credits(env: Env, customer: str = "bao") -> dict:
    r = env.api.get(f"/v1/customers/{customer}/credits")
    assert r.status_code == 200, r.text
    return r.json()


def _outbox(env: Env, order_id: str | None = None) -> list[str]:
    with env.th.hub.db.session() as s:
        rows = s.scalars(select(OutboxEvent).order_by(OutboxEvent.created_at)).all()
        return [
            r.event_type
            for r in rows
            if order_id is None or r.payload["data"].get("order_id") == order_id
        ]


def _inbound_outcomes(env: Env, payment_id: str | None = None) -> list[str]:
    with env.th.hub.db.session() as s:
        q = select(InboundRequest.outcome).where(InboundRequest.kind == "notification")
        if payment_id is not None:
            q = q.where(InboundRequest.payment_id == payment_id)
        return sorted(s.scalars(q).all())


def _payment_row(env: Env, payment_id: str) -> Payment:
    with env.th.hub.db.session() as s:
        row = s.scalar(select(Payment).where(Payment.id == payment_id))
        assert row is not None
        s.expunge(row)
        return row


def _assert_problem(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers
    body = r.json()
    assert body["type"].endswith(f"/{code}"), body
    assert body["status"] == status
    return body


def _no_violations(env: Env) -> None:
    assert check_invariants(env.th.hub.db.engine) == {}


def _settled_shape(env: Env, order_id: str) -> dict[str, Any]:
    """What a settled order looks like, stripped of ids and times, to compare two paths."""
    order = _get_order(env, order_id)
    payment = order["payments"][-1]
    row = _payment_row(env, payment["id"])
    with env.th.hub.db.session() as s:
        credits = sorted(
            (r.reason, r.amount)
            for r in s.execute(
                select(CreditEntry.reason, CreditEntry.amount).where(
                    CreditEntry.order_id == order_id
                )
            )
        )
        events = s.execute(
            select(PaymentEvent.payment_status_before, PaymentEvent.payment_status_after).where(
                PaymentEvent.payment_id == payment["id"]
            )
        ).all()
    return {
        "order_status": order["status"],
        "paid_at_set": order["paid_at"] is not None,
        "payment_status": payment["status"],
        "received": payment["received"],
        "review_reason": payment["review_reason"],
        "txn_id_set": bool(row.gateway_txn_id),
        "credits": credits,
        "outbox": sorted(_outbox(env, order_id)),
        "timeline": [t["kind"] for t in order["timeline"]],
        "transitions": [tuple(e) for e in events],
    }


# ---------------------------------------------------------------------- scenarios


def test_user_denied_cancels_order_and_releases_stock_once(env: Env) -> None:
    order = _order(env, "m-denied", [{"sku": "tshirt", "quantity": 2}], cancel_on_failure=True)
    stock = {p["sku"]: p["stock_available"] for p in env.api.get("/v1/products").json()["data"]}
    assert stock["tshirt"] == 3
    payment = _pay(env, order["id"])
    _sim_pay(env, payment, "denied")
    order = _wait_status(env, order["id"], "cancelled")
    assert order["status"] == "cancelled"
    attempt = order["payments"][0]
    assert attempt["status"] == "cancelled" and attempt["failure_code"] == "1006"
    assert _ipn_status_codes(env, payment["gateway_reference"]) == [204]
    assert _credits(env)["balance"] == 0
    # The merchant hears both facts: the attempt failed and, as asked, the order is cancelled.
    events = _outbox(env, order["id"])
    assert events.count("payment.failed") == 1 and events.count("order.cancelled") == 1
    assert "order.paid" not in events
    products = {p["sku"]: p for p in env.api.get("/v1/products").json()["data"]}
    assert products["tshirt"]["stock_available"] == 5
    # A duplicate copy of the same IPN changes nothing.
    env.sim.post(f"/__sim/resend/{payment['gateway_reference']}")
    _flush(env)
    assert _inbound_outcomes(env) == ["applied", "duplicate"]
    with env.th.hub.db.engine.connect() as c:
        n = c.execute(text("select count(*) from stock_movements where reason='release'")).scalar()
    assert n == 1
    r = env.api.post(f"/v1/orders/{order['id']}/payments", json={"gateway": "momo"})
    _assert_problem(r, 409, "order-not-payable")
    _no_violations(env)


def test_insufficient_funds_fails_attempt_and_customer_can_retry(env: Env) -> None:
    order = _order(env, "m-insufficient")
    first = _pay(env, order["id"])
    _sim_pay(env, first, "insufficient")
    order = _wait_status(env, order["id"], "payment_failed")
    assert order["status"] == "payment_failed"
    assert order["payments"][0]["status"] == "failed"
    assert order["payments"][0]["failure_code"] == "1001"
    assert _credits(env)["balance"] == 0
    _no_violations(env)

    second = _pay(env, order["id"])
    assert second["id"] != first["id"] and second["reused"] is False
    assert second["gateway_reference"] != first["gateway_reference"]
    assert _get_order(env, order["id"])["status"] == "awaiting_payment"
    _sim_pay(env, second)
    order = _wait_status(env, order["id"], "paid")
    assert order["status"] == "paid"
    assert [p["status"] for p in order["payments"]] == ["failed", "succeeded"]
    assert _credits(env)["balance"] == 100
    _no_violations(env)


def test_expired_link(env: Env) -> None:
    order = _order(env, "m-expired")
    payment = _pay(env, order["id"])
    _sim_pay(env, payment, "expired")
    order = _wait_status(env, order["id"], "payment_failed")
    assert order["status"] == "payment_failed"
    attempt = order["payments"][0]
    assert attempt["status"] == "expired" and attempt["failure_code"] == "1005"
    assert _ipn_status_codes(env, payment["gateway_reference"]) == [204]
    assert _credits(env)["balance"] == 0
    assert "payment.failed" in _outbox(env, order["id"])
    assert "order.paid" not in _outbox(env, order["id"])
    # MoMo's query agrees; a refresh changes nothing.
    r = env.api.get(f"/v1/payments/{payment['id']}", params={"refresh": "true"})
    assert r.status_code == 200 and r.json()["status"] == "expired"
    assert _get_order(env, order["id"])["status"] == "payment_failed"
    _no_violations(env)


def test_dropped_ipn_then_refresh_settles_exactly_as_an_ipn(env: Env) -> None:
    # Reference path: an IPN settles this order.
    by_ipn = _order(env, "m-ipn")
    p_ipn = _pay(env, by_ipn["id"])
    _sim_pay(env, p_ipn)
    assert _wait_status(env, by_ipn["id"], "paid")["status"] == "paid"

    # Dropped path: MoMo never calls back; a server-side query must settle it.
    order = _order(env, "m-dropped")
    payment = _pay(env, order["id"])
    # While the customer has not paid, a refresh reads "pending" and changes nothing.
    r = env.api.get(f"/v1/payments/{payment['id']}", params={"refresh": "true"})
    assert r.status_code == 200 and r.json()["status"] == "pending"
    with env.th.hub.db.session() as s:
        assert s.scalar(select(func.count()).select_from(PaymentEvent)) == 1  # the IPN one
    _fault(env, "drop")
    _sim_pay(env, payment)
    assert [d["state"] for d in _deliveries(env, payment["gateway_reference"])] == ["dropped"]
    time.sleep(0.2)
    assert _get_order(env, order["id"])["status"] == "awaiting_payment"

    r = env.api.get(f"/v1/payments/{payment['id']}", params={"refresh": "true"})
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["status"] == "succeeded" and view["received"] == 20_000
    assert _get_order(env, order["id"])["status"] == "paid"
    with env.th.hub.db.session() as s:
        sources = s.scalars(
            select(PaymentEvent.source).where(PaymentEvent.payment_id == payment["id"])
        ).all()
    assert sources == ["query"]
    assert _settled_shape(env, order["id"]) == _settled_shape(env, by_ipn["id"])
    assert _credits(env)["balance"] == 200

    # Refreshing again, or the IPN turning up late, has no further effect.
    r = env.api.get(f"/v1/payments/{payment['id']}", params={"refresh": "true"})
    assert r.json()["status"] == "succeeded"
    shape = _settled_shape(env, order["id"])
    assert env.sim.post(f"/__sim/resend/{payment['gateway_reference']}").status_code == 200
    _flush(env)
    assert _ipn_status_codes(env, payment["gateway_reference"]) == [204]
    assert _settled_shape(env, order["id"])["payment_status"] == "succeeded"
    assert _settled_shape(env, order["id"])["outbox"] == shape["outbox"]
    assert _settled_shape(env, order["id"])["credits"] == [("order_paid", 100)]
    assert _credits(env)["balance"] == 200
    _no_violations(env)


def test_operator_recorded_payment_settles_and_is_audited(env: Env) -> None:
    order = _order(env, "m-manual")
    momo = _pay(env, order["id"])  # a live MoMo link the customer then ignores
    path = f"/v1/orders/{order['id']}/manual-payments"
    body = {"amount": 20_000, "reference": "VCB-20261122-0042", "note": "bank transfer"}

    r = httpx.post(env.hub_url + path, json=body, timeout=10)
    _assert_problem(r, 401, "unauthorized")
    r = httpx.post(
        env.hub_url + path,
        json=body,
        headers={"Authorization": "Bearer sk_test_not-a-real-key"},
        timeout=10,
    )
    assert r.status_code == 401, r.text
    assert _get_order(env, order["id"])["status"] == "awaiting_payment"
    with env.th.hub.db.session() as s:
        assert s.scalar(select(func.count()).select_from(CreditEntry)) == 0
        assert not s.scalars(
            select(AuditEntry).where(AuditEntry.action == "payment.manual_recorded")
        ).all()

    r = env.api.post(path, json=body)
    assert r.status_code == 201, r.text
    manual = r.json()
    assert manual["gateway"] == "manual" and manual["status"] == "succeeded"
    order = _get_order(env, order["id"])
    assert order["status"] == "paid"
    assert _credits(env)["balance"] == 100
    assert _outbox(env, order["id"]).count("order.paid") == 1
    with env.th.hub.db.session() as s:
        audit = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "payment.manual_recorded")
        ).all()
    assert len(audit) == 1
    assert audit[0].subject == manual["id"]
    assert audit[0].actor.startswith("api_key:")
    assert audit[0].source_ip == "127.0.0.1"
    assert audit[0].after["reference"] == "VCB-20261122-0042"
    _no_violations(env)

    # Recording it again is refused; the order is already paid.
    r = env.api.post(path, json=body)
    _assert_problem(r, 409, "order-already-paid")

    # The customer pays the forgotten MoMo link too: money moved, a person decides.
    _sim_pay(env, momo)
    time.sleep(0.1)
    order = _get_order(env, order["id"])
    assert order["status"] == "paid"
    by_id = {p["id"]: p for p in order["payments"]}
    assert by_id[momo["id"]]["status"] == "review"
    assert by_id[momo["id"]]["review_reason"] == "double_payment"
    assert _ipn_status_codes(env, momo["gateway_reference"]) == [204]
    assert _credits(env)["balance"] == 100
    assert "operator.alert" in _outbox(env, order["id"])
    # An operator-recorded payment is refunded by recording the refund, not through MoMo.
    r = env.api.post(f"/v1/payments/{manual['id']}/refunds", json={"amount": 1_000})
    _assert_problem(r, 422, "refunds-not-supported")
    _no_violations(env)


def test_amount_below_momo_minimum_is_refused_clearly(env: Env) -> None:
    order = _order(
        env, "m-tiny", [{"name": "Sticker", "unit_price": 500, "quantity": 1}], credits=0
    )
    assert order["amount"] == 500
    gateways = env.api.get("/v1/gateways", params={"amount": 500, "currency": "VND"}).json()
    assert "momo" not in [g["gateway"] for g in gateways["data"]]
    r = env.api.post(f"/v1/orders/{order['id']}/payments", json={"gateway": "momo"})
    body = _assert_problem(r, 422, "gateway-not-available")
    assert "momo" in body["detail"]
    assert "1,000" in body["detail"] and "500" in body["detail"]
    order = _get_order(env, order["id"])
    assert order["status"] == "awaiting_payment" and order["payments"] == []
    assert env.sim.get("/__sim/deliveries").json() == []
    _no_violations(env)


def test_order_expires_then_late_momo_payment_goes_to_review(env: Env) -> None:
    from datetime import timedelta

    from payhub.services.checkout import expire_due_orders

    order = _order(env, "m-late", [{"sku": "tshirt"}], expires_in_seconds=60)
    payment = _pay(env, order["id"])
    later = env.th.hub.clock.now() + timedelta(minutes=10)
    assert run_worker_task(env.th.hub, expire_due_orders, later) == 1
    order = _get_order(env, order["id"])
    assert order["status"] == "expired"
    assert order["payments"][0]["status"] == "cancelled"
    stock = {p["sku"]: p["stock_available"] for p in env.api.get("/v1/products").json()["data"]}
    assert stock["tshirt"] == 5
    assert _outbox(env, order["id"]).count("order.expired") == 1
    _no_violations(env)

    # MoMo cannot cancel the link: the customer pays it anyway. Money moved; a person decides.
    _sim_pay(env, payment)
    order = _wait_status(env, order["id"], "review")
    assert order["status"] == "review"
    assert order["payments"][0]["status"] == "review"
    assert order["payments"][0]["review_reason"] == "paid_after_expiry"
    assert _ipn_status_codes(env, payment["gateway_reference"]) == [204]
    assert _credits(env)["balance"] == 0
    assert "operator.alert" in _outbox(env, order["id"])
    assert "order.paid" not in _outbox(env, order["id"])
    _no_violations(env)


def test_refund_below_momo_minimum_is_refused_and_reserves_nothing(env: Env) -> None:
    order = _order(env, "m-small-refund")
    payment = _pay(env, order["id"])
    _sim_pay(env, payment)
    assert _wait_status(env, order["id"], "paid")["status"] == "paid"
    # Checked before calling MoMo: a clear 422, and no refund record is left behind.
    r = env.api.post(f"/v1/payments/{payment['id']}/refunds", json={"amount": 500})
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/invalid-request")
    assert "1,000" in r.json()["detail"]
    assert env.api.get(f"/v1/payments/{payment['id']}/refunds").json()["data"] == []
    assert env.sim.get(f"/__sim/orders/{payment['gateway_reference']}").json()["refunded"] == 0
    assert _get_order(env, order["id"])["status"] == "paid"
    r = env.api.post(f"/v1/payments/{payment['id']}/refunds", json={"reason": "all"})
    assert r.status_code == 201 and r.json()["amount"] == 20_000, r.text
    _no_violations(env)


def _race_two_starts(env: Env, order_id: str) -> list[httpx.Response]:
    """Two "Pay with MoMo" clicks, the second while MoMo is still answering the first."""
    import concurrent.futures

    _fault(env, "slow_create")  # the first create holds its requestId for a second

    def start() -> httpx.Response:
        with httpx.Client(base_url=env.hub_url, headers=env.th.headers, timeout=30) as c:
            return c.post(f"/v1/orders/{order_id}/payments", json={"gateway": "momo"})

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(start)
        time.sleep(0.3)
        second = pool.submit(start)
        return [first.result(), second.result()]


def test_concurrent_payment_starts_never_settle_twice(env: Env) -> None:
    order = _order(env, "m-race")
    answers = _race_two_starts(env, order["id"])
    # A start racing an in-flight create is told to retry (409 attempt-in-flight).
    assert all(a.status_code in (200, 409) for a in answers), [a.text for a in answers]
    for a in answers:
        if a.status_code == 409:
            assert a.json()["type"].endswith("/attempt-in-flight")
            assert a.json()["retry_safe"] is True
    attempts = {a.json()["id"]: a.json() for a in answers if a.status_code == 200}
    # Whatever links exist, the customer pays every one of them.
    for attempt in attempts.values():
        r = env.sim.post(f"/__sim/pay/{attempt['gateway_reference']}", json={"outcome": "paid"})
        assert r.status_code == 200, r.text
    _flush(env)
    order = _wait_status(env, order["id"], "paid")
    assert order["status"] == "paid"
    statuses = [p["status"] for p in order["payments"]]
    assert statuses.count("succeeded") == 1
    assert statuses.count("review") == len(attempts) - 1
    assert _credits(env)["balance"] == 100
    assert _outbox(env, order["id"]).count("order.paid") == 1
    _no_violations(env)


def test_concurrent_payment_starts_share_one_attempt(env: Env) -> None:
    order = _order(env, "m-race-one")
    answers = _race_two_starts(env, order["id"])
    assert answers[0].status_code == 200, answers[0].text
    # Either the live attempt is returned or "in progress, retry" is answered; never a
    # second link at MoMo.
    assert answers[1].status_code in (200, 409), answers[1].text
    assert len(_get_order(env, order["id"])["payments"]) == 1
    # Retrying once the first create has finished returns that same live attempt.
    retry = _pay(env, order["id"])
    assert retry["id"] == answers[0].json()["id"] and retry["reused"] is True
    assert len(_get_order(env, order["id"])["payments"]) == 1

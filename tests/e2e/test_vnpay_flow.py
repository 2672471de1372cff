"""VNPay end to end over real loopback HTTP: hub and VNPay simulator as real servers, on
SQLite and PostgreSQL. The simulator sends the IPN (a signed GET) to the terminal's
registered IPN URL, which is the hub's callback URL for the test's gateway account; every
scenario checks the hub's RspCode answers as the simulator recorded them, and the money
invariants in SQL afterwards."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select, text

from payhub.store.invariants import check_invariants
from payhub.store.models import (
    AuditEntry,
    CreditEntry,
    InboundRequest,
    OutboxEvent,
    PaymentEvent,
)
from tests.support.hub import HubUnderTest, connect_gateway, make_hub, simulator_app
from tests.support.servers import free_port, serve_app

pytestmark = pytest.mark.e2e

PAY_PATH = "/paymentv2/vpcpay.html"
CHECKOUT_PATH = "/paymentv2/Transaction/PaymentMethod.html"


@dataclass
class Env:
    th: HubUnderTest
    hub_url: str
    sim_url: str
    api: httpx.Client
    sim: httpx.Client


@contextmanager
def _running(db_url: str, attempts: int = 3, interval: float = 0.05) -> Iterator[Env]:
    hub_port, sim_port = free_port(), free_port()
    hub_url, sim_url = f"http://127.0.0.1:{hub_port}", f"http://127.0.0.1:{sim_port}"
    th = make_hub(db_url, public_url=hub_url)
    account = connect_gateway(th, "vnpay", sim_url)
    sim = simulator_app(
        "vnpay",
        sim_url,
        attempts=attempts,
        interval=interval,
        ipn_url=f"{hub_url}/callbacks/vnpay/{account}",
    )
    try:
        with (
            serve_app(th.app, hub_port),
            serve_app(sim, sim_port),
            httpx.Client(base_url=hub_url, headers=th.headers, timeout=30) as api,
            httpx.Client(base_url=sim_url, timeout=30) as sim_client,
        ):
            yield Env(th, hub_url, sim_url, api, sim_client)
    finally:
        th.hub.db.dispose()


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    with _running(db_url) as e:
        yield e


# ----------------------------------------------------------------------------- helpers


def _order(env: Env, ref: str, sku: str = "pack-100", **extra: Any) -> dict:
    body = {
        "merchant_reference": ref,
        "currency": "VND",
        "items": [{"sku": sku}],
        "customer": {"external_id": "binh", "email": "binh@example.com"},
        **extra,
    }
    r = env.api.post("/v1/orders", json=body, headers={"Idempotency-Key": f"k-{ref}"})
    assert r.status_code == 201, r.text
    return r.json()


def _pay(env: Env, order_id: str) -> dict:
    """Start a VNPay attempt and open its pay URL like the buyer's browser."""
    r = env.api.post(f"/v1/orders/{order_id}/payments", json={"gateway": "vnpay"})
    assert r.status_code == 200, r.text
    payment = r.json()
    assert payment["status"] == "pending"
    assert payment["checkout_url"].startswith(env.sim_url + PAY_PATH + "?")
    opened = httpx.get(payment["checkout_url"], follow_redirects=False, timeout=10)
    assert opened.status_code == 302, opened.text
    assert opened.headers["location"].startswith(CHECKOUT_PATH + "?token="), opened.headers
    return payment


def _sim_pay(env: Env, payment: dict, outcome: str = "success") -> dict:
    r = env.sim.post(f"/__sim/pay/{payment['gateway_reference']}", json={"outcome": outcome})
    assert r.status_code == 200, r.text
    flushed = env.sim.post("/__sim/flush")
    assert flushed.status_code == 200, flushed.text
    return r.json()


def _fault(env: Env, fault: str, count: int = 1) -> None:
    r = env.sim.post("/__sim/faults", json={"fault": fault, "count": count})
    assert r.status_code == 200, r.text


def _deliveries(env: Env) -> list[dict]:
    r = env.sim.get("/__sim/deliveries")
    assert r.status_code == 200, r.text
    return r.json()


def _replies(delivery: dict) -> list[tuple[int | None, str | None]]:
    """(HTTP status, RspCode) of every call of one IPN delivery."""
    out: list[tuple[int | None, str | None]] = []
    for attempt in delivery["attempts"]:
        code = None
        if attempt["response_body"]:
            body = json.loads(attempt["response_body"])
            assert set(body) == {"RspCode", "Message"}, body
            code = body["RspCode"]
        out.append((attempt["status_code"], code))
    return out


def _order_view(env: Env, order_id: str) -> dict:
    r = env.api.get(f"/v1/orders/{order_id}")
    assert r.status_code == 200, r.text
    return r.json()


def _wait_status(env: Env, order_id: str, status: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        order = _order_view(env, order_id)
        if order["status"] == status or time.monotonic() > deadline:
            return order
        time.sleep(0.05)


def _credits(env: Env) -> dict:
    r = env.api.get("/v1/customers/binh/credits")
    assert r.status_code == 200, r.text
    return r.json()


def _count(env: Env, model: Any) -> int:
    with env.th.hub.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _outbox_types(env: Env) -> list[str]:
    with env.th.hub.db.session() as s:
        return list(s.scalars(select(OutboxEvent.event_type)).all())


def _inbound_outcomes(env: Env, kind: str = "notification") -> list[str]:
    with env.th.hub.db.session() as s:
        rows = s.scalars(
            select(InboundRequest.outcome)
            .where(InboundRequest.kind == kind)
            .order_by(InboundRequest.id)
        ).all()
        return list(rows)


def _no_violations(env: Env) -> None:
    assert check_invariants(env.th.hub.db.engine) == {}


def _paid(env: Env, ref: str) -> tuple[dict, dict]:
    order = _order(env, ref)
    payment = _pay(env, order["id"])
    _sim_pay(env, payment)
    order = _wait_status(env, order["id"], "paid")
    assert order["status"] == "paid", order
    return order, payment


# ----------------------------------------------------------------------------- scenarios


def test_paid_once_credits_once_and_ipn_answered_00(env: Env) -> None:
    order = _order(env, "v-paid")
    assert order["status"] == "awaiting_payment" and order["credits"] == 100
    payment = _pay(env, order["id"])
    query = parse_qs(urlsplit(payment["checkout_url"]).query)
    assert query["vnp_TxnRef"] == [payment["gateway_reference"]]
    assert query["vnp_Amount"] == ["2000000"]  # 20,000 VND x 100
    assert query["vnp_ReturnUrl"] == [f"{env.hub_url}/return/vnpay/{payment['id']}"]
    again = env.api.post(f"/v1/orders/{order['id']}/payments", json={"gateway": "vnpay"})
    assert again.json()["id"] == payment["id"] and again.json()["reused"] is True

    done = _sim_pay(env, payment)
    assert done["params"]["vnp_ResponseCode"] == "00"
    order = _wait_status(env, order["id"], "paid")
    assert order["status"] == "paid"
    assert order["payments"][0]["status"] == "succeeded"
    assert order["payments"][0]["received"] == 20_000
    credits = _credits(env)
    assert credits["balance"] == 100 and len(credits["entries"]) == 1

    (delivery,) = _deliveries(env)
    assert delivery["state"] == "delivered"
    assert delivery["url"].startswith(f"{env.hub_url}/callbacks/vnpay/")
    assert _replies(delivery) == [(200, "00")]
    assert delivery["attempts"][0]["response_body"] == (
        '{"RspCode":"00","Message":"Confirm Success"}'
    )
    assert _inbound_outcomes(env) == ["applied"]
    assert _outbox_types(env).count("order.paid") == 1

    # The buyer's browser comes back with the same signed query: display only.
    back = httpx.get(done["return_url"], follow_redirects=True, timeout=10)
    assert back.status_code == 200 and "Payment received" in back.text
    assert _inbound_outcomes(env, "return") == ["displayed"]

    r = env.api.post(f"/v1/orders/{order['id']}/payments", json={"gateway": "vnpay"})
    assert r.status_code == 409 and r.json()["type"].endswith("/order-already-paid")
    assert _count(env, CreditEntry) == 1
    _no_violations(env)


def test_buyer_cancel_fails_the_attempt(env: Env) -> None:
    order = _order(env, "v-cancel")
    payment = _pay(env, order["id"])
    done = _sim_pay(env, payment, "cancel")
    assert done["params"]["vnp_ResponseCode"] == "24"
    order = _wait_status(env, order["id"], "payment_failed")
    assert order["status"] == "payment_failed"
    attempt = order["payments"][0]
    assert attempt["status"] == "cancelled" and attempt["failure_code"] == "24/02"
    (delivery,) = _deliveries(env)
    assert _replies(delivery) == [(200, "00")]
    assert _credits(env)["balance"] == 0
    assert _count(env, CreditEntry) == 0
    assert "payment.failed" in _outbox_types(env) and "order.paid" not in _outbox_types(env)

    # The customer may try again: a fresh attempt with a fresh TxnRef, and it pays.
    retry = _pay(env, order["id"])
    assert retry["id"] != payment["id"]
    assert retry["gateway_reference"] != payment["gateway_reference"]
    _sim_pay(env, retry)
    order = _wait_status(env, order["id"], "paid")
    assert order["status"] == "paid"
    assert _credits(env)["balance"] == 100
    _no_violations(env)


def test_insufficient_funds_fails(env: Env) -> None:
    order = _order(env, "v-nsf", cancel_on_failure=True, sku="tshirt")
    payment = _pay(env, order["id"])
    _sim_pay(env, payment, "insufficient")
    order = _wait_status(env, order["id"], "cancelled")
    attempt = order["payments"][0]
    assert attempt["status"] == "failed" and attempt["failure_code"] == "51/02"
    assert order["status"] == "cancelled"  # cancel_on_failure: stock released at once
    (delivery,) = _deliveries(env)
    assert _replies(delivery) == [(200, "00")]
    products = {p["sku"]: p for p in env.api.get("/v1/products").json()["data"]}
    assert products["tshirt"]["stock_available"] == 5
    assert _count(env, CreditEntry) == 0
    _no_violations(env)


def test_insufficient_funds_without_cancel_on_failure(env: Env) -> None:
    order = _order(env, "v-nsf2")
    payment = _pay(env, order["id"])
    _sim_pay(env, payment, "insufficient")
    order = _wait_status(env, order["id"], "payment_failed")
    assert order["status"] == "payment_failed"
    assert order["payments"][0]["status"] == "failed"
    assert _credits(env)["balance"] == 0
    _no_violations(env)


def test_wrong_amount_answers_04_and_goes_to_review(env: Env) -> None:
    order = _order(env, "v-wrong")
    payment = _pay(env, order["id"])
    _fault(env, "wrong_amount")
    _sim_pay(env, payment)
    order = _wait_status(env, order["id"], "review")
    assert order["status"] == "review"
    attempt = order["payments"][0]
    assert attempt["status"] == "review" and attempt["review_reason"] == "amount_mismatch"
    assert attempt["received"] == 21_000  # the signed IPN said 1,000 đ more
    (delivery,) = _deliveries(env)
    replies = _replies(delivery)
    # The first call is told "invalid amount"; VNPay retries on 04 and is then told the
    # fact is already recorded.
    assert replies[0] == (200, "04")
    assert json.loads(delivery["attempts"][0]["response_body"])["Message"] == "invalid amount"
    assert all(r == (200, "02") for r in replies[1:])
    outcomes = _inbound_outcomes(env)
    assert outcomes[0] == "amount_mismatch" and set(outcomes[1:]) <= {"duplicate"}
    assert _count(env, CreditEntry) == 0
    assert _credits(env)["balance"] == 0
    types = _outbox_types(env)
    assert types.count("operator.alert") == 1 and types.count("payment.review") == 1
    assert "order.paid" not in types
    _no_violations(env)


def test_duplicate_ipn_second_answered_02_one_credit(env: Env) -> None:
    order = _order(env, "v-dup")
    payment = _pay(env, order["id"])
    _fault(env, "duplicate")
    _sim_pay(env, payment)
    order = _wait_status(env, order["id"], "paid")
    assert order["status"] == "paid"
    deliveries = _deliveries(env)
    assert len(deliveries) == 2 and deliveries[0]["url"] == deliveries[1]["url"]
    codes = sorted(code for d in deliveries for _, code in _replies(d))
    assert codes == ["00", "02"]
    bodies = {d["attempts"][0]["response_body"] for d in deliveries}
    assert '{"RspCode":"02","Message":"Order already confirmed"}' in bodies
    assert sorted(_inbound_outcomes(env)) == ["applied", "duplicate"]
    assert _count(env, CreditEntry) == 1 and _credits(env)["balance"] == 100
    assert _count(env, PaymentEvent) == 1
    assert _outbox_types(env).count("order.paid") == 1
    _no_violations(env)


def test_tampered_ipn_answered_97_and_changes_nothing(env: Env) -> None:
    order = _order(env, "v-tamper")
    payment = _pay(env, order["id"])
    _fault(env, "tamper")
    _sim_pay(env, payment)
    (delivery,) = _deliveries(env)
    replies = _replies(delivery)
    # 97 is not final for VNPay: it retries every call and each is refused the same way.
    assert replies == [(200, "97")] * 3 and delivery["state"] == "gave_up"
    order = _order_view(env, order["id"])
    assert order["status"] == "awaiting_payment"
    assert order["payments"][0]["status"] == "pending"
    assert _inbound_outcomes(env) == ["invalid_signature"] * 3
    assert _count(env, PaymentEvent) == 0 and _count(env, CreditEntry) == 0
    with env.th.hub.db.session() as s:
        actions = s.scalars(select(AuditEntry.action)).all()
        assert "notification.invalid_signature" in actions
        assert s.scalars(select(InboundRequest.query_string)).first()  # raw query kept
    assert not {"order.paid", "payment.failed", "payment.review"} & set(_outbox_types(env))
    _no_violations(env)


def test_lost_ipn_settled_by_querydr_refresh(env: Env) -> None:
    order = _order(env, "v-drop")
    payment = _pay(env, order["id"])
    _fault(env, "drop")
    _sim_pay(env, payment)
    (delivery,) = _deliveries(env)
    assert delivery["state"] == "dropped" and delivery["attempts"] == []
    assert _order_view(env, order["id"])["status"] == "awaiting_payment"

    plain = env.api.get(f"/v1/payments/{payment['id']}")
    assert plain.json()["status"] == "pending"  # no refresh: no gateway call
    r = env.api.get(f"/v1/payments/{payment['id']}", params={"refresh": "true"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "succeeded" and r.json()["received"] == 20_000
    order = _order_view(env, order["id"])
    assert order["status"] == "paid"
    assert _credits(env)["balance"] == 100

    # A second refresh reads the same fact again: nothing more happens.
    r = env.api.get(f"/v1/payments/{payment['id']}", params={"refresh": "true"})
    assert r.json()["status"] == "succeeded"
    assert _count(env, CreditEntry) == 1
    assert _outbox_types(env).count("order.paid") == 1
    with env.th.hub.db.session() as s:
        sources = s.scalars(select(PaymentEvent.source)).all()
        assert sources == ["query"]
    assert _inbound_outcomes(env) == []
    _no_violations(env)


def test_querydr_refresh_before_payment_keeps_pending(env: Env) -> None:
    order = _order(env, "v-early")
    payment = _pay(env, order["id"])
    r = env.api.get(f"/v1/payments/{payment['id']}", params={"refresh": "true"})
    assert r.status_code == 200 and r.json()["status"] == "pending"  # querydr 91: not yet
    _fault(env, "querydr_busy")
    _sim_pay(env, payment, "success")
    order = _wait_status(env, order["id"], "paid")  # the IPN settles it
    r = env.api.get(f"/v1/payments/{payment['id']}", params={"refresh": "true"})
    assert r.status_code == 200 and r.json()["status"] == "succeeded"  # 94 changes nothing
    assert _count(env, CreditEntry) == 1
    _no_violations(env)


def test_refund_partial_then_full_and_over_refund_refused(env: Env) -> None:
    order, payment = _paid(env, "v-refund")
    assert _credits(env)["balance"] == 100

    r = env.api.post(
        f"/v1/payments/{payment['id']}/refunds", json={"amount": 5_000, "reason": "one item"}
    )
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["amount"] == 5_000 and first["status"] == "succeeded"
    assert first["gateway_code"] == "05"  # VNPay accepted it and is processing it
    order = _order_view(env, order["id"])
    assert order["status"] == "partially_refunded"

    r = env.api.post(
        f"/v1/payments/{payment['id']}/refunds", json={"amount": 15_001, "reason": "too much"}
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["type"].endswith("/refund-not-allowed")
    assert problem["status"] == 422
    assert _order_view(env, order["id"])["status"] == "partially_refunded"

    r = env.api.post(f"/v1/payments/{payment['id']}/refunds", json={"reason": "the rest"})
    assert r.status_code == 201, r.text
    second = r.json()
    assert second["amount"] == 15_000 and second["status"] == "succeeded"
    order = _order_view(env, order["id"])
    assert order["status"] == "refunded"
    view = env.api.get(f"/v1/payments/{payment['id']}").json()
    assert view["refunded"] == 20_000

    r = env.api.post(f"/v1/payments/{payment['id']}/refunds", json={"reason": "again"})
    assert r.status_code == 422 and r.json()["type"].endswith("/refund-not-allowed")

    listed = env.api.get(f"/v1/payments/{payment['id']}/refunds").json()["data"]
    assert [(x["amount"], x["status"]) for x in listed] == [
        (5_000, "succeeded"),
        (15_000, "succeeded"),
    ]
    (txn,) = env.sim.get("/__sim/transactions").json()
    assert txn["refunded"] == 20_000  # the simulator really refunded both parts
    types = _outbox_types(env)
    assert types.count("refund.succeeded") == 2 and "refund.failed" not in types
    _no_violations(env)


def test_forged_return_parameters_change_nothing(env: Env) -> None:
    order = _order(env, "v-forged")
    payment = _pay(env, order["id"])
    forged = {
        "vnp_Amount": "2000000",
        "vnp_BankCode": "NCB",
        "vnp_OrderInfo": "x",
        "vnp_PayDate": "20240101120000",
        "vnp_ResponseCode": "00",
        "vnp_TmnCode": "PAYHUBV1",
        "vnp_TransactionNo": "14422574",
        "vnp_TransactionStatus": "00",
        "vnp_TxnRef": payment["gateway_reference"],
        "vnp_SecureHash": "ab" * 64,
    }
    url = f"{env.hub_url}/return/vnpay/{payment['id']}?{urlencode(forged)}"
    r = httpx.get(url, follow_redirects=True, timeout=10)
    assert r.status_code == 200
    assert "Waiting for confirmation" in r.text
    # Without any hash, and sent to the callback URL instead: still nothing.
    unsigned = {k: v for k, v in forged.items() if k != "vnp_SecureHash"}
    account = env.th.accounts["vnpay"]
    r = httpx.get(f"{env.hub_url}/callbacks/vnpay/{account}", params=unsigned, timeout=10)
    assert r.status_code == 200 and r.json()["RspCode"] == "97"

    order = _order_view(env, order["id"])
    assert order["status"] == "awaiting_payment"
    assert order["payments"][0]["status"] == "pending"
    assert _inbound_outcomes(env, "return") == ["displayed"]
    assert _inbound_outcomes(env) == ["invalid_signature"]
    assert _count(env, PaymentEvent) == 0 and _count(env, CreditEntry) == 0
    _no_violations(env)


def test_page_timeout_expires_the_attempt(env: Env) -> None:
    order = _order(env, "v-timeout")
    payment = _pay(env, order["id"])
    _sim_pay(env, payment, "timeout")
    order = _wait_status(env, order["id"], "payment_failed")
    assert order["status"] == "payment_failed"
    attempt = order["payments"][0]
    assert attempt["status"] == "expired" and attempt["failure_code"] == "11/02"
    (delivery,) = _deliveries(env)
    assert _replies(delivery) == [(200, "00")]
    assert _count(env, CreditEntry) == 0
    _no_violations(env)


def test_suspected_fraud_stays_pending(env: Env) -> None:
    # 07: money deducted but flagged by VNPay; neither paid nor failed.
    order = _order(env, "v-fraud")
    payment = _pay(env, order["id"])
    _sim_pay(env, payment, "fraud")
    (delivery,) = _deliveries(env)
    assert _replies(delivery) == [(200, "00")]  # recorded, so VNPay need not retry
    order = _order_view(env, order["id"])
    assert order["status"] == "awaiting_payment"
    assert order["payments"][0]["status"] == "pending"
    assert _inbound_outcomes(env) == ["applied"]
    assert _count(env, PaymentEvent) == 1 and _count(env, CreditEntry) == 0
    assert not {"order.paid", "payment.failed"} & set(_outbox_types(env))
    _no_violations(env)


def test_reordered_ipns_each_settle_their_own_order(env: Env) -> None:
    first, second = _order(env, "v-re-1"), _order(env, "v-re-2")
    p1, p2 = _pay(env, first["id"]), _pay(env, second["id"])
    _fault(env, "reorder")
    _sim_pay(env, p1)  # held
    assert _order_view(env, first["id"])["status"] == "awaiting_payment"
    _sim_pay(env, p2)  # sent, then the held one
    assert _wait_status(env, first["id"], "paid")["status"] == "paid"
    assert _wait_status(env, second["id"], "paid")["status"] == "paid"
    deliveries = _deliveries(env)
    assert [d["state"] for d in deliveries] == ["delivered", "delivered"]
    assert all(_replies(d) == [(200, "00")] for d in deliveries)
    credits = _credits(env)
    assert credits["balance"] == 200 and len(credits["entries"]) == 2
    _no_violations(env)


def test_signed_return_with_lost_ipn_settles_by_query_not_by_the_url(env: Env) -> None:
    order = _order(env, "v-return")
    payment = _pay(env, order["id"])
    _fault(env, "drop")
    done = _sim_pay(env, payment)
    assert done["return_url"].startswith(f"{env.hub_url}/return/vnpay/{payment['id']}?")
    back = httpx.get(done["return_url"], follow_redirects=True, timeout=10)
    assert back.status_code == 200 and "Payment received" in back.text
    order = _order_view(env, order["id"])
    assert order["status"] == "paid"
    with env.th.hub.db.session() as s:
        # The fact came from the hub's own querydr; the return row only displayed.
        assert s.scalars(select(PaymentEvent.source)).all() == ["query"]
    assert _inbound_outcomes(env, "return") == ["displayed"]
    assert _count(env, CreditEntry) == 1
    _no_violations(env)


def test_paid_after_the_order_was_cancelled_goes_to_review(env: Env) -> None:
    body = {
        "merchant_reference": "v-late",
        "currency": "VND",
        "items": [{"sku": "tshirt", "quantity": 1}],
        "customer": {"external_id": "binh"},
    }
    order = env.api.post("/v1/orders", json=body).json()
    payment = _pay(env, order["id"])
    r = env.api.post(f"/v1/orders/{order['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    # VNPay has no cancel: the buyer can still pay the open link.
    _sim_pay(env, payment)
    (delivery,) = _deliveries(env)
    assert _replies(delivery) == [(200, "00")]
    order = _order_view(env, order["id"])
    assert order["status"] == "review"  # money moved on a cancelled order: an operator decides
    assert order["payments"][0]["status"] == "review"
    assert order["payments"][0]["review_reason"] == "paid_after_expiry"
    types = _outbox_types(env)
    assert "operator.alert" in types and "order.paid" not in types
    products = {p["sku"]: p for p in env.api.get("/v1/products").json()["data"]}
    assert products["tshirt"]["stock_available"] == 5
    assert _count(env, CreditEntry) == 0
    _no_violations(env)


def _signed_ipn(env: Env, **params: str) -> httpx.Response:
    """An IPN signed with the terminal's real secret, sent straight to the hub."""
    from payhub.gateways.registry import entry
    from payhub.gateways.vnpay import signing

    secret = entry("vnpay").sandbox_profile().credentials["hash_secret"]
    ordered = sorted(params.items())
    query = urlencode([*ordered, ("vnp_SecureHash", signing.sign_query(secret, ordered))])
    account = env.th.accounts["vnpay"]
    return httpx.get(f"{env.hub_url}/callbacks/vnpay/{account}?{query}", timeout=10)


def test_signed_ipn_for_unknown_txnref_01_and_other_terminal_99(env: Env) -> None:
    order = _order(env, "v-odd")
    payment = _pay(env, order["id"])
    base = _callback_params(payment)
    r = _signed_ipn(env, **{**base, "vnp_TxnRef": "PH000000000000NOPE"})
    assert r.status_code == 200 and r.json() == {"RspCode": "01", "Message": "Order not found"}
    r = _signed_ipn(env, **{**base, "vnp_TmnCode": "OTHERTMN"})
    assert r.status_code == 200 and r.json() == {"RspCode": "99", "Message": "Invalid request"}
    assert _inbound_outcomes(env) == ["unknown_payment", "malformed"]
    order = _order_view(env, order["id"])
    assert order["status"] == "awaiting_payment"
    assert order["payments"][0]["status"] == "pending"
    assert _count(env, PaymentEvent) == 0 and _count(env, CreditEntry) == 0
    _no_violations(env)


def _callback_params(payment: dict) -> dict[str, str]:
    query = parse_qs(urlsplit(payment["checkout_url"]).query)
    return {
        "vnp_Amount": query["vnp_Amount"][0],
        "vnp_BankCode": "NCB",
        "vnp_OrderInfo": query["vnp_OrderInfo"][0],
        "vnp_PayDate": query["vnp_CreateDate"][0],
        "vnp_ResponseCode": "00",
        "vnp_TmnCode": query["vnp_TmnCode"][0],
        "vnp_TransactionNo": "14999999",
        "vnp_TransactionStatus": "00",
        "vnp_TxnRef": payment["gateway_reference"],
    }


@pytest.mark.tz
def test_gmt7_dates_hold_whatever_the_host_timezone(env: Env) -> None:
    """Run again by `make test` under TZ=America/Los_Angeles: the pay URL must not be
    expired on arrival, and querydr/refund must find the transaction by its GMT+7 date."""
    order = _order(env, "v-tz")
    payment = _pay(env, order["id"])  # a 302 to the checkout page, not Error.html?code=15
    query = parse_qs(urlsplit(payment["checkout_url"]).query)
    # Independent of payhub.clock: the zone database's own idea of Vietnam's wall clock.
    vn_now = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).replace(tzinfo=None)
    created = datetime.strptime(query["vnp_CreateDate"][0], "%Y%m%d%H%M%S")
    expires = datetime.strptime(query["vnp_ExpireDate"][0], "%Y%m%d%H%M%S")
    assert abs(created - vn_now) < timedelta(minutes=2)
    assert expires > vn_now
    assert payment["gateway_reference"][2:8] == created.strftime("%y%m%d")

    _fault(env, "drop")
    _sim_pay(env, payment)
    r = env.api.get(f"/v1/payments/{payment['id']}", params={"refresh": "true"})
    assert r.json()["status"] == "succeeded"  # querydr found it by vnp_TransactionDate
    r = env.api.post(
        f"/v1/payments/{payment['id']}/refunds", json={"amount": 5_000, "reason": "tz"}
    )
    assert r.status_code == 201 and r.json()["status"] == "succeeded", r.text
    assert _order_view(env, order["id"])["status"] == "partially_refunded"
    _no_violations(env)


# ------------------------------------------------------------------ IPN retried after 99

_FAIL_TRIGGER_SQLITE = """
CREATE TRIGGER fail_payment_events BEFORE INSERT ON payment_events
BEGIN SELECT RAISE(ABORT, 'payment_events is unavailable'); END
"""
_FAIL_FUNCTION_PG = """
CREATE FUNCTION fail_payment_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'payment_events is unavailable'; END $$
"""
_FAIL_TRIGGER_PG = """
CREATE TRIGGER fail_payment_events BEFORE INSERT ON payment_events
FOR EACH ROW EXECUTE FUNCTION fail_payment_events()
"""


@contextmanager
def _payment_events_unwritable(env: Env) -> Iterator[None]:
    """The database refuses to record payment events until the block ends."""
    engine = env.th.hub.db.engine
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as c:
        if postgres:
            c.execute(text(_FAIL_FUNCTION_PG))
            c.execute(text(_FAIL_TRIGGER_PG))
        else:
            c.execute(text(_FAIL_TRIGGER_SQLITE))
    try:
        yield
    finally:
        with engine.begin() as c:
            if postgres:
                c.execute(text("DROP TRIGGER fail_payment_events ON payment_events"))
                c.execute(text("DROP FUNCTION fail_payment_events()"))
            else:
                c.execute(text("DROP TRIGGER fail_payment_events"))


@pytest.fixture
def slow_retry_env(db_url: str) -> Iterator[Env]:
    with _running(db_url, attempts=10, interval=0.4) as e:
        yield e


def test_ipn_retried_after_99_then_applied_once(slow_retry_env: Env) -> None:
    env = slow_retry_env
    order = _order(env, "v-99")
    payment = _pay(env, order["id"])
    with _payment_events_unwritable(env):
        r = env.sim.post(f"/__sim/pay/{payment['gateway_reference']}", json={"outcome": "success"})
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 10
        while not (_deliveries(env)[0]["attempts"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        (delivery,) = _deliveries(env)
        assert _replies(delivery)[:1] == [(200, "99")]
        assert _order_view(env, order["id"])["status"] == "awaiting_payment"
    env.sim.post("/__sim/flush")
    order = _wait_status(env, order["id"], "paid")
    assert order["status"] == "paid"
    (delivery,) = _deliveries(env)
    replies = _replies(delivery)
    assert delivery["state"] == "delivered"
    assert replies[-1] == (200, "00") and set(replies[:-1]) == {(200, "99")}
    outcomes = _inbound_outcomes(env)
    assert outcomes[-1] == "applied" and set(outcomes[:-1]) == {"error"}
    assert len(outcomes) == len(replies)
    assert _count(env, CreditEntry) == 1 and _credits(env)["balance"] == 100
    assert _count(env, PaymentEvent) == 1
    assert _outbox_types(env).count("order.paid") == 1
    _no_violations(env)

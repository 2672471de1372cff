"""VNPay end to end, what only VNPay does: its IPN response codes beyond the contract (01
unknown TxnRef, 99 other terminal or a failure on our side, then retried), outcomes only it
has (buyer cancel 24, insufficient funds 51, page timeout 11, suspected fraud 07), querydr
answering 91/94, reordered IPNs, GMT+7 dates under any host TZ. The contract every gateway
meets is tests/e2e/test_flow.py; this file runs on the same kit
(tests/support/conformance.py) and driver (tests/e2e/drivers/vnpay.py), on SQLite and
PostgreSQL, and checks the money invariants in SQL after every scenario."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select, text

from payhub.store.invariants import check_invariants
from payhub.store.models import (
    CreditEntry,
    InboundRequest,
    OutboxEvent,
    PaymentEvent,
)
from tests.e2e.drivers.vnpay import CHECKOUT_PATH, DRIVER, PAY_PATH
from tests.support.conformance import Env, running
from tests.support.hub import HubUnderTest

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(seeded: Callable[[str], HubUnderTest]) -> Iterator[Env]:
    with running(DRIVER, seeded) as e:
        yield e


@pytest.fixture
def slow_retry_env(seeded: Callable[[str], HubUnderTest]) -> Iterator[Env]:
    with running(DRIVER, seeded, attempts=10, interval=0.4) as e:
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


# ----------------------------------------------------------------------------- scenarios


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
    # Found by its GMT+7 date and accepted: VNPay answers 05, processing, so it is pending.
    assert r.status_code == 201 and r.json()["status"] == "pending", r.text
    assert r.json()["gateway_code"] == "05"
    assert _order_view(env, order["id"])["status"] == "paid"
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

"""Spending credits over the merchant API, over real loopback HTTP on both databases: the
debit's 201 and its replay's 200, the 409 problems (`insufficient-credits` with `balance`
and `requested`, `reference-reused`), adjustments, and the ledger read that shows them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import jwt
import pytest

from payhub.money import MAX_CREDITS
from tests.support.hub import HubUnderTest, make_hub
from tests.support.servers import serve_app

PROBLEM = "application/problem+json"
CUSTOMER_SECRET = "customer-secret-for-tests-0123456789abcdef"


@pytest.fixture
def api(db_url: str) -> Iterator[tuple[HubUnderTest, httpx.Client]]:
    th = make_hub(db_url)
    with (
        serve_app(th.app) as origin,
        httpx.Client(base_url=origin, headers=th.headers, timeout=30) as client,
    ):
        order = client.post(
            "/v1/orders",
            json={
                "merchant_reference": "r-1",
                "currency": "VND",
                "items": [{"sku": "pack-100"}],
                "customer": {"external_id": "bob"},
            },
        )
        assert order.status_code == 201, order.text
        yield th, client
    th.hub.db.dispose()


def _problem(r: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = r.json()
    assert body["type"] == f"https://payhub.dev/problems/{code}"
    assert body["status"] == status
    return body


def test_debit_replay_overdraw_and_reuse(api: tuple[HubUnderTest, httpx.Client]) -> None:
    _, c = api
    adjusted = c.post(
        "/v1/customers/bob/credits/adjustments", json={"amount": 100, "reason": "welcome gift"}
    )
    assert adjusted.status_code == 201, adjusted.text
    assert adjusted.json()["balance_after"] == 100
    assert adjusted.json()["description"] == "welcome gift"

    spend = {"amount": 30, "reference": "export-1", "metadata": {"job": "j-1"}}
    first = c.post("/v1/customers/bob/credits/debit", json=spend)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["customer"], body["reason"], body["amount"]) == ("bob", "debit", -30)
    assert (body["balance_after"], body["reference"]) == (70, "export-1")
    # A retry without an Idempotency-Key: the first debit again, 200, not a second charge.
    again = c.post("/v1/customers/bob/credits/debit", json=spend)
    assert again.status_code == 200 and again.json() == body

    reused = c.post("/v1/customers/bob/credits/debit", json={**spend, "amount": 31})
    problem = _problem(reused, 409, "reference-reused")
    assert problem["reference"] == "export-1" and problem["amount"] == 30

    short = c.post("/v1/customers/bob/credits/debit", json={"amount": 71, "reference": "big"})
    problem = _problem(short, 409, "insufficient-credits")
    assert (problem["balance"], problem["requested"]) == (70, 71)
    assert problem["retry_safe"] is False

    below = c.post("/v1/customers/bob/credits/adjustments", json={"amount": -71, "reason": "x"})
    problem = _problem(below, 409, "insufficient-credits")
    assert (problem["balance"], problem["requested"]) == (70, 71)

    ledger = c.get("/v1/customers/bob/credits").json()
    assert ledger["balance"] == 70
    assert [(e["reason"], e["amount"], e["balance_after"]) for e in ledger["entries"]] == [
        ("adjustment", 100, 100),
        ("debit", -30, 70),
    ]
    assert ledger["entries"][1]["metadata"] == {"job": "j-1"}


def test_hostile_spending_requests_are_4xx(api: tuple[HubUnderTest, httpx.Client]) -> None:
    th, c = api
    debit, adjust = "/v1/customers/bob/credits/debit", "/v1/customers/bob/credits/adjustments"
    for body in (
        {"amount": 0, "reference": "r"},
        {"amount": -5, "reference": "r"},
        {"amount": MAX_CREDITS + 1, "reference": "r"},
        {"amount": 2**63, "reference": "r"},
        {"amount": 1, "reference": ""},
        {"amount": 1, "reference": "x" * 201},
        {"amount": 1},
        {"amount": "ten", "reference": "r"},
    ):
        _problem(c.post(debit, json=body), 422, "validation-error")
    for body in (
        {"amount": 5},
        {"amount": 5, "reason": ""},
        {"amount": 0, "reason": "nothing"},
        {"amount": -(2**63), "reason": "huge"},
    ):
        assert c.post(adjust, json=body).status_code == 422, body
    _problem(c.post(debit, content=b"{not json"), 422, "validation-error")
    nobody = c.post("/v1/customers/nobody/credits/debit", json={"amount": 1, "reference": "r"})
    _problem(nobody, 404, "not-found")

    # A customer whose id fills its column, with the longest reference and description.
    long_id = "c" * 200
    order = {
        "merchant_reference": "r-long",
        "currency": "VND",
        "items": [{"sku": "pack-100"}],
        "customer": {"external_id": long_id},
    }
    assert c.post("/v1/orders", json=order).status_code == 201
    gift = {"amount": 5, "reason": "ý" * 500}
    assert c.post(f"/v1/customers/{long_id}/credits/adjustments", json=gift).status_code == 201
    longest = {"amount": 5, "reference": "ř" * 200, "description": "đ" * 500}
    spent = c.post(f"/v1/customers/{long_id}/credits/debit", json=longest)
    assert spent.status_code == 201 and spent.json()["balance_after"] == 0, spent.text

    # A customer token may read its own balance but never spend or adjust it.
    now = int(time.time())
    token = jwt.encode(
        {"sub": "bob", "mid": th.merchant_id, "iat": now, "exp": now + 600}, CUSTOMER_SECRET
    )
    as_customer = {"Authorization": f"Bearer {token}"}
    assert c.get("/v1/customers/bob/credits", headers=as_customer).status_code == 200
    refused = c.post(debit, json={"amount": 1, "reference": "r"}, headers=as_customer)
    assert refused.status_code == 401 and refused.headers["content-type"].startswith(PROBLEM)
    assert c.post(adjust, json={"amount": 5, "reason": "x"}, headers=as_customer).status_code == 401
    assert c.get("/v1/customers/bob/credits").json()["entries"] == []

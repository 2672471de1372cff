"""The JSON a merchant (and the result page) reads: every read endpoint's keys, in order,
pinned, so moving a read between layers cannot change a body unnoticed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from payhub.services.hosted import hosted_checkout_url, result_token
from payhub.store import reads
from tests.support.hub import HubUnderTest, connect_gateway, make_hub

pytestmark = pytest.mark.anyio

SUMMARY = [
    "id",
    "merchant_reference",
    "status",
    "currency",
    "amount",
    "amount_display",
    "refunded",
    "credits",
    "cancel_on_failure",
    "description",
    "metadata",
    "return_url",
    "livemode",
    "expires_at",
    "paid_at",
    "created_at",
]
LISTED = [*SUMMARY, "hosted_checkout_url"]
DETAIL = [*SUMMARY, "customer", "items", "payments", "timeline", "hosted_checkout_url"]
CUSTOMER = ["id", "external_id", "name", "email", "phone"]
ITEM = ["sku", "name", "quantity", "unit_price", "credits"]
PAYMENT = [
    "id",
    "order_id",
    "gateway",
    "status",
    "amount",
    "currency",
    "received",
    "refunded",
    "gateway_reference",
    "gateway_txn_id",
    "checkout_url",
    "qr_content",
    "deeplink",
    "review_reason",
    "failure_code",
    "expires_at",
    "created_at",
    "livemode",
]
TIMELINE = ["at", "kind", "message", "payment_id", "gateway_txn_id"]
PAGE = ["data", "has_more", "next_cursor"]
PRODUCT = [
    "id",
    "sku",
    "name",
    "price",
    "currency",
    "price_display",
    "credits",
    "track_stock",
    "stock_available",
    "low_stock",
]
ORDER = {
    "merchant_reference": "shape-1",
    "currency": "VND",
    "items": [{"sku": "pack-100"}, {"name": "gift wrap", "unit_price": 1_000, "quantity": 2}],
    "customer": {"external_id": "bob", "email": "bob@example.com"},
}


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[tuple[HubUnderTest, httpx.AsyncClient]]:
    th = make_hub(db_url)
    transport = httpx.ASGITransport(app=th.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://hub", headers=th.headers
    ) as c:
        yield th, c
    th.hub.db.dispose()


async def test_order_bodies(client: tuple[HubUnderTest, httpx.AsyncClient]) -> None:
    th, c = client
    created = await c.post("/v1/orders", json=ORDER)
    assert created.status_code == 201
    order = created.json()
    assert list(order) == DETAIL
    assert list(order["customer"]) == CUSTOMER
    assert [list(i) for i in order["items"]] == [ITEM, ITEM]
    assert [list(t) for t in order["timeline"]] == [TIMELINE]
    assert order["amount"] == 22_000 and order["amount_display"] == "22,000 ₫"

    answer = await c.get(f"/v1/orders/{order['id']}")
    read = answer.json()
    assert list(read) == DETAIL
    assert read == order
    # The bytes are the read model's, through the response model: nothing dropped, nothing
    # reordered, nothing re-rendered (timestamps included).
    view = await reads.order_view(th.hub.db, th.merchant_id, order["id"])
    assert view is not None
    expected = {
        **view.as_dict(),
        "hosted_checkout_url": hosted_checkout_url(th.hub, view.summary.id),
    }
    assert (
        answer.content == json.dumps(expected, ensure_ascii=False, separators=(",", ":")).encode()
    )

    page = (await c.get("/v1/orders")).json()
    assert list(page) == PAGE
    assert [list(o) for o in page["data"]] == [LISTED]
    assert page["data"][0] == {k: read[k] for k in LISTED}

    missing = await c.get("/v1/orders/ord_missing")
    assert missing.status_code == 404 and missing.json()["detail"] == "no order ord_missing"
    bad = await c.get("/v1/orders", params={"starting_after": "ord_nope"})
    assert bad.status_code == 422 and bad.json()["detail"] == "unknown cursor ord_nope"

    cancelled = (await c.post(f"/v1/orders/{order['id']}/cancel")).json()
    assert list(cancelled) == DETAIL
    assert cancelled["status"] == "cancelled"


async def test_payment_and_credit_bodies(client: tuple[HubUnderTest, httpx.AsyncClient]) -> None:
    th, c = client
    order = (await c.post("/v1/orders", json=ORDER)).json()
    paid = await c.post(
        f"/v1/orders/{order['id']}/manual-payments", json={"amount": 22_000, "reference": "b-1"}
    )
    assert paid.status_code == 201
    detail = (await c.get(f"/v1/orders/{order['id']}")).json()
    assert detail["status"] == "paid" and [list(p) for p in detail["payments"]] == [PAYMENT]
    payment_id = detail["payments"][0]["id"]

    answer = await c.get(f"/v1/payments/{payment_id}")
    payment = answer.json()
    assert list(payment) == PAYMENT
    assert payment == detail["payments"][0]
    view = await reads.payment_view(th.hub.db, payment_id)
    assert view is not None
    assert (
        answer.content
        == json.dumps(view.as_dict(), ensure_ascii=False, separators=(",", ":")).encode()
    )
    missing = await c.get("/v1/payments/pay_missing")
    assert missing.status_code == 404 and missing.json()["detail"] == "no payment pay_missing"

    credits = (await c.get("/v1/customers/bob/credits")).json()
    assert credits == {
        "customer": "bob",
        "balance": 100,
        "entries": [
            {
                "id": credits["entries"][0]["id"],
                "order_id": order["id"],
                "reason": "order_paid",
                "amount": 100,
                "balance_after": 100,
                "reference": None,
                "description": None,
                "metadata": None,
                "at": credits["entries"][0]["at"],
            }
        ],
    }
    nobody = await c.get("/v1/customers/nobody/credits")
    assert nobody.status_code == 404 and nobody.json()["detail"] == "no customer nobody"

    token = result_token(th.hub, payment_id)
    assert (await c.get(f"/pay/status/{payment_id}")).status_code == 403
    status = (await c.get(f"/pay/status/{payment_id}", params={"token": token})).json()
    assert status == {
        "payment_id": payment_id,
        "status": payment["status"],
        "final": True,
        "order_id": order["id"],
        "order_status": "paid",
        "amount_display": "22,000 ₫",
        "gateway": payment["gateway"],
        "credits_granted": 100,
        "credit_balance": 100,
    }


async def test_product_and_gateway_bodies(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    th, c = client
    products = (await c.get("/v1/products")).json()
    assert list(products) == PAGE
    assert sorted(p["sku"] for p in products["data"]) == ["pack-100", "pack-my", "tshirt"]
    assert all(list(p) == PRODUCT for p in products["data"])
    by_sku = {p["sku"]: p for p in products["data"]}
    tshirt = by_sku["tshirt"]
    assert (tshirt["stock_available"], tshirt["low_stock"], tshirt["price_display"]) == (
        5,
        False,
        "150,000 ₫",
    )
    assert by_sku["pack-100"]["stock_available"] is None
    put = (
        await c.put(
            "/v1/products/tshirt",
            json={"name": "T-shirt", "price": 150_000, "currency": "VND", "track_stock": True},
        )
    ).json()
    assert put == tshirt  # the write answers the same view the listing reads

    empty = {"data": [], "has_more": False, "next_cursor": None}
    assert (await c.get("/v1/gateways")).json() == empty
    connect_gateway(th, "payos", "http://127.0.0.1:1")
    gateways = (await c.get("/v1/gateways", params={"amount": 20_000, "currency": "VND"})).json()
    assert [list(g) for g in gateways["data"]] == [
        [
            "gateway",
            "display_name",
            "environment",
            "account_id",
            "priority",
            "health",
            "refunds",
            "currencies",
            "validation",
        ]
    ]
    assert list(gateways["data"][0]["health"]) == [
        "state",
        "consecutive_failures",
        "last_failure_at",
    ]
    assert gateways["data"][0]["gateway"] == "payos"
    assert list(gateways["data"][0]["currencies"]["VND"]) == ["min", "max", "min_display"]
    assert list(gateways["data"][0]["validation"]) == ["ok", "code", "checked_at"]
    too_much = {"amount": 10**12, "currency": "VND"}
    assert (await c.get("/v1/gateways", params=too_much)).json() == empty

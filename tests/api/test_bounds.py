"""Every integer that enters the merchant API is bounded (payhub.money's named bounds): 2^63,
-1 and bound+1 are a 422 problem, never a 500 (an OverflowError in the database driver)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from payhub.money import MAX_AMOUNT_MINOR, MAX_CREDITS, MAX_QUANTITY, MAX_STOCK
from tests.support.hub import HubUnderTest, make_hub

pytestmark = pytest.mark.anyio

HUGE = 2**63


def _out_of_bounds(bound: int) -> list[int]:
    return [HUGE, -1, bound + 1, -HUGE, 10**30]


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[tuple[HubUnderTest, httpx.AsyncClient]]:
    th = make_hub(db_url)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=th.app), base_url="http://hub", headers=th.headers
    ) as c:
        yield th, c
    th.hub.db.dispose()


def _order(ref: str, **changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"name": "thing", "unit_price": 10_000, "quantity": 1}
    item.update(changes.pop("item", {}))
    return {
        "merchant_reference": ref,
        "currency": "VND",
        "items": [item],
        "customer": {"external_id": "bob"},
        **changes,
    }


def _assert_refused(answer: httpx.Response, what: str) -> None:
    assert answer.status_code == 422, (what, answer.status_code, answer.text)
    assert answer.headers["content-type"].startswith("application/problem+json"), what


async def test_order_integers_are_bounded(client: tuple[HubUnderTest, httpx.AsyncClient]) -> None:
    _, c = client
    fields: list[tuple[str, dict[str, Any], int]] = [
        ("unit_price", {"item": {"unit_price": None}}, MAX_AMOUNT_MINOR),
        ("quantity", {"item": {"quantity": None}}, MAX_QUANTITY),
        ("item credits", {"item": {"credits": None}}, MAX_CREDITS),
        ("order credits", {"credits": None}, MAX_CREDITS),
    ]
    n = 0
    for name, template, bound in fields:
        for value in _out_of_bounds(bound):
            n += 1
            body = _order(f"r-{n}", **_filled(template, value))
            _assert_refused(await c.post("/v1/orders", json=body), f"{name}={value}")
    # Each field at its bound is taken; their product over many items is refused whole.
    at_bound = _order("r-max", item={"unit_price": MAX_AMOUNT_MINOR}, credits=MAX_CREDITS)
    assert (await c.post("/v1/orders", json=at_bound)).status_code == 201
    many = _order("r-sum", item={"unit_price": MAX_AMOUNT_MINOR, "quantity": MAX_QUANTITY})
    many["items"] = many["items"] * 100
    summed = await c.post("/v1/orders", json=many)
    _assert_refused(summed, "total of 100 items at the bounds")
    assert summed.json()["type"].endswith("/invalid-request")
    # Numbers JSON can spell that are no integers at all.
    for raw in ("1e400", "9" * 5000, "1.5"):
        text = (
            '{"merchant_reference":"r-raw","currency":"VND","items":'
            f'[{{"name":"x","unit_price":{raw}}}]}}'
        )
        answer = await c.post(
            "/v1/orders", content=text, headers={"content-type": "application/json"}
        )
        assert 400 <= answer.status_code < 500, raw


def _filled(template: dict[str, Any], value: int) -> dict[str, Any]:
    return {
        k: ({ik: value for ik in v} if isinstance(v, dict) else value) for k, v in template.items()
    }


async def test_product_integers_are_bounded(client: tuple[HubUnderTest, httpx.AsyncClient]) -> None:
    _, c = client
    base = {"name": "P", "price": 1_000, "currency": "VND", "track_stock": True, "stock": 1}
    bounds = {
        "price": MAX_AMOUNT_MINOR,
        "credits": MAX_CREDITS,
        "stock": MAX_STOCK,
        "low_stock_threshold": MAX_STOCK,
    }
    for name, bound in bounds.items():
        for value in _out_of_bounds(bound):
            answer = await c.put("/v1/products/p-1", json={**base, name: value})
            _assert_refused(answer, f"{name}={value}")
        at_bound = await c.put("/v1/products/p-1", json={**base, name: bound})
        assert at_bound.status_code == 200, (name, at_bound.text)


async def test_manual_payment_and_refund_amounts_are_bounded(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    _, c = client
    order = (await c.post("/v1/orders", json=_order("r-pay"))).json()
    for value in _out_of_bounds(MAX_AMOUNT_MINOR):
        answer = await c.post(
            f"/v1/orders/{order['id']}/manual-payments", json={"amount": value, "reference": "t"}
        )
        _assert_refused(answer, f"manual amount={value}")
    paid = await c.post(
        f"/v1/orders/{order['id']}/manual-payments", json={"amount": 10_000, "reference": "t"}
    )
    assert paid.status_code == 201, paid.text
    payment_id = paid.json()["id"]
    for value in _out_of_bounds(MAX_AMOUNT_MINOR):
        answer = await c.post(
            f"/v1/payments/{payment_id}/refunds", json={"amount": value, "manual": True}
        )
        _assert_refused(answer, f"refund amount={value}")


async def test_query_integers_are_bounded(client: tuple[HubUnderTest, httpx.AsyncClient]) -> None:
    _, c = client
    for value in (HUGE, -1, 201, 10**30):
        _assert_refused(await c.get("/v1/orders", params={"limit": value}), f"orders {value}")
        _assert_refused(await c.get("/v1/events", params={"limit": value}), f"events {value}")
    for value in _out_of_bounds(MAX_AMOUNT_MINOR):
        answer = await c.get("/v1/gateways", params={"amount": value, "currency": "VND"})
        _assert_refused(answer, f"gateways amount={value}")

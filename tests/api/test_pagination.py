"""Cursor pagination, the same on every list: `limit` and `starting_after` in, `data`,
`has_more` and `next_cursor` out; paging to the end visits each item once, newest first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.hub import HubUnderTest, make_hub

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[tuple[HubUnderTest, httpx.AsyncClient]]:
    th = make_hub(db_url)
    transport = httpx.ASGITransport(app=th.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://hub", headers=th.headers
    ) as c:
        yield th, c
    th.hub.db.dispose()


async def _every_page(c: httpx.AsyncClient, path: str, limit: int) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        r = await c.get(path, params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert list(page) == ["data", "has_more", "next_cursor"]
        pages.append(page)
        if not page["has_more"]:
            assert page["next_cursor"] is None
            return pages
        # The cursor is the last item's id, as a string (a ledger entry's id is an integer).
        assert page["next_cursor"] == str(page["data"][-1]["id"])
        params["starting_after"] = page["next_cursor"]
        assert len(pages) < 20, "paging does not end"


async def test_events_and_orders_page_to_the_end_newest_first(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    _, c = client
    created = []
    for n in range(5):
        body = {"merchant_reference": f"page-{n}", "currency": "VND", "items": [{"sku": "tshirt"}]}
        r = await c.post("/v1/orders", json=body)
        assert r.status_code == 201
        created.append(r.json()["id"])

    for path, limit in (("/v1/events", 2), ("/v1/orders", 2), ("/v1/orders", 5)):
        pages = await _every_page(c, path, limit)
        items = [item for page in pages for item in page["data"]]
        assert [len(p["data"]) for p in pages] == ([2, 2, 1] if limit == 2 else [5])
        ids = [item["id"] for item in items]
        assert len(set(ids)) == len(ids) == 5, (path, ids)  # no page repeats page 1
        keys = [(item.get("created") or item["created_at"], item["id"]) for item in items]
        assert keys == sorted(keys, reverse=True), path
    events = [e for p in await _every_page(c, "/v1/events", 50) for e in p["data"]]
    assert sorted(e["data"]["object"]["id"] for e in events) == sorted(created)


async def test_short_lists_page_the_same_way(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    _, c = client
    pages = await _every_page(c, "/v1/products", 2)
    assert [len(p["data"]) for p in pages] == [2, 1]
    skus = sorted(p["sku"] for page in pages for p in page["data"])
    assert skus == ["pack-100", "pack-my", "tshirt"]
    for _ in range(3):
        r = await c.post("/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/h"})
        assert r.status_code == 201
    pages = await _every_page(c, "/v1/webhook-endpoints", 2)
    assert [len(p["data"]) for p in pages] == [2, 1]


@pytest.mark.parametrize(
    "path", ["/v1/events", "/v1/orders", "/v1/products", "/v1/notifications", "/v1/review-queue"]
)
async def test_an_unknown_cursor_is_a_422_problem(
    client: tuple[HubUnderTest, httpx.AsyncClient], path: str
) -> None:
    _, c = client
    r = await c.get(path, params={"starting_after": "nope_x"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == "unknown cursor nope_x"


async def test_a_customers_ledger_pages_newest_first(
    client: tuple[HubUnderTest, httpx.AsyncClient],
) -> None:
    _, c = client
    for n in range(3):
        body = {
            "merchant_reference": f"credits-{n}",
            "currency": "VND",
            "items": [{"sku": "pack-100"}],
            "customer": {"external_id": "carol"},
        }
        order = (await c.post("/v1/orders", json=body)).json()
        paid = await c.post(
            f"/v1/orders/{order['id']}/manual-payments",
            json={"amount": 20_000, "reference": f"b-{n}"},
        )
        assert paid.status_code == 201, paid.text
    pages = await _every_page(c, "/v1/customers/carol/credit-entries", 2)
    entries = [e for page in pages for e in page["data"]]
    assert [len(p["data"]) for p in pages] == [2, 1]
    assert all(type(e["id"]) is int for e in entries)
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    ledger = (await c.get("/v1/customers/carol/credits")).json()
    # The paged list and the ledger answer the same entries, in the same shape.
    assert entries == ledger["entries"][::-1]
    missing = await c.get("/v1/customers/nobody/credit-entries")
    assert missing.status_code == 404

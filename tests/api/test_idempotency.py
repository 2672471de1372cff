"""The Idempotency-Key middleware settles every key it claims, even when the route raises."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from payhub.store.models import IdempotencyKey
from tests.support.hub import make_hub

pytestmark = pytest.mark.anyio


async def test_a_route_that_raises_releases_the_key_and_the_retry_runs(db_url: str) -> None:
    th = make_hub(db_url)
    calls: list[int] = []

    @th.app.post("/v1/__flaky")
    async def flaky() -> dict[str, int]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the first call fails")
        return {"call": len(calls)}

    transport = httpx.ASGITransport(app=th.app, raise_app_exceptions=False)
    headers = {**th.headers, "Idempotency-Key": "k-flaky"}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
            first = await c.post("/v1/__flaky", json={"a": 1}, headers=headers)
            assert first.status_code == 500
            with th.hub.db.session() as session:
                kept = session.scalar(select(func.count()).select_from(IdempotencyKey))
            assert kept == 0, "the failed request's claim must be released"

            retry = await c.post("/v1/__flaky", json={"a": 1}, headers=headers)
            assert retry.status_code == 200, retry.text
            assert retry.json() == {"call": 2}

            replay = await c.post("/v1/__flaky", json={"a": 1}, headers=headers)
            assert replay.status_code == 200 and replay.json() == {"call": 2}
            assert replay.headers.get("idempotent-replayed") == "true"
    finally:
        th.hub.db.dispose()
    assert len(calls) == 2

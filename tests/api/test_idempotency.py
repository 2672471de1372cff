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


async def test_a_replayed_endpoint_creation_has_its_secret_redacted_and_the_row_holds_none(
    db_url: str,
) -> None:
    th = make_hub(db_url)
    transport = httpx.ASGITransport(app=th.app)
    headers = {**th.headers, "Idempotency-Key": "k-endpoint"}
    body = {"url": "http://127.0.0.1:9/hooks", "event_types": ["order.paid"]}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
            first = await c.post("/v1/webhook-endpoints", json=body, headers=headers)
            assert first.status_code == 201, first.text
            secret = first.json()["secret"]
            assert secret.startswith("whsec_")

            replay = await c.post("/v1/webhook-endpoints", json=body, headers=headers)
            assert replay.status_code == 201
            assert replay.headers.get("idempotent-replayed") == "true"
            assert replay.json() == {
                **first.json(),
                "secret": None,
                "secret_redacted": True,
            }
            assert "whsec_" not in replay.text
        with th.hub.db.session() as session:
            stored = session.scalars(select(IdempotencyKey.response_body)).all()
        assert len(stored) == 1 and stored[0] is not None
        raw = bytes(stored[0])
        assert secret.encode() not in raw
        assert secret.removeprefix("whsec_").encode() not in raw
        assert b"whsec_" not in raw
        assert b'"secret_redacted":true' in raw
    finally:
        th.hub.db.dispose()


def test_redaction_keeps_bodies_without_the_members_and_hides_unreadable_ones() -> None:
    from payhub.services.idempotency import redact_members

    problem = b'{"type":"about:blank","status":422}'
    assert redact_members(problem, ["secret"]) == problem
    assert redact_members(b"[1,2]", ["secret"]) == b"[1,2]"
    assert redact_members(b"not json whsec_x", ["secret"]) == b'{"body_redacted":true}'
    assert redact_members(b'{"secret":"whsec_x"}', []) == b'{"secret":"whsec_x"}'


def _keys_kept(th: object) -> int:
    with th.hub.db.session() as session:  # type: ignore[attr-defined]
        return int(session.scalar(select(func.count()).select_from(IdempotencyKey)) or 0)


async def test_a_request_refused_before_any_effect_is_not_kept_and_the_fixed_retry_runs(
    db_url: str,
) -> None:
    th = make_hub(db_url)
    transport = httpx.ASGITransport(app=th.app)
    headers = {**th.headers, "Idempotency-Key": "k-fix-me"}
    wrong = {"merchant_reference": "fix-1", "currency": "VND", "items": [{"sku": "nope"}]}
    invalid = {"merchant_reference": "fix-1", "currency": "VND", "items": []}
    fixed = {"merchant_reference": "fix-1", "currency": "VND", "items": [{"sku": "tshirt"}]}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
            unknown_sku = await c.post("/v1/orders", json=wrong, headers=headers)
            assert unknown_sku.status_code == 422, unknown_sku.text
            assert "unknown product sku" in unknown_sku.json()["detail"]
            assert _keys_kept(th) == 0
            refused = await c.post("/v1/orders", json=invalid, headers=headers)
            assert refused.status_code == 422
            assert refused.json()["type"].endswith("/validation-error")
            assert _keys_kept(th) == 0
            missing = await c.post("/v1/orders/ord_nope/cancel", headers=headers)
            assert missing.status_code == 404
            unauthorised = await c.post(
                "/v1/orders",
                json=fixed,
                headers={"Authorization": "Bearer sk_test_wrong", "Idempotency-Key": "k-fix-me"},
            )
            assert unauthorised.status_code == 401
            assert _keys_kept(th) == 0

            created = await c.post("/v1/orders", json=fixed, headers=headers)
            assert created.status_code == 201, created.text
            assert "idempotent-replayed" not in created.headers
            replay = await c.post("/v1/orders", json=fixed, headers=headers)
            assert replay.status_code == 201
            assert replay.headers["idempotent-replayed"] == "true"
            assert replay.content == created.content
            assert replay.headers["location"] == created.headers["location"]
            assert replay.headers["location"] == f"/v1/orders/{created.json()['id']}"
            assert replay.headers["content-type"] == created.headers["content-type"]
            assert _keys_kept(th) == 1
    finally:
        th.hub.db.dispose()


async def test_a_replayed_problem_keeps_its_status_and_media_type(db_url: str) -> None:
    th = make_hub(db_url)
    transport = httpx.ASGITransport(app=th.app)
    body = {"merchant_reference": "dup-1", "currency": "VND", "items": [{"sku": "tshirt"}]}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
            first = await c.post(
                "/v1/orders", json=body, headers={**th.headers, "Idempotency-Key": "k-a"}
            )
            assert first.status_code == 201
            headers = {**th.headers, "Idempotency-Key": "k-b"}
            conflict = await c.post("/v1/orders", json=body, headers=headers)
            assert conflict.status_code == 409, conflict.text
            assert conflict.headers["content-type"] == "application/problem+json"
            replay = await c.post("/v1/orders", json=body, headers=headers)
            assert replay.status_code == 409
            assert replay.headers["idempotent-replayed"] == "true"
            assert replay.headers["content-type"] == "application/problem+json"
            assert replay.content == conflict.content
    finally:
        th.hub.db.dispose()

"""Idempotency keys (IETF draft semantics), at the service: the same key and request replay
the stored response; a different request under the key is refused; a request still running
holds the key; a server error releases it; keys are per merchant and expire after 24 h."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from payhub.clock import FrozenClock
from payhub.domain.errors import InvalidRequest
from payhub.services.idempotency import (
    KEEP_FOR,
    IdempotencyInFlight,
    IdempotencyKeyReused,
    StoredResponse,
    begin,
    finish,
    purge_expired,
)
from payhub.services.merchants import create_merchant
from payhub.store.models import IdempotencyKey
from tests.services.conftest import Env

pytestmark = pytest.mark.anyio

BODY = b'{"merchant_reference":"m-1","currency":"VND"}'
PATH = "/v1/orders"


def claim(env: Env, key: str = "k-1", body: bytes = BODY, **kw: str) -> StoredResponse | None:
    merchant = kw.pop("merchant", env.merchant_id)
    method, path = kw.pop("method", "POST"), kw.pop("path", PATH)
    return begin(env.hub, merchant, key, method, path, body)


async def test_the_same_request_replays_the_stored_response(env: Env) -> None:
    assert claim(env) is None
    finish(env.hub, env.merchant_id, "k-1", 201, b'{"id":"ord_1"}')

    assert claim(env) == StoredResponse(201, b'{"id":"ord_1"}')
    assert claim(env) == StoredResponse(201, b'{"id":"ord_1"}')  # as often as asked
    row = env.one(IdempotencyKey, key="k-1")
    assert (row["state"], row["response_status"]) == ("done", 201)
    # A request that ran and was refused by the state of things is an answer too: it is
    # replayed, headers included, not re-run.
    conflict = b'{"type":"conflict","retry_safe":false}'
    problem = (("content-type", "application/problem+json"),)
    assert claim(env, "k-2") is None
    finish(env.hub, env.merchant_id, "k-2", 409, conflict, problem)
    assert claim(env, "k-2") == StoredResponse(409, conflict, problem)


async def test_a_request_refused_before_any_effect_releases_its_key(env: Env) -> None:
    refusals = [
        (422, b'{"type":"invalid-request"}'),
        (404, b'{"type":"not-found"}'),
        (401, b'{"type":"unauthorized"}'),
        (409, b'{"type":"attempt-in-flight","retry_safe":true}'),
        (429, b'{"type":"rate-limited","retry_safe":true}'),
        (503, b'{"type":"store-busy","retry_safe":true}'),
    ]
    for status, body in refusals:
        assert claim(env, "k-r") is None
        finish(env.hub, env.merchant_id, "k-r", status, body)
        assert env.count(IdempotencyKey, key="k-r") == 0, status
    assert claim(env, "k-r") is None  # the fixed request runs under the same key


async def test_another_request_under_the_key_is_refused(env: Env) -> None:
    assert claim(env) is None
    finish(env.hub, env.merchant_id, "k-1", 201, b"{}")
    for change in (
        {"body": BODY.replace(b"m-1", b"m-2")},
        {"path": "/v1/refunds"},
        {"method": "PUT"},
    ):
        with pytest.raises(IdempotencyKeyReused):
            claim(env, **change)
    assert claim(env) == StoredResponse(201, b"{}")  # the original still replays


async def test_a_request_in_flight_holds_the_key(env: Env) -> None:
    assert claim(env) is None
    with pytest.raises(IdempotencyInFlight):
        claim(env)
    with pytest.raises(IdempotencyKeyReused):  # a different request is still a misuse
        claim(env, body=b"{}")
    finish(env.hub, env.merchant_id, "k-1", 200, b"ok")
    assert claim(env) == StoredResponse(200, b"ok")


async def test_a_server_error_releases_the_key_for_a_retry(env: Env) -> None:
    assert claim(env) is None
    finish(env.hub, env.merchant_id, "k-1", 500, b"boom")
    assert env.count(IdempotencyKey) == 0
    assert claim(env) is None  # the retry runs
    finish(env.hub, env.merchant_id, "k-1", 201, b"created")
    assert claim(env) == StoredResponse(201, b"created")


async def test_keys_belong_to_their_merchant(env: Env) -> None:
    other = create_merchant(env.hub, "Other shop", actor="t")
    assert claim(env) is None
    finish(env.hub, env.merchant_id, "k-1", 201, b"mine")
    assert claim(env, merchant=other, body=b"different") is None
    finish(env.hub, other, "k-1", 201, b"theirs")
    assert claim(env) == StoredResponse(201, b"mine")
    assert claim(env, merchant=other, body=b"different") == StoredResponse(201, b"theirs")


async def test_keys_expire_after_a_day_and_are_purged(env: Env, frozen: FrozenClock) -> None:
    assert claim(env, "old") is None
    finish(env.hub, env.merchant_id, "old", 201, b"old")
    frozen.advance(timedelta(hours=23))
    assert claim(env, "young") is None
    assert claim(env, "old") == StoredResponse(201, b"old")  # kept for 24 h

    frozen.advance(KEEP_FOR - timedelta(hours=23) + timedelta(seconds=1))
    # Expired: the key is free again, for any request.
    assert claim(env, "old", body=b"a new request") is None
    assert env.one(IdempotencyKey, key="old")["state"] == "in_flight"

    frozen.advance(timedelta(hours=23))
    assert purge_expired(env.hub) == 1  # "young", 24 h + 1 s old; "old" was claimed anew
    assert [r["key"] for r in env.rows(IdempotencyKey)] == ["old"]
    assert purge_expired(env.hub) == 0


async def test_a_key_must_be_1_to_255_characters(env: Env) -> None:
    for key in ("", "k" * 256):
        with pytest.raises(InvalidRequest):
            claim(env, key)
    assert env.count(IdempotencyKey) == 0
    assert claim(env, "k" * 255) is None


async def test_concurrent_first_uses_of_a_key_let_one_request_run(env: Env) -> None:
    racers = 8
    start = threading.Barrier(racers)

    def race(_: int) -> str:
        start.wait()
        try:
            return "claimed" if claim(env) is None else "replayed"
        except IdempotencyInFlight:
            return "in flight"

    with ThreadPoolExecutor(max_workers=racers) as pool:
        results = list(pool.map(race, range(racers)))
    assert sorted(results) == ["claimed"] + ["in flight"] * (racers - 1)
    assert env.count(IdempotencyKey) == 1

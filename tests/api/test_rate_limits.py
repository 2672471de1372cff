"""api.rate_limits on its own: who the client is (trusted proxies), the return-query
interval, the failure budget spent only by failures, the switch, and the 429 problem."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import ValidationError

from payhub.api.problems import install_problem_handlers, status_for
from payhub.api.rate_limits import RateLimitGate, RateLimits
from payhub.errors import RateLimited
from payhub.settings import Settings


def limits(**settings: Any) -> RateLimits:
    return RateLimits(Settings(**settings))


def scope(peer: str | None, forwarded: str | None = None) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return {"client": (peer, 1234) if peer else None, "headers": headers}


def test_the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() -> None:
    plain = limits()
    assert plain.client_ip(scope("198.51.100.4", "203.0.113.7")) == "198.51.100.4"
    assert plain.client_ip(scope(None)) is None
    proxied = limits(trusted_proxies="10.0.0.0/8, 192.0.2.1")
    assert proxied.client_ip(scope("10.1.2.3", "203.0.113.7")) == "203.0.113.7"
    # The nearest untrusted hop counts: what the client itself wrote further left does not.
    assert proxied.client_ip(scope("10.1.2.3", "6.6.6.6, 203.0.113.7, 192.0.2.1")) == (
        "203.0.113.7"
    )
    # An untrusted peer cannot name anyone; a trusted one without the header is the client.
    assert proxied.client_ip(scope("198.51.100.4", "203.0.113.7")) == "198.51.100.4"
    assert proxied.client_ip(scope("10.1.2.3")) == "10.1.2.3"
    # Garbage in the header: the proxy is all that is known.
    assert proxied.client_ip(scope("10.1.2.3", "not-an-ip")) == "10.1.2.3"
    assert proxied.client_ip(scope("10.1.2.3", "10.9.9.9")) == "10.9.9.9"


def test_a_return_may_query_an_attempt_once_per_interval() -> None:
    gate = limits(return_query_interval_seconds=1)
    assert gate.allow_return_query("pay_1")
    assert not gate.allow_return_query("pay_1")
    assert gate.allow_return_query("pay_2")  # per attempt
    time.sleep(1.1)
    assert gate.allow_return_query("pay_1")
    every_time = limits(return_query_interval_seconds=0)
    assert all(every_time.allow_return_query("pay_1") for _ in range(5))


def test_only_failures_spend_the_failure_budget() -> None:
    gate = limits(rate_limit_auth_failures_per_ip="2/day")
    for _ in range(10):
        gate.refuse_failing_client("203.0.113.7")  # refuses nobody yet
    gate.note_auth_failure("203.0.113.7")
    gate.note_auth_failure("203.0.113.7")
    with pytest.raises(RateLimited) as refused:
        gate.refuse_failing_client("203.0.113.7")
    assert 1 <= refused.value.retry_after <= 86_400
    gate.refuse_failing_client("198.51.100.4")  # per address


def test_several_windows_each_count() -> None:
    gate = limits(rate_limit_public_per_ip="100/hour;3/day")
    for _ in range(3):
        gate.admit_public_request("203.0.113.7")
    with pytest.raises(RateLimited) as refused:  # the hour has room, the day has none
        gate.admit_public_request("203.0.113.7")
    assert 1 <= refused.value.retry_after <= 86_400


def test_turned_off_nothing_is_refused() -> None:
    gate = limits(
        rate_limits_enabled=False,
        rate_limit_per_api_key="1/day",
        rate_limit_unverified_callbacks_per_ip="1/day",
        rate_limit_auth_failures_per_ip="1/day",
    )
    for _ in range(5):
        gate.admit_api_request("sk_test_x", "POST")
        gate.admit_unverified_callback("203.0.113.7")
        gate.note_auth_failure("203.0.113.7")
        gate.refuse_failing_client("203.0.113.7")
        assert gate.allow_return_query("pay_1")


def test_settings_refuse_a_malformed_limit_or_network() -> None:
    with pytest.raises(ValidationError):
        Settings(rate_limit_per_api_key="lots")
    with pytest.raises(ValidationError):
        Settings(trusted_proxies="10.0.0.0/8, proxy.internal")


def test_rate_limited_is_a_retry_safe_429() -> None:
    exc = RateLimited("too many", retry_after=0)
    assert status_for(exc) == 429 and exc.retry_safe and exc.outcome_known
    assert exc.retry_after == 1  # never "retry after 0 s"


@pytest.mark.anyio
async def test_the_gate_answers_429_as_problem_json_with_retry_after() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/v1/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/healthz")
    async def health() -> dict[str, bool]:
        return {"ok": True}

    gated = RateLimitGate(app, limits(rate_limit_per_api_key="2/day"))
    headers = {"Authorization": "Bearer sk_test_abc"}
    async with AsyncClient(transport=ASGITransport(app=gated), base_url="http://hub") as c:
        assert [(await c.get("/v1/ping", headers=headers)).status_code for _ in range(2)] == [
            200,
            200,
        ]
        refused = await c.get("/v1/ping", headers=headers)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 86_400
        body = refused.json()
        assert body["type"] == "https://payhub.dev/problems/rate-limited"
        assert body["retry_after"] == int(refused.headers["retry-after"])
        # Another credential, and routes outside /v1, /pay and /return, are not touched.
        other = await c.get("/v1/ping", headers={"Authorization": "Bearer sk_test_other"})
        assert other.status_code == 200
        assert [(await c.get("/healthz")).status_code for _ in range(5)] == [200] * 5

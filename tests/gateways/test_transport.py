"""payhub.gateways.transport: every row of the classifier's table, with httpx failure shapes
(MockTransport), and the same answer from every adapter for the same failure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from payhub.gateways import transport
from payhub.gateways.base import (
    Environment,
    Gateway,
    GatewayConfig,
    GatewayError,
    GatewayMisconfigured,
    GatewayUnavailable,
    PaymentRef,
)
from payhub.gateways.registry import entry, gateway_names
from payhub.money import Money
from payhub.secret import Secret

Handler = Callable[[httpx.Request], httpx.Response]
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def raising(exc_type: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("simulated", request=request)

    return handler


def answering(status: int, **kwargs: Any) -> Handler:
    return lambda request: httpx.Response(status, **kwargs)


async def call(
    handler: Handler, *, effectful: bool = True, url: str = "https://gw.test/api"
) -> Any:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await transport.exchange(
            client.post(url, json={}), gateway="Gw", operation="create", effectful=effectful
        )


# (failure, error class, outcome known, retry safe, gateway_code) — the module's table.
ROWS: list[tuple[str, Handler, type[GatewayError], bool, bool, str]] = [
    ("connect timeout", raising(httpx.ConnectTimeout), GatewayUnavailable, True, True,
     "connect_timeout"),
    ("pool timeout", raising(httpx.PoolTimeout), GatewayUnavailable, True, True,
     "connect_timeout"),
    ("connect error", raising(httpx.ConnectError), GatewayUnavailable, True, True, "connection"),
    ("read timeout", raising(httpx.ReadTimeout), GatewayUnavailable, False, False, "timeout"),
    ("write timeout", raising(httpx.WriteTimeout), GatewayUnavailable, False, False, "timeout"),
    ("read error", raising(httpx.ReadError), GatewayUnavailable, False, False, "network"),
    ("write error", raising(httpx.WriteError), GatewayUnavailable, False, False, "network"),
    ("server disconnected", raising(httpx.RemoteProtocolError), GatewayUnavailable, False, False,
     "network"),
    ("unsupported protocol", raising(httpx.UnsupportedProtocol), GatewayMisconfigured, True,
     False, "invalid_url"),
    ("401", answering(401), GatewayMisconfigured, True, False, "http_401"),
    ("403", answering(403), GatewayMisconfigured, True, False, "http_403"),
    ("429", answering(429), GatewayUnavailable, True, True, "http_429"),
    ("500", answering(500), GatewayUnavailable, False, False, "http_500"),
    ("502", answering(502, text="bad gateway"), GatewayUnavailable, False, False, "http_502"),
    ("503", answering(503), GatewayUnavailable, False, False, "http_503"),
    ("504", answering(504), GatewayUnavailable, False, False, "http_504"),
]  # fmt: skip


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("handler", "error", "known", "retry_safe", "code"),
    [pytest.param(*row[1:], id=row[0]) for row in ROWS],
)
async def test_each_failure_of_an_effectful_call(
    handler: Handler, error: type[GatewayError], known: bool, retry_safe: bool, code: str
) -> None:
    with pytest.raises(error) as caught:
        await call(handler)
    assert type(caught.value) is error
    assert caught.value.outcome_known is known
    assert caught.value.retry_safe is retry_safe
    assert caught.value.gateway_code == code
    assert caught.value.message.startswith("Gw create: ")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("handler", "error", "code"),
    [pytest.param(row[1], row[2], row[5], id=row[0]) for row in ROWS],
)
async def test_a_call_that_changes_nothing_never_leaves_an_outcome_unknown(
    handler: Handler, error: type[GatewayError], code: str
) -> None:
    with pytest.raises(error) as caught:
        await call(handler, effectful=False)
    assert caught.value.outcome_known is True
    # A retry is safe unless only an operator can fix it.
    assert caught.value.retry_safe is (error is GatewayUnavailable)
    assert caught.value.gateway_code == code


@pytest.mark.anyio
async def test_an_invalid_url_is_a_misconfiguration_and_nothing_is_sent() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    with pytest.raises(GatewayMisconfigured) as caught:
        await call(handler, url="http://[::1")
    assert caught.value.gateway_code == "invalid_url"
    assert sent == []
    # httpx's own transport refuses a URL without http(s) before opening any connection.
    async with httpx.AsyncClient() as client:
        for url in ("ftp://gateway.test/api", "gateway.test/api"):
            with pytest.raises(GatewayMisconfigured) as caught:
                await transport.exchange(client.post(url), gateway="Gw", operation="create")
            assert caught.value.gateway_code == "invalid_url"


@pytest.mark.anyio
@pytest.mark.parametrize("status", [200, 201, 204, 302, 400, 404, 409, 422])
async def test_other_answers_are_the_adapters_to_read(status: int) -> None:
    response = await call(answering(status, text="gateway words"))
    assert response.status_code == status


@pytest.mark.anyio
async def test_429_carries_retry_after_seconds() -> None:
    with pytest.raises(GatewayUnavailable) as caught:
        await call(answering(429, headers={"Retry-After": "7"}))
    assert caught.value.retry_after == 7.0
    with pytest.raises(GatewayUnavailable) as caught:
        await call(answering(429))
    assert caught.value.retry_after is None


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert transport.retry_after_seconds("120", now) == 120.0
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert transport.retry_after_seconds(later, now) == 90.0
    earlier = format_datetime(now - timedelta(seconds=90), usegmt=True)
    assert transport.retry_after_seconds(earlier, now) == 0.0
    assert transport.retry_after_seconds("soon", now) is None
    assert transport.retry_after_seconds("", now) is None
    assert transport.retry_after_seconds(None, now) is None


def test_an_unusable_answer_follows_the_same_rule() -> None:
    lost = transport.unusable_answer("Gw create: not JSON")
    assert (lost.outcome_known, lost.retry_safe, lost.gateway_code) == (
        False,
        False,
        "bad_response",
    )
    read = transport.unusable_answer("Gw query: not JSON", gateway_code="x", effectful=False)
    assert (read.outcome_known, read.retry_safe, read.gateway_code) == (True, True, "x")


# --------------------------------------------------------------------------- every adapter

# A payment each gateway's query accepts: references in its own format, its stored fields.
REFS = {
    "payos": PaymentRef(
        "1748746800000001", Money(150_000, "VND"), NOW, {"paymentLinkId": "a" * 32}
    ),
    "vnpay": PaymentRef(
        "PH1", Money(150_000, "VND"), NOW, {"vnp_CreateDate": "20261201190000"}, "14422574"
    ),
    "momo": PaymentRef(
        "PH261201-1-abcdef", Money(150_000, "VND"), NOW, {"orderId": "PH261201-1-abcdef"}
    ),
    "toyyibpay": PaymentRef("PH261201000001", Money(1050, "MYR"), NOW, {"bill_code": "gcbhict9"}),
}


def adapter(name: str, handler: Handler) -> Gateway:
    gateway = entry(name)
    profile = gateway.sandbox_profile()
    config = GatewayConfig(
        credentials={key: Secret(value) for key, value in profile.credentials.items()},
        base_url="https://gateway.invalid",
        environment=Environment.SANDBOX,
        settings=dict(profile.settings),
    )
    return gateway.adapter(config, httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def test_every_gateway_in_the_registry_is_covered() -> None:
    assert set(REFS) == set(gateway_names())


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("handler", "error", "code"),
    [pytest.param(row[1], row[2], row[5], id=row[0]) for row in ROWS],
)
async def test_the_same_failure_means_the_same_thing_in_every_adapter(
    handler: Handler, error: type[GatewayError], code: str
) -> None:
    seen = set()
    for name, ref in REFS.items():
        with pytest.raises(error) as caught:
            await adapter(name, handler).query(ref)
        exc = caught.value
        seen.add((type(exc), exc.outcome_known, exc.retry_safe, exc.gateway_code))
    assert seen == {(error, True, error is GatewayUnavailable, code)}

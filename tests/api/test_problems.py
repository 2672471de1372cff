"""api.problems: the one table from error class to HTTP status, and the problem+json bodies
the handlers build from the error tree."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

import payhub.services.idempotency
import payhub.services.refunds
from payhub.api.problems import STATUS, install_problem_handlers, status_for
from payhub.errors import (
    AttemptInFlight,
    Conflict,
    DomainError,
    Forbidden,
    GatewayCallFailed,
    GatewayCallLost,
    GatewayCallRefused,
    GatewayError,
    GatewayMisconfigured,
    GatewayNotAvailable,
    GatewayRejected,
    GatewayUnavailable,
    HubError,
    InsufficientStock,
    InvalidPaymentRequest,
    InvalidRequest,
    InvalidSignature,
    MalformedNotification,
    NotFound,
    NotSupported,
    OrderAlreadyPaid,
    OrderNotPayable,
    RefundNotAllowed,
    Unauthorized,
    VaultError,
)


def tree(cls: type[HubError] = HubError) -> list[type[HubError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(tree(sub))
    return found


def example(cls: type[HubError]) -> HubError:
    """One instance of `cls`, built the way its raisers build it."""
    if issubclass(cls, DomainError):
        return cls("refused")
    if issubclass(cls, GatewayCallFailed):
        return cls("failed", retry_safe=False, gateway_code="x")
    if issubclass(cls, GatewayError):
        return cls("failed", gateway_code="x")
    return cls("failed")


# Input that payhub or a gateway refuses: the caller must change it, so never a 5xx.
REFUSED_INPUT = (DomainError, InvalidPaymentRequest, InvalidSignature, MalformedNotification)
REFUSED_INPUT += (NotSupported,)
# Failures of payhub or a gateway, never the caller's fault: always a 5xx.
OUR_FAILURES = (GatewayCallFailed, GatewayUnavailable, GatewayRejected, GatewayMisconfigured)
OUR_FAILURES += (VaultError,)


@pytest.mark.parametrize("cls", tree(), ids=lambda c: c.__name__)
def test_every_class_of_the_tree_maps_to_a_status(cls: type[HubError]) -> None:
    status = status_for(example(cls))
    assert 400 <= status <= 599
    if issubclass(cls, REFUSED_INPUT):
        assert status < 500, cls
    if issubclass(cls, OUR_FAILURES):
        assert status >= 500, cls


def test_the_table_names_only_classes_of_the_tree() -> None:
    assert all(issubclass(cls, HubError) for cls in STATUS)


def test_the_most_specific_class_wins() -> None:
    # The statuses merchants see today (tests/api, tests/e2e assert them).
    expected = {
        DomainError: 422,
        NotFound: 404,
        Conflict: 409,
        OrderAlreadyPaid: 409,
        OrderNotPayable: 409,
        AttemptInFlight: 409,
        InsufficientStock: 409,
        InvalidRequest: 422,
        GatewayNotAvailable: 422,
        RefundNotAllowed: 422,
        payhub.services.refunds.RefundsNotSupported: 422,
        payhub.services.idempotency.IdempotencyInFlight: 409,
        payhub.services.idempotency.IdempotencyKeyReused: 422,
        Unauthorized: 401,
        Forbidden: 403,
        GatewayCallLost: 504,
        GatewayCallRefused: 502,
        VaultError: 500,
    }
    assert {cls: status_for(example(cls)) for cls in expected} == expected


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app)
    raises: dict[str, HubError] = {
        "conflict": OrderAlreadyPaid("order o_1 is already paid"),
        "refund": RefundNotAllowed("only 15,000 ₫ is left to refund", refundable=15_000),
        "in-flight": AttemptInFlight("a momo payment for order o_1 is being created"),
        "lost": GatewayCallFailed.from_gateway(
            "momo did not answer: MoMo create: HTTP 500",
            GatewayUnavailable("MoMo create: HTTP 500", gateway_code="http_500"),
        ),
        "refused": GatewayCallFailed.from_gateway(
            "momo refused the payment: MoMo create refused: 22",
            GatewayRejected("MoMo create refused: 22", gateway_code="22"),
        ),
        "vault": VaultError("PAYHUB_MASTER_KEY is not set; gateway credentials cannot be stored"),
        "adapter": GatewayMisconfigured("MoMo said: bad key sk-1234", gateway_code="http_401"),
    }

    def raiser(exc: HubError) -> Callable[[], Awaitable[None]]:
        async def route() -> None:
            raise exc

        return route

    for name, exc in raises.items():
        app.get(f"/{name}")(raiser(exc))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hub"
    ) as c:
        yield c


@pytest.mark.anyio
async def test_problem_bodies(client: httpx.AsyncClient) -> None:
    base = "https://payhub.dev/problems/"

    async def body(path: str) -> dict[str, object]:
        r = await client.get(path)
        assert r.headers["content-type"] == "application/problem+json"
        data: dict[str, object] = r.json()
        assert data["status"] == r.status_code
        return data

    assert await body("/conflict") == {
        "type": base + "order-already-paid",
        "title": "Order already paid",
        "status": 409,
        "detail": "order o_1 is already paid",
        "retry_safe": False,
    }
    refund = await body("/refund")
    assert (refund["type"], refund["refundable"]) == (base + "refund-not-allowed", 15_000)
    assert (await body("/in-flight"))["retry_safe"] is True
    assert await body("/lost") == {
        "type": base + "gateway-outcome-unknown",
        "title": "Gateway call failed",
        "status": 504,
        "detail": "momo did not answer: MoMo create: HTTP 500",
        "retry_safe": False,
        "gateway_code": "http_500",
    }
    refused = await body("/refused")
    assert (refused["type"], refused["status"]) == (base + "gateway-refused", 502)
    assert (refused["retry_safe"], refused["gateway_code"]) == (True, "22")
    vault = await body("/vault")
    assert (vault["type"], vault["status"], vault["retry_safe"]) == (
        base + "vault-error",
        500,
        False,
    )
    # An adapter error no use case translated: its status, and only the public message.
    adapter = await body("/adapter")
    assert (adapter["type"], adapter["status"]) == (base + "gateway-misconfigured", 502)
    assert adapter["detail"] == GatewayMisconfigured.public_message
    assert "sk-1234" not in str(adapter) and "MoMo" not in str(adapter)

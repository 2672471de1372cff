"""Fixtures for the PayOS tests: the sandbox channel, an in-process simulator, the adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from payhub.gateways import simkit
from payhub.gateways.base import Environment, GatewayConfig, SandboxProfile
from payhub.gateways.payos import PayOSGateway, create_simulator
from payhub.gateways.payos.simulator import DEFAULT_API_KEY, DEFAULT_CHECKSUM_KEY, DEFAULT_CLIENT_ID
from payhub.secret import Secret

SIM_ORIGIN = "http://payos-sim.test"
PROFILE = SandboxProfile(
    credentials={
        "client_id": DEFAULT_CLIENT_ID,
        "api_key": DEFAULT_API_KEY,
        "checksum_key": DEFAULT_CHECKSUM_KEY,
    },
    default_port=8101,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_config(base_url: str = SIM_ORIGIN, **overrides: str) -> GatewayConfig:
    creds = {**PROFILE.credentials, **overrides}
    return GatewayConfig(
        credentials={k: Secret(v) for k, v in creds.items()},
        base_url=base_url,
        environment=Environment.SIMULATOR,
    )


def make_simulator(
    transport: httpx.AsyncBaseTransport | None = None, attempts: int = 3, **extra: str
) -> Starlette:
    return create_simulator(
        simkit.SimulatorOptions(
            public_url=SIM_ORIGIN,
            profile=PROFILE,
            retry=simkit.RetryPolicy(max_attempts=attempts, interval_seconds=0.01),
            transport=transport,
            extra=extra,
        )
    )


@pytest.fixture
def simulator() -> Starlette:
    return make_simulator()


@pytest.fixture
async def sim_http(simulator: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=simulator), base_url=SIM_ORIGIN
    ) as client:
        yield client


@pytest.fixture
def gateway(sim_http: httpx.AsyncClient) -> PayOSGateway:
    return PayOSGateway(make_config(), sim_http)


def sim_headers() -> dict[str, Any]:
    return {"x-client-id": DEFAULT_CLIENT_ID, "x-api-key": DEFAULT_API_KEY}


class Receiver:
    """A tiny webhook receiver app; answers with `statuses` in turn (then the last one)."""

    def __init__(self, statuses: tuple[int, ...] = (200,)) -> None:
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        self.statuses = list(statuses)
        self.bodies: list[bytes] = []

        async def receive(request: Request) -> Response:
            self.bodies.append(await request.body())
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            return Response(b'{"ok":true}', status_code=status, media_type="application/json")

        self.app = Starlette(routes=[Route("/payos/webhook", receive, methods=["POST"])])

    @property
    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app)

    def json_bodies(self) -> list[Any]:
        import json

        return [json.loads(body) for body in self.bodies]


RECEIVER_URL = "http://hub.test/payos/webhook"


@pytest.fixture
def offline() -> PayOSGateway:
    """An adapter for the synchronous methods (verify, reply, references): no HTTP needed."""
    return PayOSGateway(make_config(), httpx.AsyncClient())

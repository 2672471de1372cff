"""Shared fixtures for the MoMo tests: anyio backend, account config, simulator harness."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from payhub.gateways.base import Environment, GatewayConfig
from payhub.gateways.momo.simulator import sandbox_profile
from payhub.secret import Secret
from tests.gateways.momo.harness import SIM_ORIGIN, Harness, make_harness


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def momo_config() -> GatewayConfig:
    profile = sandbox_profile()
    return GatewayConfig(
        credentials={name: Secret(value) for name, value in profile.credentials.items()},
        base_url=SIM_ORIGIN,
        environment=Environment.SIMULATOR,
        settings=dict(profile.settings),
    )


@pytest.fixture
async def harness(momo_config: GatewayConfig) -> AsyncIterator[Harness]:
    built = make_harness(momo_config)
    try:
        yield built
    finally:
        await built.http.aclose()

"""Fixtures for the VNPay tests: far-away host timezones and the anyio backend."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["UTC", "America/Los_Angeles"])
def host_tz(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with the process's local timezone set far away from GMT+7."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    try:
        yield request.param
    finally:
        if previous is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = previous
        time.tzset()

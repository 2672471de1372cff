"""Fixtures for the ToyyibPay tests: anyio backend and a far-away host timezone."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def los_angeles_host_tz() -> Iterator[None]:
    """Run the test with the host clock in America/Los_Angeles (16 h from Malaysia)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/Los_Angeles"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()

"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.hub import HubUnderTest
from tests.support.templates import seeded_hub


@pytest.fixture(params=["sqlite", "postgres"])
def seeded(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], HubUnderTest]:
    """Like `db_url` + `make_hub` (both engines, a fresh database per test), but the database
    is a copy of a template `make_hub` seeded once: call it with the hub's public URL."""
    return functools.partial(seeded_hub, request.param, tmp_path)

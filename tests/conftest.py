"""Shared fixtures: real databases (SQLite and PostgreSQL), real hubs, anyio."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.hub import database_url


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated-on-demand empty database; every test using it runs on both engines."""
    return database_url(request.param, tmp_path)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return database_url("sqlite", tmp_path)

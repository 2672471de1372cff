"""Shared fixtures: real databases (SQLite and PostgreSQL), real hubs, anyio."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.hub import database_url

# Refuse reads of tables whose staged writes are not made yet (store.guard), in every test
# and in the servers the end-to-end tests start (they inherit the environment). Read when
# a `Database` is made.
os.environ.setdefault("PAYHUB_GUARD_STAGED_READS", "1")


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

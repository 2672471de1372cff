"""Seeded databases copied from a template: a hub per test without migrating per test.

`tests.support.hub.make_hub` migrates an empty database and seeds the demo merchant, its API
key and products; under load that is most of an end-to-end test's set-up. `seeded_hub` does
it once per process and kind (a template built by `make_hub` itself, so it holds exactly
what `make_hub` seeds) and gives each test a copy: a file copy on SQLite, `CREATE DATABASE
… TEMPLATE` on PostgreSQL. The copy is a real, separate database; nothing is shared between
tests but the seed.
"""

from __future__ import annotations

import functools
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from payhub.asgi import create_app
from payhub.services.context import build_hub
from payhub.settings import Settings
from tests.support.hub import HubUnderTest, make_hub
from tests.support.postgres import _conninfo, fresh_database, postgres_url


@dataclass(frozen=True)
class _Template:
    location: str  # SQLite: the file; PostgreSQL: the template database's name
    merchant_id: str
    api_key: str
    settings: Settings  # make_hub's settings for the template database


@functools.cache
def _template(kind: str) -> _Template:
    if kind == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="payhub-template-")) / "payhub.db"
        th = make_hub(f"sqlite:///{path}")
        th.hub.db.dispose()
        return _Template(str(path), th.merchant_id, th.api_key, th.hub.settings)
    base = _postgres_base()
    name = f"tpl_{uuid.uuid4().hex[:16]}"
    th = make_hub(fresh_database(base, name))
    th.hub.db.dispose()  # a template must have no open connection while it is copied
    return _Template(name, th.merchant_id, th.api_key, th.hub.settings)


def _postgres_base() -> str:
    base = postgres_url()
    if base is None:
        import pytest

        pytest.skip("PostgreSQL server binaries are not installed")
    return base


def seeded_database_url(kind: str, tmp_path: Path) -> tuple[str, _Template]:
    """A new database holding `make_hub`'s seed, and what the seed is."""
    template = _template(kind)
    if kind == "sqlite":
        target = tmp_path / "payhub.db"
        shutil.copyfile(template.location, target)
        return f"sqlite:///{target}", template
    base = make_url(_postgres_base())
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_conninfo(base, "postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template.location)
            )
        )
    return base.set(database=name).render_as_string(hide_password=False), template


def seeded_hub(kind: str, tmp_path: Path, public_url: str) -> HubUnderTest:
    """What `make_hub(database_url(kind, tmp_path), public_url)` returns, without migrating
    and seeding again: a hub on a fresh copy of the seeded template."""
    url, template = seeded_database_url(kind, tmp_path)
    settings = template.settings.model_copy(update={"database_url": url, "public_url": public_url})
    hub = build_hub(settings)
    return HubUnderTest(
        hub=hub, app=create_app(hub), merchant_id=template.merchant_id, api_key=template.api_key
    )

"""PostgreSQL for the test suite.

The tests use a real PostgreSQL server, never a stand-in. `postgres_url()` finds one:

1. ``PAYHUB_TEST_DATABASE_URL`` when set (``make test`` exports it from
   ``scripts/postgres.sh start``), else
2. the project's throwaway cluster, started on demand with ``scripts/postgres.sh start``
   (data, socket and log under ``var/pg/``; port ``PAYHUB_TEST_PG_PORT``, default 54329), else
3. ``None`` when the PostgreSQL server binaries are not installed, so the caller can skip.
   Under ``CI=true`` that raises instead: CI must never skip the PostgreSQL tests silently.

`fresh_database()` gives a test its own empty database on that server.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_SH = ROOT / "scripts" / "postgres.sh"
ENV_URL = "PAYHUB_TEST_DATABASE_URL"
EXIT_NO_BINARIES = 69  # scripts/postgres.sh: server binaries missing

_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is required (CI) but could not be provided."""


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@functools.cache
def postgres_url() -> str | None:
    """The SQLAlchemy URL of the test PostgreSQL database, or None if there is no server.

    Starts the project's cluster when needed (idempotent, safe from parallel workers).
    Raises `PostgresUnavailable` instead of returning None when ``CI`` is true, and
    always when the cluster exists but fails to start.
    """
    url = os.environ.get(ENV_URL, "").strip()
    if url:
        return url
    proc = subprocess.run(
        ["bash", str(POSTGRES_SH), "start"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=180,
        check=False,
    )
    if proc.returncode == EXIT_NO_BINARIES:
        if _in_ci():
            raise PostgresUnavailable(
                "PostgreSQL server binaries are missing under CI=true; "
                "run `scripts/bootstrap.sh --postgres`.\n" + proc.stderr
            )
        return None
    if proc.returncode != 0:
        raise PostgresUnavailable(
            f"scripts/postgres.sh start failed (exit {proc.returncode}):\n{proc.stderr}"
        )
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise PostgresUnavailable(f"scripts/postgres.sh start printed no URL:\n{proc.stderr}")
    return lines[-1]


def _conninfo(url: URL, dbname: str) -> str:
    params: dict[str, str] = {"dbname": dbname}
    if url.host:
        params["host"] = url.host
    if url.port:
        params["port"] = str(url.port)
    if url.username:
        params["user"] = url.username
    if url.password:
        params["password"] = url.password
    for key, value in url.query.items():  # e.g. ?host=/path/to/socket, sslmode=...
        params[key] = value if isinstance(value, str) else value[-1]
    return psycopg.conninfo.make_conninfo(**params)


def fresh_database(base_url: str, name: str) -> str:
    """Create an empty database `name` on `base_url`'s server (dropping any old one).

    Returns the SQLAlchemy URL of the new database (same server, user and driver).
    Connections still open to an old database of that name are terminated.
    """
    if not _DB_NAME.match(name):
        raise ValueError(f"unsuitable database name {name!r} (want [a-z_][a-z0-9_]*)")
    url = make_url(base_url)
    with psycopg.connect(_conninfo(url, "postgres"), autocommit=True) as conn:
        ident = sql.Identifier(name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    return url.set(database=name).render_as_string(hide_password=False)

"""Alembic environment: migrations run against the URL payhub passes in."""

from __future__ import annotations

from alembic import context

from payhub.store.db import create_db_engine
from payhub.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = create_db_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite's batch mode rebuilds a table (copy, DROP, rename); with foreign keys
            # enforced, dropping a table other rows refer to fails. The pragma only takes
            # effect outside a transaction, so it goes to the driver before Alembic begins;
            # the rebuilt tables are checked with foreign_key_check afterwards.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=sqlite,
        )
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if dangling:
                raise RuntimeError(f"migration left rows with dangling references: {dangling}")
    engine.dispose()


run_migrations_online()

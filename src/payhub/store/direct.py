"""SELECT and UPDATE statements compiled once and run on the DBAPI cursor, for the webhook
path.

Going through SQLAlchemy's `Connection.execute` costs about 35 µs of CPU per statement on
this machine, for statements that SQLite runs in 2 to 4 µs; a paid webhook runs five of
them in the writer thread, which is what limits ingestion (docs/performance.md). A
`DirectStatement` is an ordinary Core statement that SQLAlchemy compiles once per dialect,
with the type processors its bind parameters and result columns need; each run then only
converts the values, executes the SQL string on the session connection's DBAPI cursor (in
the session's transaction) and converts the rows back. Database errors are raised as
SQLAlchemy's `DBAPIError` subclasses, as `Connection.execute` would raise them, with the
parameters hidden.

Only SELECT and UPDATE: INSERTs can have Python-side column defaults, which SQLAlchemy's
execution path fills in and this one would not. Use a statement only where its SQL and
types are plain (no expanding IN, no literal execution); the constructor refuses the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from payhub.store.tables import session_connection

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    bind_names: tuple[str, ...]
    positional: bool
    bind_processors: tuple[Processor, ...]
    defaults: Mapping[str, Any]  # values bound in the statement itself
    result_processors: tuple[Processor, ...]


class DirectStatement:
    """A Core SELECT or UPDATE (with or without RETURNING) run straight on the DBAPI cursor.

    For an `update(table).where(...)` without `.values()`, the columns to set are named per
    run (`set_columns`), as `Connection.execute` derives them from the parameters."""

    __slots__ = ("_plans", "statement")

    def __init__(self, statement: Select[Any] | Update) -> None:
        if not isinstance(statement, Select | Update):
            raise TypeError(f"only SELECT and UPDATE run directly, not {type(statement).__name__}")
        self.statement = statement
        self._plans: dict[tuple[type[Dialect], tuple[str, ...]], _Plan] = {}

    def run(
        self,
        session: Session,
        params: Mapping[str, Any],
        set_columns: Sequence[str] = (),
    ) -> list[tuple[Any, ...]]:
        """Run in the session's transaction; the rows it returns (none for a plain UPDATE)."""
        connection = session_connection(session)
        dialect = connection.dialect
        key = (type(dialect), tuple(set_columns))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._compile(dialect, key[1])
        values = []
        for name, convert in zip(plan.bind_names, plan.bind_processors, strict=True):
            if name in params:
                value = params[name]
            elif name in plan.defaults:
                value = plan.defaults[name]
            else:
                raise KeyError(f"no value for the parameter {name!r} of {plan.sql!r}")
            values.append(value if convert is None else convert(value))
        return _execute(connection, dialect, plan, values)

    def _compile(self, dialect: Dialect, set_columns: tuple[str, ...]) -> _Plan:
        compiled = self.statement.compile(
            dialect=dialect, column_keys=list(set_columns) if set_columns else None
        )
        if getattr(compiled, "escaped_bind_names", None) or getattr(
            compiled, "literal_execute_params", None
        ):
            raise ValueError(f"not a plain statement: {compiled.string}")
        binds = compiled.binds
        positiontup = compiled.positiontup
        positional = positiontup is not None
        names = tuple(positiontup) if positiontup is not None else tuple(binds)
        defaults = {
            name: binds[name].effective_value
            for name in names
            if not binds[name].required and name not in set_columns
        }
        return _Plan(
            sql=compiled.string,
            bind_names=names,
            positional=positional,
            bind_processors=tuple(
                binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
            ),
            defaults=defaults,
            result_processors=tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in self.statement.exported_columns
            ),
        )


def _execute(
    connection: Connection, dialect: Dialect, plan: _Plan, values: list[Any]
) -> list[tuple[Any, ...]]:
    dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
    parameters: Sequence[Any] | dict[str, Any] = (
        values if plan.positional else dict(zip(plan.bind_names, values, strict=True))
    )
    cursor = connection.connection.cursor()
    try:
        cursor.execute(plan.sql, parameters)
        fetched = cursor.fetchall() if cursor.description is not None else []
    except dbapi_error as exc:
        raise DBAPIError.instance(
            plan.sql, None, exc, dbapi_error, hide_parameters=True, dialect=dialect
        ) from exc
    finally:
        cursor.close()
    processors = plan.result_processors
    if not any(processors):
        return [tuple(row) for row in fetched]
    return [
        tuple(
            value if convert is None else convert(value)
            for value, convert in zip(row, processors, strict=True)
        )
        for row in fetched
    ]

"""Statements compiled once and run on the DBAPI cursor, for the webhook path.

Going through SQLAlchemy's `Connection.execute` costs about 35 µs of CPU per statement on
this machine, for statements that SQLite runs in 2 to 4 µs; a paid webhook runs seven of
them and stages seven more rows, in the writer thread that limits ingestion
(docs/performance.md). A
`DirectStatement` is an ordinary Core statement that SQLAlchemy compiles once per dialect,
with the type processors its bind parameters and result columns need; each run then only
converts the values, executes the SQL string on the session connection's DBAPI cursor (in
the session's transaction) and converts the rows back. Database errors are raised as
SQLAlchemy's `DBAPIError` subclasses, as `Connection.execute` would raise them, with the
parameters hidden.

SQLAlchemy's execution path also fills in Python-side column defaults (`default=`,
`onupdate=`); this one does not, so an INSERT must name every column that has one, and an
UPDATE must set every column that has an `onupdate`: compiling refuses the statement
otherwise, naming the columns. Engine events (`before_cursor_execute`) and `echo` do not
see these statements. Use them only where the SQL and types are plain (no expanding IN, no
literal execution); compiling refuses the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Insert, Select, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from payhub.store import guard
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
    """A Core SELECT, INSERT or UPDATE (with or without RETURNING) run straight on the DBAPI
    cursor.

    An INSERT sets the columns its parameters name. For an `update(table).where(...)`
    without `.values()`, the columns to set are named per run (`set_columns`), as
    `Connection.execute` derives them from the parameters."""

    __slots__ = ("_plans", "_reads", "statement", "table_name")

    def __init__(self, statement: Select[Any] | Insert | Update) -> None:
        if not isinstance(statement, Select | Insert | Update):
            raise TypeError(
                f"only SELECT, INSERT and UPDATE run directly, not {type(statement).__name__}"
            )
        self.statement = statement
        # The table written (INSERT, UPDATE), or the tables read (SELECT), for store.guard.
        written = None if isinstance(statement, Select) else statement.table
        self.table_name = str(getattr(written, "name", ""))
        self._reads = guard.tables_read(statement) if isinstance(statement, Select) else None
        self._plans: dict[tuple[type[Dialect], tuple[str, ...]], _Plan] = {}

    def run(
        self,
        session: Session,
        params: Mapping[str, Any],
        set_columns: Sequence[str] = (),
    ) -> list[tuple[Any, ...]]:
        """Run in the session's transaction; the rows it returns (none without RETURNING)."""
        if guard.enabled and self._reads is not None:
            guard.check_read(session, self._reads)
        connection = session_connection(session)
        plan = self._plan_for(connection.dialect, params, set_columns)
        return _execute(connection, plan, _bind(plan, params))

    def run_many(
        self,
        session: Session,
        rows: Sequence[Mapping[str, Any]],
        set_columns: Sequence[str] = (),
    ) -> None:
        """Run once per parameter set, in one executemany; every set names the same keys."""
        if not rows:
            return
        connection = session_connection(session)
        plan = self._plan_for(connection.dialect, rows[0], set_columns)
        if isinstance(self.statement, Insert):
            # The INSERT names the first set's columns: another key set would be cut short.
            keys = rows[0].keys()
            if any(params.keys() != keys for params in rows):
                raise ValueError(f"every parameter set must name the same columns: {plan.sql!r}")
        if plan.result_processors:
            raise ValueError(f"RETURNING needs run(), not run_many(): {plan.sql!r}")
        _execute(connection, plan, [_bind(plan, params) for params in rows], many=True)

    def _plan_for(
        self, dialect: Dialect, params: Mapping[str, Any], set_columns: Sequence[str]
    ) -> _Plan:
        columns = tuple(params) if isinstance(self.statement, Insert) else tuple(set_columns)
        key = (type(dialect), columns)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._compile(dialect, columns)
        return plan

    def _compile(self, dialect: Dialect, set_columns: tuple[str, ...]) -> _Plan:
        statement = self.statement
        compiled = statement.compile(
            dialect=dialect,
            column_keys=list(set_columns) if set_columns else None,
            # An INSERT compiled as for executemany gets no implicit RETURNING of its new
            # primary key (PostgreSQL): only the RETURNING the statement asks for.
            for_executemany=isinstance(statement, Insert),
        )
        filled_in = [*compiled.insert_prefetch, *compiled.update_prefetch]
        if filled_in:
            raise ValueError(
                f"set {', '.join(sorted(c.key for c in filled_in))} explicitly: SQLAlchemy "
                f"fills in their Python-side defaults only on its own execution path "
                f"({compiled.string})"
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
            # The compiler's own record of the columns its SQL returns (the statement's
            # memoized column collections can be stale on a generative copy).
            result_processors=tuple(
                entry.type.dialect_impl(dialect).result_processor(dialect, None)
                for entry in compiled._result_columns
            ),
        )


def _bind(plan: _Plan, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
    values = []
    for name, convert in zip(plan.bind_names, plan.bind_processors, strict=True):
        if name in params:
            value = params[name]
        elif name in plan.defaults:
            value = plan.defaults[name]
        else:
            raise KeyError(f"no value for the parameter {name!r} of {plan.sql!r}")
        values.append(value if convert is None else convert(value))
    return values if plan.positional else dict(zip(plan.bind_names, values, strict=True))


def _execute(
    connection: Connection,
    plan: _Plan,
    parameters: Any,
    *,
    many: bool = False,
) -> list[tuple[Any, ...]]:
    dialect = connection.dialect
    dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
    cursor = connection.connection.cursor()
    try:
        if many:
            cursor.executemany(plan.sql, parameters)
            return []
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

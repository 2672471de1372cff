"""store.db: the SQLite dialect writes datetimes exactly as SQLAlchemy's own SQLite
DATETIME does (the text is what the tables hold and what ordering compares)."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from payhub.store.db import create_db_engine

SQLALCHEMY_OWN = sqlite.DATETIME().bind_processor(sqlite.dialect())


def payhub_processor() -> object:
    """The processor payhub's SQLite engine uses for `DateTime(timezone=True)` columns
    (no database file is opened)."""
    engine = create_db_engine(f"sqlite:///{tempfile.mkdtemp()}/t.db")
    return DateTime(timezone=True).dialect_impl(engine.dialect).bind_processor(engine.dialect)


PROCESS = payhub_processor()


@given(
    st.datetimes(
        min_value=datetime(1, 1, 1),
        max_value=datetime(9999, 12, 31, 23, 59, 59, 999999),
        timezones=st.one_of(st.none(), st.just(UTC), st.just(timezone(timedelta(hours=7)))),
    )
)
def test_datetimes_are_written_as_sqlalchemy_writes_them(value: datetime) -> None:
    assert callable(PROCESS)
    assert PROCESS(value) == SQLALCHEMY_OWN(value)
    assert PROCESS(value) == SQLALCHEMY_OWN(value)  # the remembered last value


def test_a_different_value_is_never_answered_from_memory() -> None:
    assert callable(PROCESS)
    first = datetime(2026, 11, 29, 8, 0, 0, 1, tzinfo=UTC)
    equal_but_other = datetime(2026, 11, 29, 8, 0, 0, 1, tzinfo=UTC)
    later = first + timedelta(microseconds=1)
    assert PROCESS(first) == "2026-11-29 08:00:00.000001"
    assert PROCESS(equal_but_other) == "2026-11-29 08:00:00.000001"
    assert PROCESS(later) == "2026-11-29 08:00:00.000002"
    assert PROCESS(first) == "2026-11-29 08:00:00.000001"


def test_dates_and_none_go_to_sqlalchemy() -> None:
    assert callable(PROCESS)
    assert PROCESS(None) is None
    assert PROCESS(date(2026, 11, 29)) == SQLALCHEMY_OWN(date(2026, 11, 29))

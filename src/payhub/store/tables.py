"""Core `Table` views of the ORM models, for the hot path's plain INSERT statements.

`insert(Model)` runs through the ORM's bulk-persistence machinery; `insert(table_of(Model))`
is a plain Core statement, several times cheaper per row on the webhook path.
"""

from __future__ import annotations

from functools import cache
from typing import cast

from sqlalchemy import Table

from payhub.store.models import Base


@cache
def table_of(model: type[Base]) -> Table:
    return cast(Table, model.__table__)

"""Cursor pagination, the same on every list: `limit` (1–200, default 50) and
`starting_after` (the id of the last item of the previous page) in; `data`, `has_more` and
`next_cursor` (the next page's `starting_after`, null on the last page) out.

Lists that can grow without bound (orders, events, notifications) page in SQL on
(created, id); the short ones (a payment's refunds, an event's deliveries, endpoints,
products, the review queue, gateways) are read whole and paged here, in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query

from payhub.domain.errors import InvalidRequest

T = TypeVar("T")

MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class PageQuery:
    limit: int
    starting_after: str | None


def page_query(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")] = 50,
    starting_after: Annotated[
        str | None,
        Query(max_length=100, description="the `next_cursor` of the previous page"),
    ] = None,
) -> PageQuery:
    return PageQuery(limit, starting_after)


PageDep = Annotated[PageQuery, Depends(page_query)]


def page_of(items: Sequence[T], query: PageQuery, id_of: Callable[[T], str]) -> dict[str, Any]:
    """One page of `items` (already in list order) as `{data, has_more, next_cursor}`;
    an unknown cursor is a 422, as on the lists paged in SQL."""
    start = 0
    if query.starting_after is not None:
        ids = [id_of(item) for item in items]
        if query.starting_after not in ids:
            raise InvalidRequest(f"unknown cursor {query.starting_after}")
        start = ids.index(query.starting_after) + 1
    page = list(items[start : start + query.limit])
    has_more = start + query.limit < len(items)
    return {
        "data": page,
        "has_more": has_more,
        "next_cursor": id_of(page[-1]) if has_more and page else None,
    }

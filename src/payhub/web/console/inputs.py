"""What the console takes from URLs and forms before it reaches a service or a query.

Identifiers (`ord_…`, `pay_…`, `evt_…`, `mer_demo`) must be letters, digits, `_` and `-`,
or the page is a 404 before any query runs; free text (reasons, notes, references) may
hold no control characters (PostgreSQL refuses a NUL in text; no note needs one).
"""

from __future__ import annotations

import re

from payhub.domain.errors import InvalidRequest, NotFound

ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def identifier(value: str, what: str = "object") -> str:
    """`value` if it can be one of our ids, else NotFound (no query is made)."""
    if not ID.fullmatch(value):
        raise NotFound(f"no {what} {value[:60]!r}")
    return value


def plain_text(value: str, what: str) -> str:
    """`value` without surrounding space; InvalidRequest if it holds control characters."""
    if _CONTROL.search(value):
        raise InvalidRequest(f"{what} may not contain control characters")
    return value.strip()


def search_text(value: str) -> str:
    """A search box's text: control characters dropped, at most 200 characters."""
    return _CONTROL.sub("", value).strip()[:200]

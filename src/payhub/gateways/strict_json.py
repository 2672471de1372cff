"""Strict JSON for gateway notification bodies, shared by the adapters that receive JSON.

A notification body is refused (ValueError) unless it is UTF-8 without a byte-order mark,
is valid JSON without the NaN/Infinity extensions, names each key of an object once, nests
at most `MAX_DEPTH` levels, and every string is Unicode text (a `\ud800` escape decodes
to a lone surrogate, which no signature can be computed over).

Duplicate keys are refused rather than resolved: a parser that keeps the first copy and
one that keeps the last would read different values from the same signed bytes, which is
how a signature checked over one reading and a payment settled from another would slip
through. No gateway sends duplicate keys. Deep nesting is refused before it can exhaust the
interpreter's recursion limit anywhere (parsing, signing, storing).
"""

from __future__ import annotations

import json
from typing import Any, Final

MAX_DEPTH: Final = 32


class StrictJsonError(ValueError):
    """The body is not strict JSON (see the module docstring)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise StrictJsonError("a JSON object repeats a key")
    return out


def loads_strict(body: bytes, **options: Any) -> Any:
    """`json.loads` of `body` under the rules above; `options` as for `json.loads`
    (e.g. `parse_int=str`)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise StrictJsonError("the body is not UTF-8") from None
    if text.startswith("\ufeff"):
        raise StrictJsonError("the body starts with a byte-order mark")
    options.setdefault("parse_constant", _no_constant)
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, **options)
    except RecursionError:
        raise StrictJsonError("the JSON nests too deeply") from None
    except StrictJsonError:
        raise
    except ValueError as exc:  # JSONDecodeError, and integers too long to convert
        raise StrictJsonError(f"not JSON: {exc}") from None
    _check_tree(value)
    return value


def _no_constant(name: str) -> Any:
    raise StrictJsonError(f"{name} is not JSON")


def _is_text(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_tree(value: Any) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if not _is_text(node):
                raise StrictJsonError("a JSON string holds a lone surrogate")
            continue
        if isinstance(node, dict):
            children: list[Any] = [*node.keys(), *node.values()]
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > MAX_DEPTH:
            raise StrictJsonError(f"the JSON nests deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)

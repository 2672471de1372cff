"""The strict JSON reader of notification bodies (gateways.strict_json)."""

from __future__ import annotations

import codecs

import pytest

from payhub.gateways.strict_json import MAX_DEPTH, StrictJsonError, loads_strict


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff{}",
        codecs.BOM_UTF8 + b"{}",
        codecs.BOM_UTF16_LE + "{}".encode("utf-16-le"),
        '{"a":"é"}'.encode("latin-1"),
        b'{"a":1,"a":2}',
        b'{"a":{"b":1,"b":1}}',
        b'[{"k":1,"k":1}]',
        b'{"a":NaN}',
        b"Infinity",
        b'{"a":"\\ud800"}',
        b'{"\\udc00":1}',
        b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
        b"[" * 100_000 + b"]" * 100_000,
        b"9" * 5000,
    ],
)
def test_refused(body: bytes) -> None:
    with pytest.raises(StrictJsonError):
        loads_strict(body)


def test_taken() -> None:
    nested = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert loads_strict(nested) is not None
    assert loads_strict('{"a":"Thanh toán 😀","b":[1,{"c":null}]}'.encode()) == {
        "a": "Thanh toán 😀",
        "b": [1, {"c": None}],
    }
    assert loads_strict(b'{"n":50000}', parse_int=str) == {"n": "50000"}

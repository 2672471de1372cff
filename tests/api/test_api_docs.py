"""docs/api.md and the OpenAPI schema describe the same API: every route in the endpoint
table is an operation of the schema (with the same operationId) and every /v1 operation is
in the table; every object section under "Objects" is a schema component whose members are
exactly the ones listed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.hub import make_hub

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ROUTE_ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/v1/[^`]*)` \| `(\w+)` \|", re.M)
OBJECT_HEADING = re.compile(r"^#### `(\w+)`$", re.M)
MEMBER_ROW = re.compile(r"^\| `(\w+)` \|", re.M)


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    th = make_hub(f"sqlite:///{tmp_path_factory.mktemp('docs') / 'payhub.db'}")
    try:
        return dict(th.app.openapi())
    finally:
        th.hub.db.dispose()


def _documented_objects(text: str) -> dict[str, list[str]]:
    objects_part = text.split("\n## Objects\n", 1)[1]
    found: dict[str, list[str]] = {}
    headings = list(OBJECT_HEADING.finditer(objects_part))
    for n, heading in enumerate(headings):
        end = headings[n + 1].start() if n + 1 < len(headings) else len(objects_part)
        found[heading.group(1)] = MEMBER_ROW.findall(objects_part[heading.end() : end])
    return found


def test_every_documented_route_is_in_the_schema_and_every_route_is_documented(
    spec: dict[str, Any],
) -> None:
    documented = {
        (method, path, op_id) for method, path, op_id in ROUTE_ROW.findall(API_MD.read_text())
    }
    served = {
        (method.upper(), path, op["operationId"])
        for path, item in spec["paths"].items()
        if path.startswith("/v1/")
        for method, op in item.items()
    }
    assert documented - served == set(), "documented in docs/api.md but not served"
    assert served - documented == set(), "served but missing from docs/api.md's endpoint table"


def test_every_documented_object_member_is_in_the_schema_and_none_is_missing(
    spec: dict[str, Any],
) -> None:
    schemas = spec["components"]["schemas"]
    documented = _documented_objects(API_MD.read_text())
    assert documented, "docs/api.md has no Objects section"
    for name, members in documented.items():
        assert name in schemas, f"docs/api.md documents {name}, which the schema lacks"
        assert members == list(schemas[name]["properties"]), name
    responses = {
        ref.rsplit("/", 1)[1]
        for item in spec["paths"].values()
        for op in item.values()
        for answer in op["responses"].values()
        for media in answer.get("content", {}).values()
        if (ref := media["schema"].get("$ref"))
    }
    nested = {
        ref.rsplit("/", 1)[1]
        for schema in schemas.values()
        for ref in re.findall(r"#/components/schemas/\w+", str(schema))
    }
    inputs = {name for name in schemas if name.endswith("In")}
    assert (responses | nested) - inputs - set(documented) == set(), "objects not documented"


def test_the_docs_checker_notices_an_undocumented_member(spec: dict[str, Any]) -> None:
    dropped = "| `gateway_txn_id` | string \\| null | the gateway's own"
    text = API_MD.read_text()
    assert dropped in text
    text = text.replace(dropped, "| x | string | the gateway's own", 1)
    members = _documented_objects(text)["Payment"]
    assert members != list(spec["components"]["schemas"]["Payment"]["properties"])

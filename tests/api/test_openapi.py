"""The OpenAPI document is the merchant API's contract: its operations (method, path,
operation id) are pinned here, so moving routes between modules cannot drop, add or rename
one unnoticed."""

from __future__ import annotations

import json
import re
from typing import Any

from payhub.api import v1
from payhub.api.problems import V1_PROBLEMS
from tests.support.hub import make_hub

OPERATIONS = {
    ("POST", "/v1/orders", "createOrder"),
    ("GET", "/v1/orders", "listOrders"),
    ("GET", "/v1/orders/{order_id}", "getOrder"),
    ("POST", "/v1/orders/{order_id}/payments", "startPayment"),
    ("POST", "/v1/orders/{order_id}/cancel", "cancelOrder"),
    ("POST", "/v1/orders/{order_id}/manual-payments", "recordManualPayment"),
    ("GET", "/v1/payments/{payment_id}", "getPayment"),
    ("POST", "/v1/payments/{payment_id}/refunds", "createRefund"),
    ("GET", "/v1/payments/{payment_id}/refunds", "listRefunds"),
    ("POST", "/v1/payments/{payment_id}/accept", "acceptPayment"),
    ("POST", "/v1/payments/{payment_id}/reject", "rejectPayment"),
    ("GET", "/v1/products", "listProducts"),
    ("GET", "/v1/notifications", "listNotifications"),
    ("PUT", "/v1/products/{sku}", "putProduct"),
    ("GET", "/v1/customers/{external_id}/credits", "getCustomerCredits"),
    ("GET", "/v1/customers/{external_id}/credit-entries", "listCreditEntries"),
    ("GET", "/v1/gateways", "listGateways"),
    ("GET", "/v1/webhook-endpoints", "listWebhookEndpoints"),
    ("POST", "/v1/webhook-endpoints", "createWebhookEndpoint"),
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}", "deleteWebhookEndpoint"),
    ("GET", "/v1/events", "listEvents"),
    ("GET", "/v1/events/{event_id}", "getEvent"),
    ("GET", "/v1/events/{event_id}/deliveries", "listEventDeliveries"),
    ("POST", "/v1/events/{event_id}/redeliver", "redeliverEvent"),
    ("GET", "/v1/review-queue", "listReviewQueue"),
    ("POST", "/v1/customers/{external_id}/credits/debit", "debitCredits"),
    ("POST", "/v1/customers/{external_id}/credits/adjustments", "adjustCredits"),
    ("POST", "/v1/gateways/{gateway}/validate", "validateGateway"),
    ("GET", "/v1/api_keys", "listApiKeys"),
    ("POST", "/v1/api_keys", "createApiKey"),
    ("POST", "/v1/api_keys/{key_id}/revoke", "revokeApiKey"),
    ("POST", "/v1/api_keys/{key_id}/rotate", "rotateApiKey"),
}


def test_openapi_operations_are_unchanged(sqlite_url: str) -> None:
    th = make_hub(sqlite_url)
    try:
        spec = th.app.openapi()
    finally:
        th.hub.db.dispose()
    operations = {
        (method.upper(), path, op["operationId"])
        for path, item in spec["paths"].items()
        for method, op in item.items()
    }
    assert operations == OPERATIONS
    tags = {tag for item in spec["paths"].values() for op in item.values() for tag in op["tags"]}
    assert tags == {"merchant API v1"}


def test_every_resource_module_serves_under_v1() -> None:
    for resource in v1.RESOURCES:
        assert resource.__doc__, f"{resource.__name__} has no module docstring"
        assert resource.router.routes, f"{resource.__name__} serves nothing"


def _spec(sqlite_url: str) -> dict[str, Any]:
    th = make_hub(sqlite_url)
    try:
        return dict(th.app.openapi())
    finally:
        th.hub.db.dispose()


def _v1_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in spec["paths"].items()
        if path.startswith("/v1/")
        for method, op in item.items()
    ]


def test_every_v1_route_is_typed_for_client_generators(sqlite_url: str) -> None:
    """The check a new route must pass (docs/api.md, "Adding a route"): an explicit short
    camelCase operationId, a response model, every error status with the problem schema,
    bearerAuth, and Idempotency-Key on a POST."""
    spec = _spec(sqlite_url)
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    seen_ids: set[str] = set()
    for method, path, op in _v1_operations(spec):
        where = f"{method.upper()} {path}"
        op_id = op.get("operationId", "")
        assert re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)+", op_id), f"{where}: operationId {op_id}"
        assert op_id not in seen_ids, f"{where}: operationId {op_id} used twice"
        seen_ids.add(op_id)
        successes = {s: r for s, r in op["responses"].items() if s.startswith("2")}
        assert len(successes) == 1, f"{where}: one success status, got {list(successes)}"
        [(status, success)] = successes.items()
        if status != "204":
            schema = success["content"]["application/json"]["schema"]
            assert schema.get("$ref", "").startswith("#/components/schemas/"), (
                f"{where}: declare response_model= (a model in api/schemas/)"
            )
        # A route on a resource by id answers 404 for an unknown one (a PUT creates it).
        by_id = "{" in path and method != "put"
        expected = set(V1_PROBLEMS) | ({404} if by_id else set())
        for problem_status in sorted(expected):
            answer = op["responses"].get(str(problem_status))
            assert answer is not None, f"{where}: {problem_status} is not documented"
            assert answer["content"] == {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }, (where, problem_status)
        for error_status, answer in op["responses"].items():
            if not error_status.startswith("2"):
                assert list(answer["content"]) == ["application/problem+json"], (where, status)
        assert op["security"] == [{"bearerAuth": []}], where
        names = {p["name"] for p in op.get("parameters", [])}
        assert ("Idempotency-Key" in names) == (method == "post"), where
    assert "HTTPValidationError" not in json.dumps(spec)
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert {"retry_safe", "errors"} <= set(problem["properties"])


def test_the_typed_check_catches_an_untyped_route(sqlite_url: str) -> None:
    """A route added the old way (no operation_id, no response_model) fails the check."""
    from fastapi import APIRouter

    th = make_hub(sqlite_url)
    try:
        extra = APIRouter(prefix="/v1")

        @extra.get("/untyped/{thing_id}")
        async def untyped(thing_id: str) -> dict[str, Any]:
            return {"thing": thing_id}

        th.app.include_router(extra)
        th.app.openapi_schema = None
        spec = th.app.openapi()
    finally:
        th.hub.db.dispose()
    op = spec["paths"]["/v1/untyped/{thing_id}"]["get"]
    assert not re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)+", op["operationId"])
    assert "404" not in op["responses"]


def test_a_405_lists_every_method_of_the_path(sqlite_url: str) -> None:
    import httpx

    th = make_hub(sqlite_url)
    try:
        transport = httpx.ASGITransport(app=th.app)

        async def probe() -> httpx.Response:
            async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
                return await c.request("PATCH", "/v1/orders", headers=th.headers)

        import anyio

        r = anyio.run(probe)
    finally:
        th.hub.db.dispose()
    assert r.status_code == 405
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["allow"] == "GET, POST"

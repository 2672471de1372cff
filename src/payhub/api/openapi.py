"""The OpenAPI document, finished for client generators: the problem schema, the
`bearerAuth` scheme on every /v1 operation, the `Idempotency-Key` header on every /v1 POST,
and no trace of FastAPI's default validation-error shape (payhub answers 422 with a problem
document like every other error)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from payhub.api.schemas.common import Problem

IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Any unique string (1–255 characters), e.g. a UUID. The first response is kept 24 h "
        "and replayed, status, headers and body, for the same key and the same request; a "
        "request refused before it took effect (invalid, unauthorised, unknown SKU, 404) is "
        "not kept, so it may be fixed and sent again with the same key."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "example": "5f0c7a7e-3c1a-4c8e-9a57-1f1c2b0d9e11",
}

BEARER_AUTH: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "description": "A merchant secret key (sk_test_…, sk_live_…) or, on the routes that take "
    "one, a customer's token (a JWT: sub = customer, mid = merchant).",
}

_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def _problem_components() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {"Problem": schema, **defs}


def finish_openapi(spec: dict[str, Any]) -> dict[str, Any]:
    """Add what FastAPI does not generate (see the module docstring), in place."""
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION:
        schemas.pop(name, None)
    schemas.update(_problem_components())
    components.setdefault("securitySchemes", {})["bearerAuth"] = BEARER_AUTH
    for path, item in spec.get("paths", {}).items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in item.items():
            operation["security"] = [{"bearerAuth": []}]
            if method == "post":
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == "Idempotency-Key" for p in parameters):
                    parameters.append(IDEMPOTENCY_KEY_PARAMETER)
    return spec


def install_openapi(app: FastAPI) -> None:
    """Serve the finished document at /openapi.json (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish_openapi(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    openapi_version=app.openapi_version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

"""RFC 9457 problem+json answers with a stable `type` per error code.

`STATUS` is the one table from error class to HTTP status; the errors themselves carry no
status (their retry semantics are drawn in `payhub.errors`). The most specific class in an
error's MRO that the table names wins. Input payhub or a gateway refuses is always 4xx;
5xx says payhub or the gateway failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from payhub.errors import (
    Conflict,
    DomainError,
    Forbidden,
    GatewayCallFailed,
    GatewayCallLost,
    GatewayCallRefused,
    GatewayError,
    GatewayMisconfigured,
    GatewayNotAvailable,
    GatewayRejected,
    GatewayUnavailable,
    HubError,
    InvalidPaymentRequest,
    InvalidRequest,
    InvalidSignature,
    MalformedNotification,
    ModeMismatch,
    NoGatewayAvailable,
    NotFound,
    NotSupported,
    OutboundRefused,
    RateLimited,
    RefundNotAllowed,
    StoreBusy,
    Unauthorized,
    VaultError,
)

PROBLEM_BASE = "https://payhub.dev/problems/"
MEDIA_TYPE = "application/problem+json"


STATUS: Final[Mapping[type, int]] = MappingProxyType(
    {
        HubError: 500,
        # refused by the rules
        DomainError: 422,
        NotFound: 404,
        Conflict: 409,
        InvalidRequest: 422,
        OutboundRefused: 422,
        GatewayNotAvailable: 422,
        ModeMismatch: 422,
        NoGatewayAvailable: 503,
        RefundNotAllowed: 422,
        Unauthorized: 401,
        Forbidden: 403,
        RateLimited: 429,
        # a gateway call for a use case
        GatewayCallFailed: 502,
        GatewayCallRefused: 502,
        GatewayCallLost: 504,
        # raw adapter errors (the use cases translate them; these are the fallbacks)
        GatewayError: 502,
        InvalidSignature: 400,
        MalformedNotification: 400,
        NotSupported: 422,
        InvalidPaymentRequest: 422,
        GatewayMisconfigured: 502,
        GatewayRejected: 502,
        GatewayUnavailable: 503,
        VaultError: 500,
        StoreBusy: 503,
    }
)


PROBLEM_REF: Final = "#/components/schemas/Problem"  # api.schemas.common.Problem

_DESCRIPTIONS: Final[Mapping[int, str]] = MappingProxyType(
    {
        400: "The body is not JSON, or a callback is malformed",
        401: "No or invalid credentials",
        403: "The credentials may not do this (a customer token on another's order)",
        404: "No such resource for this merchant",
        409: "The request conflicts with the resource's state (retry_safe says if a retry may "
        "succeed)",
        413: "The body is too large",
        422: "The request is invalid (`errors` lists each refused member) or the rules refuse it",
        429: "Rate limited: retry after `Retry-After` seconds",
        502: "The gateway refused or failed",
        503: "The gateway or payhub's store is busy; retry_safe says if a retry may succeed",
        504: "The gateway's answer was lost: the outcome is unknown until payhub queries it",
    }
)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries saying these statuses answer with a problem document."""
    return {
        status: {
            "description": _DESCRIPTIONS.get(status, f"Problem ({status})"),
            "content": {MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
        }
        for status in statuses
    }


# What any /v1 operation may answer besides its success: a body that is not JSON (400),
# refused credentials (401, 403), a body too large (413), input refused (422), too many
# requests (429), the store busy (503). Routes add their own (404, 409, 502, 504, ...).
V1_PROBLEMS: Final = (400, 401, 403, 413, 422, 429, 503)
# A route on one resource by id.
BY_ID: Final = (404,)
# A route that calls a gateway.
GATEWAY_CALL: Final = (502, 504)


_METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of this path takes: Starlette's own 405 names only the
    first route that matched the path, and /v1/orders has one route per method."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


def status_for(exc: HubError) -> int:
    """The HTTP status of `exc`: the table's entry for the most specific class in its MRO."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    raise AssertionError("HubError is in the table")  # pragma: no cover


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": PROBLEM_BASE + code, "title": title, "status": status, "detail": detail}
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def rate_limited(exc: RateLimited) -> JSONResponse:
    """The 429 answer: problem+json, with `Retry-After` in whole seconds (also in the body)."""
    response = problem(
        status_for(exc),
        exc.code,
        "Rate limited",
        exc.detail,
        retry_safe=exc.retry_safe,
        retry_after=exc.retry_after,
    )
    response.headers["retry-after"] = str(exc.retry_after)
    return response


_HTTP_CODES: Final[Mapping[int, str]] = MappingProxyType(
    {
        400: "bad-request",
        401: "unauthorized",
        404: "not-found",
        405: "method-not-allowed",
        408: "request-timeout",
        413: "request-too-large",
    }
)


def problem_for_http_error(exc: StarletteHTTPException) -> JSONResponse:
    """The problem answer of a plain HTTP error (routing, request limits), its headers kept."""
    code = _HTTP_CODES.get(exc.status_code, "http-error")
    response = problem(exc.status_code, code, str(exc.detail), str(exc.detail))
    response.headers.update(exc.headers or {})
    return response


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RateLimited)
    async def _rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        return rate_limited(exc)

    @app.exception_handler(NoGatewayAvailable)
    async def _no_gateway(_: Request, exc: NoGatewayAvailable) -> JSONResponse:
        response = problem(
            status_for(exc),
            exc.code,
            "No gateway available",
            exc.detail,
            retry_safe=exc.retry_safe,
            retry_after=exc.retry_after,
            **exc.extra,
        )
        response.headers["retry-after"] = str(exc.retry_after)
        return response

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        title = exc.code.replace("-", " ").capitalize()
        return problem(
            status_for(exc), exc.code, title, exc.detail, retry_safe=exc.retry_safe, **exc.extra
        )

    @app.exception_handler(GatewayCallFailed)
    async def _gateway(_: Request, exc: GatewayCallFailed) -> JSONResponse:
        return problem(
            status_for(exc),
            exc.code,
            "Gateway call failed",
            exc.message,
            retry_safe=exc.retry_safe,
            gateway_code=exc.gateway_code,
        )

    @app.exception_handler(VaultError)
    async def _vault(_: Request, exc: VaultError) -> JSONResponse:
        return problem(
            status_for(exc), exc.code, "Credential vault error", str(exc), retry_safe=False
        )

    @app.exception_handler(HubError)
    async def _hub(_: Request, exc: HubError) -> JSONResponse:
        # Any other error of the tree (an adapter error no use case translated): the public
        # message only, never the internal text, which may quote the gateway.
        return problem(
            status_for(exc),
            exc.code,
            exc.code.replace("-", " ").capitalize(),
            exc.public_message,
            retry_safe=exc.retry_safe,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", "")}
            for e in exc.errors()
        ]
        return problem(
            422,
            "validation-error",
            "Invalid request",
            "the request body or parameters are invalid",
            errors=errors,
            retry_safe=False,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        answer = problem_for_http_error(exc)
        if exc.status_code == 405:  # RFC 9110: a 405 lists the methods the resource takes
            answer.headers["Allow"] = ", ".join(allowed_methods(request))
        return answer

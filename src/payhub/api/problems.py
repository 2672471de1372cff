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
    NotFound,
    NotSupported,
    OutboundRefused,
    RateLimited,
    RefundNotAllowed,
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
    }
)


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


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RateLimited)
    async def _rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        return rate_limited(exc)

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
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not-found", 405: "method-not-allowed", 401: "unauthorized"}.get(
            exc.status_code, "http-error"
        )
        return problem(exc.status_code, code, str(exc.detail), str(exc.detail))

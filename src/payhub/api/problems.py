"""RFC 9457 problem+json answers with a stable `type` per error code."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from payhub.domain.errors import DomainError
from payhub.services.checkout import GatewayCallFailed
from payhub.services.vault import VaultError

PROBLEM_BASE = "https://payhub.dev/problems/"
MEDIA_TYPE = "application/problem+json"


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": PROBLEM_BASE + code, "title": title, "status": status, "detail": detail}
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        title = exc.code.replace("-", " ").capitalize()
        return problem(
            exc.status, exc.code, title, exc.detail, retry_safe=exc.retry_safe, **exc.extra
        )

    @app.exception_handler(GatewayCallFailed)
    async def _gateway(_: Request, exc: GatewayCallFailed) -> JSONResponse:
        status = 504 if exc.outcome_unknown else 502
        return problem(
            status,
            "gateway-outcome-unknown" if exc.outcome_unknown else "gateway-refused",
            "Gateway call failed",
            exc.message,
            retry_safe=exc.retry_safe,
            gateway_code=exc.code,
        )

    @app.exception_handler(VaultError)
    async def _vault(_: Request, exc: VaultError) -> JSONResponse:
        return problem(500, "vault-error", "Credential vault error", str(exc), retry_safe=False)

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

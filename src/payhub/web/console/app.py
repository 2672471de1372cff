"""The console's ASGI app, mounted at `/console` by `payhub.asgi`, and its error pages.

A page is a router module in this package (see docs/console.md, "How to add a page"),
listed in `ROUTERS`. Errors become HTML pages, never JSON and never a 5xx for bad input:
no session → a redirect to the login form; a refused CSRF token or role → 403; a form
that does not parse → 400 naming its fields; a refusal by the services → the status the
API would answer (`api.problems.status_for`) with the error's message.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from payhub.api.problems import status_for
from payhub.api.rate_limits import RateLimits
from payhub.domain.errors import DomainError
from payhub.errors import HubError
from payhub.services.context import Hub
from payhub.web.console import (
    audit,
    auth,
    catalog,
    customers,
    dashboard,
    developers,
    gateways,
    orders,
    review,
    settings,
)
from payhub.web.console.auth import (
    ActionForbidden,
    CsrfRefused,
    LoginLimits,
    LoginRequired,
    login_redirect,
)
from payhub.web.console.i18n import pick_locale, translator
from payhub.web.console.rendering import Console

CSRF_REFUSED = (
    "The form has expired or did not come from this console. Reload the page and try again."
)
ROUTERS = (auth.router, dashboard.router, orders.router, review.router)
ROUTERS += tuple(m.router for m in (gateways, developers, catalog, customers, audit, settings))


def _error_page(
    request: Request, status: int, title: str, message: str, **extra: object
) -> Response:
    hub = auth.hub_of(request)
    locale = pick_locale(
        request.cookies.get(auth.LANG_COOKIE), request.headers.get("accept-language")
    )
    _ = translator(locale)
    console = Console(request=request, hub=hub, locale=locale, session=None)
    return console.render("error.html", status=status, title=_(title), message=_(message), **extra)


def install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, _exc: LoginRequired) -> Response:
        return login_redirect(request)

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, _exc: CsrfRefused) -> Response:
        return _error_page(
            request,
            403,
            "Not allowed",
            CSRF_REFUSED,
        )

    @app.exception_handler(ActionForbidden)
    async def _forbidden(request: Request, _exc: ActionForbidden) -> Response:
        return _error_page(request, 403, "Not allowed", "Your role may not do this.")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        fields = sorted(
            {
                ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
                or "?"
                for error in exc.errors()
            }
        )
        return _error_page(
            request, 400, "Request refused", "Some fields are missing or wrong:", fields=fields
        )

    @app.exception_handler(HubError)
    async def _refused(request: Request, exc: HubError) -> Response:
        status = status_for(exc)
        message = str(exc) if isinstance(exc, DomainError) else exc.public_message
        title = "Not found" if status == 404 else "Request refused"
        if status >= 500:
            title = "Something went wrong"
        return _error_page(request, status, title, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _error_page(request, 404, "Not found", "This page does not exist.")
        return _error_page(request, exc.status_code, "Request refused", str(exc.detail))


def create_console_app(hub: Hub, rate_limits: RateLimits) -> FastAPI:
    """The console for `hub`; `rate_limits` gives it the hub's client-IP rules."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.hub = hub
    app.state.rate_limits = rate_limits
    app.state.login_limits = LoginLimits(hub.settings)
    install_error_pages(app)
    for router in ROUTERS:
        app.include_router(router)
    return app

"""Console sessions, login, logout, CSRF and the role check of every POST.

- The session cookie (`payhub_console`) holds a random token; `services.console_users`
  keeps its sha256 and says whether it is still alive (idle and absolute expiry). The
  cookie is HttpOnly, SameSite=Lax, limited to `/console`, and Secure when the public URL
  is https.
- Every state-changing form carries the session's CSRF token in a hidden `csrf_token`
  field; `allowed(action)` compares it in constant time and then checks the role table
  (`roles`). Either refusal is a 403 page, whatever the page showed. The login form, which
  has no session yet, carries a double-submit token (cookie and field must match).
- Login attempts are limited per client IP (every attempt) and per e-mail address (failed
  attempts), in `limits` notation from the settings, like `api.rate_limits`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated, Any
from urllib.parse import quote

from anyio import to_thread
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from payhub.api.rate_limits import RateLimits
from payhub.domain.errors import Unauthorized
from payhub.services import console_users
from payhub.services.console_users import ConsoleSessionView
from payhub.services.context import Hub
from payhub.settings import Settings
from payhub.store import reads
from payhub.web.console.i18n import pick_locale, translator
from payhub.web.console.inputs import identifier
from payhub.web.console.rendering import PREFIX, Console, cookie_secure
from payhub.web.console.roles import Action

SESSION_COOKIE = "payhub_console"
LANG_COOKIE = "payhub_console_lang"
LOGIN_CSRF_COOKIE = "payhub_console_login"

router = APIRouter()


class LoginRequired(Exception):
    """No live session: the page answers with a redirect to the login form."""


class CsrfRefused(Exception):
    """A state-changing form without this session's CSRF token."""


class ActionForbidden(Exception):
    """The user's role may not take the action."""


class LoginLimits:
    """Budgets of login attempts: per client IP (every attempt spends one) and per e-mail
    address (failed attempts spend one). In this process's memory, like `api.rate_limits`."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits_enabled
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._per_ip = parse_many(settings.rate_limit_console_login_per_ip)
        self._per_account = parse_many(settings.rate_limit_console_login_per_account)

    @staticmethod
    def _account(email: str) -> str:
        return hashlib.sha256(email.strip().lower().encode("utf-8", "replace")).hexdigest()[:32]

    def admit(self, ip: str | None, email: str) -> bool:
        """Whether this attempt may be tried: spends one of the IP's budget; refuses an
        account whose failure budget is spent (without spending more)."""
        if not self.enabled:
            return True
        account = self._account(email)
        if not all(
            self._limiter.test(i, "console-login-account", account) for i in self._per_account
        ):
            return False
        if not all(self._limiter.test(i, "console-login-ip", ip or "-") for i in self._per_ip):
            return False
        for item in self._per_ip:
            self._limiter.hit(item, "console-login-ip", ip or "-")
        return True

    def note_failure(self, email: str) -> None:
        if self.enabled:
            for item in self._per_account:
                self._limiter.hit(item, "console-login-account", self._account(email))


def hub_of(request: Request) -> Hub:
    hub = request.app.state.hub
    assert isinstance(hub, Hub)
    return hub


def client_ip(request: Request) -> str | None:
    limits = request.app.state.rate_limits
    assert isinstance(limits, RateLimits)
    return limits.client_ip(request.scope)


def login_limits(request: Request) -> LoginLimits:
    limits = request.app.state.login_limits
    assert isinstance(limits, LoginLimits)
    return limits


def _locale(request: Request) -> str:
    return pick_locale(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


async def _session(request: Request, hub: Hub) -> ConsoleSessionView | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return None
    return await to_thread.run_sync(console_users.session_for_token, hub, token)


async def current_console(request: Request) -> Console:
    """The logged-in user's request, or `LoginRequired`."""
    hub = hub_of(request)
    session = await _session(request, hub)
    if session is None:
        raise LoginRequired()
    console = Console(
        request=request,
        hub=hub,
        locale=_locale(request),
        session=session,
        client_ip=client_ip(request),
    )
    if session.is_hub_admin:
        console.merchants = [
            {"id": m.id, "name": m.name} for m in await reads.merchant_choices(hub.db)
        ]
    return console


ConsoleDep = Annotated[Console, Depends(current_console)]


def csrf_matches(expected: str, given: str) -> bool:
    return bool(expected) and hmac.compare_digest(
        expected.encode("utf-8", "replace"), given.encode("utf-8", "replace")
    )


def allowed(action: Action) -> Any:
    """The dependency of a POST route taking `action`: the CSRF token must be the
    session's, and the role must allow the action."""

    async def check(console: ConsoleDep, csrf_token: Annotated[str, Form()] = "") -> Console:
        assert console.session is not None
        if not csrf_matches(console.session.csrf_token, csrf_token):
            raise CsrfRefused()
        if not console.can(action):
            raise ActionForbidden()
        return console

    return Depends(check)


async def csrf_checked(console: ConsoleDep, csrf_token: Annotated[str, Form()] = "") -> Console:
    """A POST every role may make (logout, switching language or merchant): CSRF only."""
    assert console.session is not None
    if not csrf_matches(console.session.csrf_token, csrf_token):
        raise CsrfRefused()
    return console


def safe_next(value: str | None) -> str:
    """Where to go after login: a path inside the console, never another site."""
    unsafe = ("//", "\\", "://", "\n", "\r")
    if value and value.startswith(PREFIX) and not any(u in value for u in unsafe):
        return value
    return PREFIX + "/"


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PREFIX}/login?next={quote(target)}", status_code=303)


# -- the routes ----------------------------------------------------------------------------


def _login_page(
    request: Request, *, error: str | None = None, status: int = 200, next_path: str = ""
) -> Response:
    hub = hub_of(request)
    token = secrets.token_urlsafe(24)
    console = Console(request=request, hub=hub, locale=_locale(request), session=None)
    response = console.render(
        "login.html", status=status, error=error, login_csrf=token, next_path=next_path
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(hub),
        max_age=3600,
    )
    return response


@router.get("/login")
async def login_form(request: Request, next: str = "") -> Response:
    return _login_page(request, next_path=safe_next(next))


@router.post("/login")
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    hub = hub_of(request)
    _ = translator(_locale(request))
    target = safe_next(next)
    if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token):
        raise CsrfRefused()
    ip = client_ip(request)
    limits = login_limits(request)
    if not limits.admit(ip, email):
        return _login_page(
            request,
            error=_("Too many login attempts. Try again in a few minutes."),
            status=429,
            next_path=target,
        )
    try:
        identity = await to_thread.run_sync(
            lambda: console_users.verify_login(hub, email, password, source_ip=ip)
        )
    except Unauthorized:
        limits.note_failure(email)
        return _login_page(
            request, error=_("E-mail or password is wrong."), status=401, next_path=target
        )
    token, _session_view = await to_thread.run_sync(
        lambda: console_users.start_session(hub, identity, source_ip=ip)
    )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(hub),
        max_age=hub.settings.console_session_hours * 3600,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(console: Annotated[Console, Depends(csrf_checked)]) -> Response:
    assert console.session is not None
    session = console.session
    await to_thread.run_sync(
        lambda: console_users.end_session(console.hub, session, source_ip=console.client_ip)
    )
    response = console.redirect("/login", flash=translator(console.locale)("You have logged out."))
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.get("/lang/{code}")
async def switch_language(request: Request, code: str, next: str = "") -> Response:
    """Only a display preference (a cookie), so a plain link may set it."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in ("vi", "en"):
        response.set_cookie(
            LANG_COOKIE,
            code,
            path=PREFIX,
            httponly=True,
            samesite="lax",
            secure=cookie_secure(hub_of(request)),
            max_age=365 * 86400,
        )
    return response


@router.post("/switch-merchant")
async def switch_merchant(
    console: Annotated[Console, Depends(csrf_checked)],
    merchant_id: Annotated[str, Form(min_length=1, max_length=40)],
    next: Annotated[str, Form()] = "",
) -> Response:
    assert console.session is not None
    session = console.session
    identifier(merchant_id, "merchant")
    await to_thread.run_sync(
        lambda: console_users.switch_merchant(
            console.hub, session, merchant_id, source_ip=console.client_ip
        )
    )
    response = RedirectResponse(safe_next(next), status_code=303)
    return response

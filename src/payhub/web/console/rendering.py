"""The console's templates and the context every page gets.

`Console` (built per request by `auth`) is what a route holds: the session, the locale,
the hub. `console.render("orders.html", status=200, orders=...)` renders a page with the
layout's context (navigation, merchant switcher, language, flash messages, CSRF token,
`can(action)`, `money(...)`, `when(...)`).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from payhub.services.console_users import ConsoleSessionView
from payhub.services.context import Hub
from payhub.web.console.formatting import format_duration, format_money, format_time
from payhub.web.console.i18n import translator
from payhub.web.console.roles import Action, can

PREFIX = "/console"
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
FLASH_COOKIE = "payhub_console_flash"

# The navigation of every page: (path under /console, label). Pages console-pages adds
# are linked already.
NAVIGATION = (
    ("/", "Dashboard"),
    ("/orders", "Orders"),
    ("/review", "Review queue"),
    ("/gateways", "Gateways"),
    ("/developers", "Developers"),
    ("/products", "Products"),
    ("/customers", "Customers"),
    ("/audit", "Audit log"),
    ("/settings", "Settings"),
)


def cookie_secure(hub: Hub) -> bool:
    return hub.settings.public_url.startswith("https://")


def read_flash(request: Request) -> list[dict[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        value = json.loads(base64.urlsafe_b64decode(raw.encode("ascii")))
    except ValueError:
        return []
    if not isinstance(value, list):
        return []
    return [
        {"kind": str(m.get("kind", "info"))[:10], "text": str(m.get("text", ""))[:500]}
        for m in value[:5]
        if isinstance(m, dict)
    ]


def set_flash(response: Response, hub: Hub, text: str, kind: str = "ok") -> None:
    """A message for the next page (the one a POST redirects to). Shown escaped, like
    everything else: a forged cookie can only show its own sender some text."""
    value = base64.urlsafe_b64encode(json.dumps([{"kind": kind, "text": text}]).encode())
    response.set_cookie(
        FLASH_COOKIE,
        value.decode("ascii"),
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(hub),
        max_age=60,
    )


@dataclass
class Console:
    """One request of a logged-in user (or, with `session=None`, of the login page)."""

    request: Request
    hub: Hub
    locale: str
    session: ConsoleSessionView | None
    client_ip: str | None = None
    merchants: list[dict[str, str]] = field(default_factory=list)

    @property
    def actor(self) -> str:
        assert self.session is not None
        return self.session.actor

    @property
    def merchant_id(self) -> str:
        """The merchant this page works on; a hub admin with no merchant gets a 404 page."""
        from payhub.domain.errors import NotFound

        if self.session is None or self.session.merchant_id is None:
            raise NotFound("no merchant to show yet: create one with `payhub merchant create`")
        return self.session.merchant_id

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.hub.settings.console_timezone)

    def can(self, action: Action | str) -> bool:
        return self.session is not None and can(self.session.role, action)

    def money(self, amount_minor: int | None, currency: str) -> str:
        return "—" if amount_minor is None else format_money(amount_minor, currency, self.locale)

    def render(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        base = {
            "console": self,
            "session": self.session,
            "_": translator(self.locale),
            "locale": self.locale,
            "navigation": NAVIGATION,
            "prefix": PREFIX,
            "current_path": self.request.url.path,
            "csrf_token": self.session.csrf_token if self.session else "",
            "can": self.can,
            "money": self.money,
            "duration": format_duration,
            "when": lambda at: format_time(at, self.locale, self.zone),
            "flashes": read_flash(self.request),
            "merchants": self.merchants,
        }
        base.update(context)
        response = templates.TemplateResponse(self.request, template, base, status_code=status)
        if base["flashes"]:
            response.delete_cookie(FLASH_COOKIE, path=PREFIX)
        return response

    def redirect(self, path: str, *, flash: str | None = None, kind: str = "ok") -> Response:
        """303 to `path` under /console (after a POST), with a message for the next page."""
        response = RedirectResponse(PREFIX + path, status_code=303)
        if flash:
            set_flash(response, self.hub, flash, kind)
        return response

"""A real SMTP server for tests: payhub's mail catcher (aiosmtpd on loopback), on a port of
its own, optionally requiring a login, that can be started late (the server "down for a
while"). Messages are parsed with the standard `email` package."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.smtp import AuthResult, LoginPassword

from payhub.mailcatcher import CaughtMail, MailCatcher
from tests.support.servers import free_port

__all__ = ["CaughtMail", "MailCatcher", "smtp_server"]


def _authenticator(user: str, password: str) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == user
            and data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False)

    return check


def new_catcher(
    port: int | None = None, *, user: str | None = None, password: str | None = None
) -> MailCatcher:
    """A catcher on a free loopback port (not started)."""
    options: dict[str, Any] = {}
    if user is not None and password is not None:
        options = {"authenticator": _authenticator(user, password), "auth_require_tls": False}
    return MailCatcher("127.0.0.1", port or free_port(), **options)


@contextmanager
def smtp_server(**options: Any) -> Iterator[MailCatcher]:
    catcher = new_catcher(**options).start()
    try:
        yield catcher
    finally:
        catcher.stop()

"""Console users and sessions: who may log in to the operator console, and as whom.

Passwords are hashed with argon2id (argon2-cffi's `PasswordHasher`, its default cost);
a hash made with older parameters is replaced at the next successful login. Sessions are
server-side: the browser's cookie holds a random token, the database only its sha256, so
a copy of the database opens no session. A session ends at its absolute expiry
(`console_session_hours` after login), after `console_idle_minutes` without a request,
when its user is disabled, or at logout (the row is deleted).

Users belong to one merchant, or (merchant NULL) are hub admins, who work on one merchant
at a time and switch between them (`switch_merchant`). Logins, failed logins (with the
e-mail tried, never the password), logouts and switches are audited.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from payhub.clock import as_utc
from payhub.domain.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unauthorized
from payhub.services.context import Hub
from payhub.store import console_users, merchants
from payhub.store.ids import new_id
from payhub.store.journal import add_audit

__all__ = [
    "ROLES",
    "ConsoleIdentity",
    "ConsoleSessionView",
    "create_user",
    "end_session",
    "hash_session_token",
    "session_for_token",
    "start_session",
    "switch_merchant",
    "verify_login",
]

ROLES = ("owner", "operator", "viewer")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; a megabyte "password" is an attack
_EMAIL_CHAR = r"[^@\s\x00-\x1f]"
EMAIL = re.compile(rf"{_EMAIL_CHAR}{{1,200}}@{_EMAIL_CHAR}{{1,100}}\.{_EMAIL_CHAR}{{1,50}}")
# last_seen_at is written at most this often: a page view is not a database write.
TOUCH_INTERVAL = timedelta(seconds=60)

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so that an unknown address costs the same
# time as a wrong password and the timing does not tell which addresses have accounts.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class ConsoleIdentity:
    """A user whose password was just verified."""

    user_id: str
    email: str
    name: str
    role: str
    merchant_id: str | None  # None: a hub admin


@dataclass(frozen=True, slots=True)
class ConsoleSessionView:
    """A live session as the console sees it on each request."""

    session_id: str
    user_id: str
    email: str
    name: str
    role: str
    home_merchant_id: str | None  # the user's own merchant; None for hub admins
    merchant_id: str | None  # the merchant the session works on now
    csrf_token: str
    expires_at: datetime

    @property
    def is_hub_admin(self) -> bool:
        return self.home_merchant_id is None

    @property
    def actor(self) -> str:
        """The actor the services record in the audit log for this user's actions."""
        return f"console:{self.user_id}"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_session_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def create_user(
    hub: Hub,
    *,
    email: str,
    password: str,
    role: str,
    merchant_id: str | None,
    name: str = "",
    actor: str,
) -> str:
    """Create a console user; `merchant_id=None` makes a hub admin. Returns the user id."""
    email = normalise_email(email)
    if not EMAIL.fullmatch(email):
        raise InvalidRequest("email is not an e-mail address")
    if role not in ROLES:
        raise InvalidRequest(f"role is one of {', '.join(ROLES)}")
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"the password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
    if len(name) > 200:
        raise InvalidRequest("name is at most 200 characters")
    password_hash = _hasher.hash(password)  # before the transaction: it takes a while
    now = hub.clock.now()
    with hub.db.write() as tx:
        if merchant_id is not None and not merchants.merchant_exists(tx, merchant_id):
            raise NotFound(f"no merchant {merchant_id}")
        if console_users.user_by_email(tx, email) is not None:
            raise Conflict(f"a console user {email} exists")
        user_id = new_id("usr")
        console_users.add_user(
            tx,
            user_id=user_id,
            email=email,
            name=name.strip(),
            password_hash=password_hash,
            role=role,
            merchant_id=merchant_id,
            now=now,
        )
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="console_user.created",
            subject=user_id,
            after={"email": email, "role": role, "hub_admin": merchant_id is None},
            now=now,
        )
    return user_id


def verify_login(
    hub: Hub, email: str, password: str, *, source_ip: str | None = None
) -> ConsoleIdentity:
    """The user whose e-mail and password these are, or `Unauthorized` (the same for an
    unknown e-mail, a wrong password and a disabled user). Audited either way."""
    # A NUL can be no one's address, and PostgreSQL refuses it in a query or a JSON value.
    email = normalise_email(email)[:320].replace("\x00", "")
    with hub.db.session() as session:
        row = console_users.user_by_email(session, email)
        stored = None if row is None else row.password_hash
        identity = (
            None
            if row is None
            else ConsoleIdentity(row.id, row.email, row.name, row.role, row.merchant_id)
        )
        disabled = row is not None and row.disabled_at is not None
    ok = False
    if len(password) <= MAX_PASSWORD_LENGTH:
        try:
            ok = _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
        except (VerificationError, InvalidHashError):
            ok = False
    now = hub.clock.now()
    with hub.db.write() as tx:
        if not ok or disabled or identity is None:
            add_audit(
                tx,
                merchant_id=None if identity is None else identity.merchant_id,
                actor=f"console:{email}" if identity is None else f"console:{identity.user_id}",
                action="console.login_failed",
                subject=identity.user_id if identity else "console_user:unknown",
                source_ip=source_ip,
                after={"email": email, "reason": "disabled" if disabled else "bad credentials"},
                now=now,
            )
        else:
            user = console_users.user_by_id(tx, identity.user_id)
            assert user is not None
            user.last_login_at = now
            if stored is not None and _hasher.check_needs_rehash(stored):
                user.password_hash = _hasher.hash(password)
            add_audit(
                tx,
                merchant_id=identity.merchant_id,
                actor=f"console:{identity.user_id}",
                action="console.login",
                subject=identity.user_id,
                source_ip=source_ip,
                now=now,
            )
    if not ok or disabled or identity is None:
        raise Unauthorized("e-mail or password is wrong")
    return identity


def start_session(
    hub: Hub,
    identity: ConsoleIdentity,
    *,
    source_ip: str | None = None,
    merchant_id: str | None = None,
) -> tuple[str, ConsoleSessionView]:
    """A new session for a verified user: (the token for the cookie, the session). A hub
    admin starts on `merchant_id` if given, else on the first merchant there is."""
    token = secrets.token_urlsafe(32)
    session_id = hash_session_token(token)
    csrf = secrets.token_urlsafe(32)
    now = hub.clock.now()
    expires_at = now + timedelta(hours=hub.settings.console_session_hours)
    with hub.db.write() as tx:
        current = identity.merchant_id
        if current is None:
            current = merchant_id or merchants.first_merchant_id(tx)
        console_users.delete_expired_sessions(tx, now)
        console_users.add_session(
            tx,
            session_id=session_id,
            user_id=identity.user_id,
            merchant_id=current,
            csrf_token=csrf,
            source_ip=source_ip,
            now=now,
            expires_at=expires_at,
        )
    view = ConsoleSessionView(
        session_id=session_id,
        user_id=identity.user_id,
        email=identity.email,
        name=identity.name,
        role=identity.role,
        home_merchant_id=identity.merchant_id,
        merchant_id=current,
        csrf_token=csrf,
        expires_at=expires_at,
    )
    return token, view


def session_for_token(hub: Hub, token: str) -> ConsoleSessionView | None:
    """The live session this cookie token opens, or None (unknown, expired, idle too long,
    or its user disabled: then the row is deleted)."""
    if not token or len(token) > 200:
        return None
    session_id = hash_session_token(token)
    now = hub.clock.now()
    idle = timedelta(minutes=hub.settings.console_idle_minutes)
    with hub.db.session() as session:
        row = console_users.session_by_id(session, session_id)
        if row is None:
            return None
        user = console_users.user_by_id(session, row.user_id)
        alive = (
            user is not None
            and user.disabled_at is None
            and now < as_utc(row.expires_at)
            and now < as_utc(row.last_seen_at) + idle
        )
        stale = now >= as_utc(row.last_seen_at) + TOUCH_INTERVAL
        view = (
            None
            if user is None or not alive
            else ConsoleSessionView(
                session_id=row.id,
                user_id=user.id,
                email=user.email,
                name=user.name,
                role=user.role,
                home_merchant_id=user.merchant_id,
                merchant_id=row.merchant_id,
                csrf_token=row.csrf_token,
                expires_at=as_utc(row.expires_at),
            )
        )
    if view is None:
        with hub.db.write() as tx:
            console_users.delete_session(tx, session_id)
        return None
    if stale:
        with hub.db.write() as tx:
            touched = console_users.session_by_id(tx, session_id)
            if touched is not None:
                touched.last_seen_at = now
    return view


def end_session(hub: Hub, session: ConsoleSessionView, *, source_ip: str | None = None) -> None:
    """Log out: the session row is deleted, so its cookie opens nothing any more."""
    now = hub.clock.now()
    with hub.db.write() as tx:
        console_users.delete_session(tx, session.session_id)
        add_audit(
            tx,
            merchant_id=session.home_merchant_id,
            actor=session.actor,
            action="console.logout",
            subject=session.user_id,
            source_ip=source_ip,
            now=now,
        )


def switch_merchant(
    hub: Hub, session: ConsoleSessionView, merchant_id: str, *, source_ip: str | None = None
) -> None:
    """A hub admin's session works on `merchant_id` from now on."""
    if not session.is_hub_admin:
        raise Forbidden("only hub admins switch merchants")
    now = hub.clock.now()
    with hub.db.write() as tx:
        if not merchants.merchant_exists(tx, merchant_id):
            raise NotFound(f"no merchant {merchant_id}")
        row = console_users.session_by_id(tx, session.session_id)
        if row is None:
            raise Unauthorized("the session has ended")
        before = row.merchant_id
        row.merchant_id = merchant_id
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=session.actor,
            action="console.merchant_switched",
            subject=session.user_id,
            source_ip=source_ip,
            before={"merchant_id": before},
            after={"merchant_id": merchant_id},
            now=now,
        )

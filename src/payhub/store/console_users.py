"""Console users and their server-side sessions (store operations for
`services.console_users`). Passwords are stored as argon2id hashes; a session row is keyed
by the sha256 of its token, so the database alone never lets anyone into the console."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from payhub.store.models import ConsoleSession, ConsoleUser
from payhub.store.tx import Reader, Tx, session_of

__all__ = [
    "add_session",
    "add_user",
    "delete_expired_sessions",
    "delete_session",
    "delete_sessions_of_user",
    "session_by_id",
    "user_by_email",
    "user_by_id",
]


def add_user(
    tx: Tx,
    *,
    user_id: str,
    email: str,
    name: str,
    password_hash: str,
    role: str,
    merchant_id: str | None,
    now: datetime,
) -> ConsoleUser:
    row = ConsoleUser(
        id=user_id,
        email=email,
        name=name,
        password_hash=password_hash,
        role=role,
        merchant_id=merchant_id,
        created_at=now,
    )
    tx._session.add(row)
    tx._session.flush()
    return row


def user_by_email(reader: Reader, email: str) -> ConsoleUser | None:
    return session_of(reader).scalar(select(ConsoleUser).where(ConsoleUser.email == email))


def user_by_id(reader: Reader, user_id: str) -> ConsoleUser | None:
    return session_of(reader).get(ConsoleUser, user_id)


def add_session(
    tx: Tx,
    *,
    session_id: str,
    user_id: str,
    merchant_id: str | None,
    csrf_token: str,
    source_ip: str | None,
    now: datetime,
    expires_at: datetime,
) -> None:
    tx._session.add(
        ConsoleSession(
            id=session_id,
            user_id=user_id,
            merchant_id=merchant_id,
            csrf_token=csrf_token,
            source_ip=source_ip,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
        )
    )


def session_by_id(reader: Reader, session_id: str) -> ConsoleSession | None:
    return session_of(reader).get(ConsoleSession, session_id)


def delete_session(tx: Tx, session_id: str) -> None:
    tx._session.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id))


def delete_sessions_of_user(tx: Tx, user_id: str) -> None:
    tx._session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))


def delete_expired_sessions(tx: Tx, now: datetime) -> int:
    result = tx._session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)

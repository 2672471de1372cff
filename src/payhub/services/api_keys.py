"""Merchant API keys: issue, list, revoke, rotate with an overlap, authenticate.

A key is `sk_test_…` or `sk_live_…` followed by 32 random bytes (url-safe base64); it is
shown once and stored as its sha256 (32 random bytes need no password stretching). Lists and
the audit carry its prefix, the first 16 characters. The first key of a merchant is its
owner key: owner keys may manage keys through the API, standard keys may not.

Revoking is immediate: the next request with the key is 401. Rotating issues a new key with
the same mode, role and label and gives the old one `expires_at = now + overlap` (default
24 h, at most 7 days): both work until then, after which the old one is 401.

`last_used_at` is stamped at most once a minute per key: authenticating reads the stamp,
and only a stale one costs a write (`note_key_used`).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from payhub.clock import as_utc
from payhub.domain.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from payhub.services.context import Hub
from payhub.store import api_keys, merchants
from payhub.store.ids import new_id
from payhub.store.journal import add_audit
from payhub.store.models import ApiKey
from payhub.store.reads import ApiKeyView
from payhub.store.tx import Reader, Tx

log = logging.getLogger(__name__)

MODES = ("test", "live")
ROLES = ("owner", "standard")
PREFIX_LENGTH = 16
DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=7)
# How stale `last_used_at` may get before a request stamps it again.
LAST_USED_GRANULARITY = timedelta(minutes=1)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key just issued: the only time its plaintext exists outside the caller's hands."""

    key: str
    view: ApiKeyView

    def as_dict(self) -> dict[str, Any]:
        return {**self.view.as_dict(), "key": self.key}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who an accepted key speaks for."""

    merchant_id: str
    key_id: str
    mode: str
    role: str
    last_used_at: datetime | None

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


def _new_key(
    tx: Tx, merchant_id: str, *, mode: str, role: str, label: str, now: datetime
) -> tuple[str, ApiKey]:
    key = f"sk_{mode}_{secrets.token_urlsafe(32)}"
    row = api_keys.add_api_key(
        tx,
        key_id=new_id("key"),
        merchant_id=merchant_id,
        prefix=key[:PREFIX_LENGTH],
        key_hash=hash_api_key(key),
        mode=mode,
        role=role,
        label=label,
        now=now,
    )
    return key, row


def create_api_key(
    hub: Hub,
    merchant_id: str,
    *,
    mode: str = "test",
    label: str = "",
    role: str | None = None,
    actor: str,
) -> IssuedKey:
    """Issue a key; the merchant's first key is its owner key whatever `role` says."""
    if mode not in MODES:
        raise InvalidRequest("mode is test or live")
    if role is not None and role not in ROLES:
        raise InvalidRequest("role is owner or standard")
    if len(label) > 200:
        raise InvalidRequest("label is at most 200 characters")
    now = hub.clock.now()
    with hub.db.write() as tx:
        if not merchants.merchant_exists(tx, merchant_id):
            raise NotFound(f"no merchant {merchant_id}")
        first = not api_keys.merchant_has_keys(tx, merchant_id)
        chosen = "owner" if first else (role or "standard")
        key, row = _new_key(tx, merchant_id, mode=mode, role=chosen, label=label, now=now)
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="api_key.issued",
            subject=row.id,
            after={"prefix": row.prefix, "mode": mode, "role": chosen, "label": label},
            now=now,
        )
        return IssuedKey(key=key, view=ApiKeyView.of(row))


def _key_to_change(tx: Tx, merchant_id: str | None, key_id: str) -> ApiKey:
    """The key, locked; `merchant_id=None` is the operator (CLI), who may touch any key."""
    row = api_keys.api_key_to_change(tx, key_id)
    if row is None or (merchant_id is not None and row.merchant_id != merchant_id):
        raise NotFound(f"no API key {key_id}")
    return row


def revoke_api_key(hub: Hub, merchant_id: str | None, key_id: str, *, actor: str) -> ApiKeyView:
    """Revoke at once (revoking a revoked key changes nothing)."""
    now = hub.clock.now()
    with hub.db.write() as tx:
        row = _key_to_change(tx, merchant_id, key_id)
        if row.revoked_at is None:
            row.revoked_at = now
            add_audit(
                tx,
                merchant_id=row.merchant_id,
                actor=actor,
                action="api_key.revoked",
                subject=row.id,
                after={"prefix": row.prefix, "mode": row.mode},
                now=now,
            )
        return ApiKeyView.of(row)


def parse_overlap(text: str) -> timedelta:
    """`24h`, `90m`, `7d`, `3600s` or a number of seconds."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    unit = units.get(text[-1:])
    number = text[:-1] if unit is not None else text
    if not number.isdigit():
        raise InvalidRequest("overlap is a whole number of s, m, h or d, e.g. 24h")
    return timedelta(seconds=int(number) * (unit or 1))


def rotate_api_key(
    hub: Hub,
    merchant_id: str | None,
    key_id: str,
    *,
    overlap: timedelta = DEFAULT_OVERLAP,
    actor: str,
) -> tuple[IssuedKey, ApiKeyView]:
    """A new key like the old one; the old one works until `now + overlap`, then 401.
    Returns the new key and the old key as it now is."""
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise InvalidRequest("overlap is between 0 and 7 days")
    now = hub.clock.now()
    with hub.db.write() as tx:
        old = _key_to_change(tx, merchant_id, key_id)
        if not ApiKeyView.of(old).usable_at(now):
            raise Conflict(f"API key {key_id} is revoked or expired; create a new one")
        if old.replaced_by is not None:
            raise Conflict(f"API key {key_id} was already rotated (to {old.replaced_by})")
        key, new = _new_key(
            tx, old.merchant_id, mode=old.mode, role=old.role, label=old.label, now=now
        )
        old.expires_at = now + overlap
        old.replaced_by = new.id
        add_audit(
            tx,
            merchant_id=old.merchant_id,
            actor=actor,
            action="api_key.rotated",
            subject=old.id,
            before={"prefix": old.prefix},
            after={
                "prefix": new.prefix,
                "new_key_id": new.id,
                "old_key_expires_at": old.expires_at.isoformat(),
            },
            now=now,
        )
        return IssuedKey(key=key, view=ApiKeyView.of(new)), ApiKeyView.of(old)


def authenticate_api_key(reader: Reader, key: str, now: datetime) -> Principal:
    """The principal of a usable key; 401 for an unknown, revoked or expired one."""
    row = api_keys.api_key_by_hash(reader, hash_api_key(key))
    if row is None or row.revoked_at is not None:
        raise Unauthorized("invalid API key")
    if row.expires_at is not None and as_utc(row.expires_at) <= now:
        raise Unauthorized("this API key expired (it was rotated); use its replacement")
    return Principal(
        merchant_id=row.merchant_id,
        key_id=row.id,
        mode=row.mode,
        role=row.role,
        last_used_at=None if row.last_used_at is None else as_utc(row.last_used_at),
    )


def needs_last_used_stamp(principal: Principal, now: datetime) -> bool:
    last = principal.last_used_at
    return last is None or now - last >= LAST_USED_GRANULARITY


def note_key_used(hub: Hub, principal: Principal, now: datetime) -> None:
    """Stamp `last_used_at` (call only when `needs_last_used_stamp`). Best effort: a
    stamp that cannot be written (a busy or failing database) never refuses the request
    the key made; the next request a minute on tries again."""
    try:
        with hub.db.write() as tx:
            api_keys.touch_last_used(tx, principal.key_id, now, now - LAST_USED_GRANULARITY)
    except Exception:
        log.warning("the last use of API key %s could not be stamped", principal.key_id)

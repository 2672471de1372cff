"""Idempotency-Key for merchant POSTs (IETF httpapi draft semantics).

Same key + same request → the stored response is replayed: status, body and the response's
own headers (its content type, problem+json for an error; Location). Same key + different
request → 422. Same key while the first request is still running → 409. Keys are kept 24
hours.

Only a response to a request that ran is kept. One refused before it took effect is not (as
Stripe does): invalid (400, 413, 422: validation, an unknown SKU, a rule), unauthorised or
forbidden (401, 403), not found (404), or a problem that says `retry_safe: true` (a 409 "in
flight", a 429); the key is released, so the client may fix the request and send it again
under the same key. A 5xx releases it too (nothing is known to have happened).

A stored response never holds a secret: a route names its secret response members (e.g. a
webhook endpoint's `secret`), and the copy written to the database has each of them replaced
by null beside `<member>_redacted: true`. The first response carries the secret; a replay
says it was redacted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from payhub.clock import as_utc
from payhub.domain.errors import Conflict, InvalidRequest
from payhub.services.context import Hub
from payhub.store import idempotency_keys
from payhub.store.tx import ConstraintViolation, retry_write_conflicts

KEEP_FOR = timedelta(hours=24)
MAX_KEY_LENGTH = 255


class IdempotencyInFlight(Conflict):
    """The first request with this key is still running: retrying later is safe (it is
    then replayed, or runs if the first one failed)."""

    code = "idempotency-key-in-flight"
    retry_safe = True


class IdempotencyKeyReused(InvalidRequest):
    code = "idempotency-key-reused"


# Statuses of requests refused before any effect: never kept (see the module docstring).
NOT_KEPT = frozenset({400, 401, 403, 404, 413, 422})


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


def is_kept(status: int, body: bytes) -> bool:
    """Whether a response to a request under an Idempotency-Key is stored for replays."""
    if status >= 500 or status in NOT_KEPT:
        return False
    if status >= 400:
        try:
            document = json.loads(body)
        except ValueError:
            return True
        return not (isinstance(document, dict) and document.get("retry_safe") is True)
    return True


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), b"\0", path.encode(), b"\0", body):
        digest.update(part)
    return digest.hexdigest()


@retry_write_conflicts
def begin(
    hub: Hub, merchant_id: str, key: str, method: str, path: str, body: bytes
) -> StoredResponse | None:
    """Claim `key` for this request, or return the stored response to replay."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest("Idempotency-Key must be 1..255 characters")
    fingerprint = request_fingerprint(method, path, body)
    now = hub.clock.now()
    try:
        with hub.db.write() as tx:
            row = idempotency_keys.lock_key(tx, merchant_id, key)
            if row is not None and as_utc(row.expires_at) <= now:
                idempotency_keys.drop_key(tx, row)
                row = None
            if row is None:
                idempotency_keys.claim_key(
                    tx,
                    merchant_id=merchant_id,
                    key=key,
                    method=method,
                    path=path,
                    request_hash=fingerprint,
                    now=now,
                    expires_at=now + KEEP_FOR,
                )
                return None
            if row.request_hash != fingerprint:
                raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
            if row.state != "done" or row.response_status is None:
                raise IdempotencyInFlight("a request with this Idempotency-Key is still in flight")
            headers = tuple((str(n), str(v)) for n, v in row.response_headers or ())
            return StoredResponse(row.response_status, row.response_body or b"", headers)
    except ConstraintViolation:
        raise IdempotencyInFlight(
            "a request with this Idempotency-Key is still in flight"
        ) from None


@retry_write_conflicts
def finish(
    hub: Hub,
    merchant_id: str,
    key: str,
    status: int,
    body: bytes,
    headers: Iterable[tuple[str, str]] = (),
) -> None:
    """Store the response, or release the key when it is not kept (`is_kept`: a server
    error, a request refused before any effect) so the client may send it again."""
    with hub.db.write() as tx:
        row = idempotency_keys.key_to_change(tx, merchant_id, key)
        if row is None:
            return
        if not is_kept(status, body):
            idempotency_keys.drop_key(tx, row)
            return
        row.state = "done"
        row.response_status = status
        row.response_body = body
        row.response_headers = [[name, value] for name, value in headers]


def redact_members(body: bytes, members: Iterable[str]) -> bytes:
    """The JSON object `body` with each named top-level member nulled and marked
    `<member>_redacted: true`. A body that is not a JSON object (an error's, say) carries
    no member to hide and is kept; one that cannot be read is replaced whole."""
    names = tuple(members)
    if not names or not body:
        return body
    try:
        document = json.loads(body)
    except ValueError:
        return b'{"body_redacted":true}'
    if not isinstance(document, dict):
        return body
    for name in names:
        if name in document:
            document[name] = None
            document[f"{name}_redacted"] = True
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def purge_expired(hub: Hub, now: datetime | None = None) -> int:
    now = now or hub.clock.now()
    with hub.db.write() as tx:
        return idempotency_keys.purge_expired(tx, now)

"""The customer JWKS (`PAYHUB_CUSTOMER_JWKS_URL`): fetched through the outbound policy,
kept in memory.

The key set is fetched with `payhub.outbound.OutboundClient` (so the URL is checked and
connected to at the checked address, like every URL the hub fetches), at most
`MAX_JWKS_BYTES`, and kept for `CACHE_SECONDS`. A token naming a key id the cached set
lacks (the issuer rotated its keys) refetches, at most once per `REFETCH_SECONDS`. When a
refetch fails, the keys already held go on being used until a fetch succeeds.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import httpx
import jwt

from payhub.errors import OutboundRefused
from payhub.outbound import OutboundClient, OutboundPolicy
from payhub.services.context import Hub

__all__ = ["CACHE_SECONDS", "MAX_JWKS_BYTES", "REFETCH_SECONDS", "forget", "signing_key"]

log = logging.getLogger(__name__)

CACHE_SECONDS = 300.0
REFETCH_SECONDS = 30.0
MAX_JWKS_BYTES = 64 * 1024
TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class _Held:
    keys: jwt.PyJWKSet | None  # None: the last fetch failed and nothing was held before
    fetched_at: float


_held: dict[str, _Held] = {}


def forget() -> None:
    """Drop every cached key set (tests; a key compromise)."""
    _held.clear()


async def _fetch(hub: Hub, url: str) -> jwt.PyJWKSet:
    policy = OutboundPolicy.from_settings(hub.settings)
    async with OutboundClient(policy, timeout=TIMEOUT_SECONDS, deadline=2 * TIMEOUT_SECONDS) as c:
        reply = await c.request(
            "GET", url, headers={"accept": "application/json"}, max_body=MAX_JWKS_BYTES + 1
        )
    if reply.status != 200:
        raise ValueError(f"the JWKS URL answered {reply.status}")
    if len(reply.body) > MAX_JWKS_BYTES:
        raise ValueError(f"the JWKS is larger than {MAX_JWKS_BYTES} bytes")
    return jwt.PyJWKSet.from_dict(json.loads(reply.body))


async def _key_set(hub: Hub, url: str, kid: str | None) -> jwt.PyJWKSet | None:
    now = hub.monotonic()
    held = _held.get(url)
    if held is not None and held.keys is not None:
        fresh = now - held.fetched_at < CACHE_SECONDS
        known = kid is None or any(k.key_id == kid for k in held.keys.keys)
        if fresh and (known or now - held.fetched_at < REFETCH_SECONDS):
            return held.keys
    elif held is not None and now - held.fetched_at < REFETCH_SECONDS:
        return None  # it failed a moment ago: do not hammer it
    # No lock: requests arriving together during a refetch may fetch together, once.
    try:
        keys: jwt.PyJWKSet | None = await _fetch(hub, url)
    except OutboundRefused as exc:
        log.error("the customer JWKS URL is refused by the outbound policy: %s", exc.rule)
        keys = None
    except (httpx.HTTPError, TimeoutError, ValueError, jwt.PyJWTError) as exc:
        log.warning("fetching the customer JWKS failed: %s", type(exc).__name__)
        keys = None
    if keys is None and held is not None and held.keys is not None:
        # Keep the keys already held; try again in REFETCH_SECONDS.
        _held[url] = _Held(held.keys, now - CACHE_SECONDS + REFETCH_SECONDS)
        return held.keys
    _held[url] = _Held(keys, now)
    return keys


async def signing_key(hub: Hub, url: str, token: str) -> jwt.PyJWK:
    """The key of the JWKS at `url` that `token` names (its `kid`, or the only key when
    it names none). Raises `jwt.PyJWTError` when there is none."""
    kid = jwt.get_unverified_header(token).get("kid")
    keys = await _key_set(hub, url, kid if isinstance(kid, str) else None)
    if keys is None:
        raise jwt.PyJWKClientError("the customer JWKS cannot be fetched")
    if kid is None:
        if len(keys.keys) == 1:
            return keys.keys[0]
        raise jwt.PyJWKClientError("the token names no key and the JWKS has several")
    for key in keys.keys:
        if key.key_id == kid:
            return key
    raise jwt.PyJWKClientError("the token names a key the JWKS does not have")

"""Rate limits: budgets per API key and per client IP, answered 429 with `Retry-After`.

Every budget is a sliding window of the `limits` library (alisaifee/limits: the counts of
the current and the previous window, the previous one weighted by how much of it is still
inside the last period), configured in its notation ("600/minute", several joined by ";"),
see `payhub.settings`. (Not its moving window: in memory that keeps an empty list for every
key it ever saw, and scans them all every 10 ms.) The budgets:

- per bearer credential, every request to `/v1` (`rate_limit_per_api_key`), and a tighter
  one for its writes, POST/PUT/PATCH/DELETE (`rate_limit_writes_per_api_key`);
- per client IP, the public routes: hosted checkout and status `/pay/…`, browser returns
  `/return/…` (`rate_limit_public_per_ip`);
- per client IP, failed authentication (`rate_limit_auth_failures_per_ip`): each 401 or 403
  answered on those routes (a bad API key, a forged or expired customer token, a wrong
  checkout-link token) spends one unit; once it is spent, that IP is refused there until
  the window moves on. A caller that authenticates never spends it.
- per client IP, gateway callbacks that verify nothing: an unknown account, a bad signature
  or a malformed body (`rate_limit_unverified_callbacks_per_ip`). `services.inbound` asks
  `admit_unverified_callback` before it records one; past the budget nothing is recorded.
  A verified callback for a known account is never limited: a gateway's retry storm must
  always get through.
- per attempt, gateway queries caused by browser returns: at most one per
  `return_query_interval_seconds` (`allow_return_query`; a fixed window, which in memory
  starts at the attempt's first query); a return within the interval shows the stored
  state.

The counters live in this process's memory (`limits.storage.MemoryStorage`): N hub
processes behind a load balancer allow N times each budget. To share them, build the
storage from a URI instead (`limits.storage.storage_from_string("redis://…")`); nothing else
changes.

The client IP is the socket peer, unless the peer is one of `trusted_proxies`: then it is
the nearest address in `X-Forwarded-For` that is not a trusted proxy itself.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from limits import RateLimitItem, RateLimitItemPerSecond, parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter, SlidingWindowCounterRateLimiter
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payhub.api.problems import rate_limited
from payhub.errors import RateLimited
from payhub.settings import Settings

__all__ = ["RateLimitGate", "RateLimits", "rate_limits_of"]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_AUTH_FAILURES = frozenset({401, 403})
_PUBLIC_PREFIXES = ("/pay/", "/return/")


class RateLimits:
    """This process's budgets, built from the settings. Every check is a few dict and list
    operations under a lock: cheap enough to run on the event loop."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits_enabled
        storage = MemoryStorage()
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._once_per_interval = FixedWindowRateLimiter(storage)
        self._per_key = parse_many(settings.rate_limit_per_api_key)
        self._writes_per_key = parse_many(settings.rate_limit_writes_per_api_key)
        self._public_per_ip = parse_many(settings.rate_limit_public_per_ip)
        self._failures_per_ip = parse_many(settings.rate_limit_auth_failures_per_ip)
        self._unverified_per_ip = parse_many(settings.rate_limit_unverified_callbacks_per_ip)
        interval = settings.return_query_interval_seconds
        self._return_query = RateLimitItemPerSecond(1, interval) if interval > 0 else None
        self._trusted: tuple[IPv4Network | IPv6Network, ...] = tuple(
            ip_network(part.strip(), strict=False)
            for part in settings.trusted_proxies.split(",")
            if part.strip()
        )

    # -- who is calling -------------------------------------------------------------------

    def client_ip(self, scope: Scope) -> str | None:
        """The client's address: the peer, or what trusted proxies say it is."""
        client = scope.get("client")
        peer: str | None = str(client[0]) if client else None
        if not self._trusted or peer is None or not self._is_trusted(peer):
            return peer
        forwarded: list[str] = [
            value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name == b"x-forwarded-for"
        ]
        hops = [hop.strip() for value in forwarded for hop in value.split(",") if hop.strip()]
        for hop in reversed(hops):  # nearest first: only trusted proxies may name the next
            if not self._is_trusted(hop):
                return hop if _is_ip(hop) else peer
        return hops[0] if hops else peer

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)

    # -- the budgets ----------------------------------------------------------------------

    def admit_api_request(self, credential: str | None, method: str) -> None:
        """Spend one request of the credential's budget (and of its write budget)."""
        if not self.enabled or credential is None:
            return
        identity = hashlib.sha256(credential.encode("utf-8", "replace")).hexdigest()[:32]
        self._spend(self._per_key, ("api-key", identity), "requests for this credential")
        if method not in _SAFE_METHODS:
            self._spend(
                self._writes_per_key, ("api-key-writes", identity), "writes for this credential"
            )

    def admit_public_request(self, ip: str | None) -> None:
        if self.enabled:
            self._spend(self._public_per_ip, ("public", ip or "-"), "requests from this address")

    def refuse_failing_client(self, ip: str | None) -> None:
        """Refuse a client whose failed-authentication budget is spent (spends nothing)."""
        if not self.enabled:
            return
        for item in self._failures_per_ip:
            if not self._limiter.test(item, "auth-failures", ip or "-"):
                raise RateLimited(
                    "too many failed authentications from this address",
                    retry_after=self._retry_after(item, ("auth-failures", ip or "-")),
                )

    def note_auth_failure(self, ip: str | None) -> None:
        if self.enabled:
            for item in self._failures_per_ip:
                self._limiter.hit(item, "auth-failures", ip or "-")

    def admit_unverified_callback(self, ip: str | None) -> None:
        """Spend one unit of the address's budget of callbacks that verify nothing."""
        if self.enabled:
            self._spend(
                self._unverified_per_ip,
                ("unverified-callbacks", ip or "-"),
                "unverifiable callbacks from this address",
            )

    def allow_return_query(self, payment_id: str) -> bool:
        """Whether a browser return may query the gateway about this attempt now."""
        if not self.enabled or self._return_query is None:
            return True
        return self._once_per_interval.hit(self._return_query, "return-query", payment_id)

    def _spend(self, items: Sequence[RateLimitItem], identity: tuple[str, str], what: str) -> None:
        """One hit of every window, or none (then RateLimited, naming the full window's wait)."""
        if len(items) > 1:  # check them all first: a refused request must spend nothing
            for item in items:
                if not self._limiter.test(item, *identity):
                    raise RateLimited(
                        f"too many {what}", retry_after=self._retry_after(item, identity)
                    )
        for item in items:
            if not self._limiter.hit(item, *identity):
                raise RateLimited(f"too many {what}", retry_after=self._retry_after(item, identity))

    def _retry_after(self, item: RateLimitItem, identity: tuple[str, str]) -> int:
        """Whole seconds until the window has room again (the oldest hit leaves it)."""
        reset = self._limiter.get_window_stats(item, *identity).reset_time
        return max(1, math.ceil(reset - time.time()))


def _is_ip(value: str) -> bool:
    try:
        ip_address(value)
    except ValueError:
        return False
    return True


def rate_limits_of(request: Request) -> RateLimits:
    limits = request.app.state.rate_limits
    assert isinstance(limits, RateLimits)
    return limits


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


class RateLimitGate:
    """Pure ASGI gate in front of `/v1`, `/pay/…` and `/return/…`; everything else
    (callbacks, health, docs) goes straight through. A refused request costs no database
    work: it is answered here."""

    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.limits.enabled:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        is_api = path == "/v1" or path.startswith("/v1/")
        if not is_api and not path.startswith(_PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        limits = self.limits
        ip = limits.client_ip(scope)
        try:
            limits.refuse_failing_client(ip)
            if is_api:
                limits.admit_api_request(_bearer(scope), scope["method"])
            else:
                limits.admit_public_request(ip)
        except RateLimited as exc:
            await rate_limited(exc)(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in _AUTH_FAILURES:
                limits.note_auth_failure(ip)
            await send(message)

        await self.app(scope, receive, watch)

"""One classifier for HTTP failures, used by every adapter: the same failure means the same
thing at every gateway.

An adapter sends through `exchange`, which awaits the request and either returns a response
the adapter must read (2xx, and any 4xx the gateway uses for its own business errors) or
raises the typed error below. Answers the gateway did send but payhub cannot use (not JSON,
unsigned) are raised with `unusable_answer`, under the same rule.

The question behind every row: may the request have taken effect at the gateway?

======================================  ======================  =====  =====  ==============
failure                                 raises                  known  retry  gateway_code
======================================  ======================  =====  =====  ==============
httpx.ConnectTimeout                    GatewayUnavailable      yes    yes    connect_timeout
httpx.PoolTimeout                       GatewayUnavailable      yes    yes    connect_timeout
httpx.ConnectError                      GatewayUnavailable      yes    yes    connection
httpx.ReadTimeout, WriteTimeout         GatewayUnavailable      no     no     timeout
other transport error (ReadError,       GatewayUnavailable      no     no     network
  WriteError, RemoteProtocolError...)
httpx.InvalidURL, UnsupportedProtocol   GatewayMisconfigured    yes    no     invalid_url
HTTP 401, 403                           GatewayMisconfigured    yes    no     http_<status>
HTTP 429 (Retry-After → retry_after)    GatewayUnavailable      yes    yes    http_429
HTTP 5xx                                GatewayUnavailable      no     no     http_<status>
unusable 2xx answer (`unusable_answer`) GatewayUnavailable      no     no     (adapter's)
======================================  ======================  =====  =====  ==============

Why each row:

- *Connect timeout, pool timeout, connect error*: no connection was made (or none was free),
  so not one byte of the request left payhub. Nothing can have happened; sending again is
  safe. (httpcore's own `retries` option retries exactly these, for the same reason.)
- *Read/write timeout, other transport errors*: the request was (perhaps partly) sent; the
  gateway may have acted on it and its answer is lost. The outcome is unknown: record it so
  and resolve it by a query, never by resending.
- *Invalid URL*: the account's base URL is wrong; nothing was sent and nothing will be until
  an operator fixes it.
- *401/403*: the gateway refused our credentials before doing anything.
- *429*: the gateway refused before processing (that is what rate limiting is); the outcome
  is known and a retry is safe after `retry_after` seconds (from `Retry-After`, seconds or an
  HTTP date; None when absent).
- *5xx*: the gateway failed somewhere while handling the request, perhaps after acting on
  it. Unknown.

`effectful=False` marks a call that cannot change anything the caller asked for: a status
query, an account check, a setup call made before the payment exists. For such a call every
row above is "known, retry safe" (except a misconfiguration, which no retry fixes): whatever
happened to the request, no payment, refund or cancellation can have come of it.

Other 4xx answers are returned to the adapter: each gateway spells its business errors
differently (some in a JSON body, some in plain text), and only the adapter can read
them.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from payhub.gateways.base import GatewayMisconfigured, GatewayUnavailable

__all__ = ["exchange", "raise_for_status", "retry_after_seconds", "unusable_answer"]


async def exchange(
    request: Awaitable[httpx.Response],
    *,
    gateway: str,
    operation: str,
    effectful: bool = True,
) -> httpx.Response:
    """Await `request` (e.g. `client.post(...)`); return its response or raise per the table."""
    try:
        response = await request
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise GatewayMisconfigured(
            f"{gateway} {operation}: the base URL is invalid ({type(exc).__name__})",
            gateway_code="invalid_url",
        ) from None
    except (httpx.ConnectTimeout, httpx.PoolTimeout):
        raise _unavailable(
            f"{gateway} {operation}: no connection within the timeout",
            "connect_timeout",
            sent=False,
            effectful=effectful,
        ) from None
    except httpx.ConnectError as exc:
        raise _unavailable(
            f"{gateway} {operation}: cannot connect ({type(exc).__name__})",
            "connection",
            sent=False,
            effectful=effectful,
        ) from None
    except httpx.TimeoutException:
        raise _unavailable(
            f"{gateway} {operation}: timed out", "timeout", sent=True, effectful=effectful
        ) from None
    except httpx.TransportError as exc:
        raise _unavailable(
            f"{gateway} {operation}: {type(exc).__name__}",
            "network",
            sent=True,
            effectful=effectful,
        ) from None
    raise_for_status(response, gateway=gateway, operation=operation, effectful=effectful)
    return response


def raise_for_status(
    response: httpx.Response, *, gateway: str, operation: str, effectful: bool = True
) -> None:
    """Raise for the statuses every gateway means the same way (401/403, 429, 5xx)."""
    status = response.status_code
    tag = f"http_{status}"
    if status in (401, 403):
        raise GatewayMisconfigured(
            f"{gateway} {operation}: HTTP {status}; check the credentials", gateway_code=tag
        )
    if status == 429:
        raise GatewayUnavailable(
            f"{gateway} {operation}: rate limited (HTTP 429)",
            gateway_code=tag,
            outcome_unknown=False,
            retry_after=retry_after_seconds(response.headers.get("retry-after")),
        )
    if status >= 500:
        raise _unavailable(
            f"{gateway} {operation}: HTTP {status}", tag, sent=True, effectful=effectful
        )


def unusable_answer(
    message: str, *, gateway_code: str | None = "bad_response", effectful: bool = True
) -> GatewayUnavailable:
    """The error for an answer that arrived but cannot be used (unreadable, unsigned,
    forged): the request may have taken effect, unless the call was not effectful."""
    return _unavailable(message, gateway_code, sent=True, effectful=effectful)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _unavailable(
    message: str, gateway_code: str | None, *, sent: bool, effectful: bool
) -> GatewayUnavailable:
    return GatewayUnavailable(
        message, gateway_code=gateway_code, outcome_unknown=sent and effectful
    )

"""Every error payhub raises, in one tree, each class saying what a caller may do next.

Two questions decide what to do after a failure, and every class answers both:

- ``retry_safe``: may the caller send the very same request again? (It cannot double an
  effect: nothing happened, or the request is refused the same way every time it is wrong.)
- ``outcome_known``: does payhub know whether the request took effect? When it does not,
  the state is recorded as unknown and resolved later by a query, never by guessing and
  never by resending blindly.

Each class also has a stable ``code`` (the slug of the problem ``type`` the API answers
with) and a ``public_message``: a sentence safe to show any caller, never gateway text,
never a secret. HTTP statuses are not carried here; ``payhub.api.problems`` maps classes to
statuses in one table.

The tree (``retry_safe`` / ``outcome_known``; "instance" = set on each raise)::

    HubError                          no  / yes   hub-error
    ├── DomainError                   no  / yes   domain-error     the rules refuse it
    │   ├── NotFound                  no  / yes   not-found
    │   ├── Conflict                  no  / yes   conflict
    │   │   ├── OrderAlreadyPaid      no  / yes   order-already-paid
    │   │   ├── OrderNotPayable       no  / yes   order-not-payable
    │   │   ├── AttemptInFlight       yes / yes   attempt-in-flight  (retry shortly)
    │   │   ├── InsufficientStock     no  / yes   insufficient-stock
    │   │   ├── InsufficientCredits   no  / yes   insufficient-credits (services.ledger:
    │   │   │                                     carries `balance` and `requested`)
    │   │   ├── CreditReferenceReused no  / yes   reference-reused (services.ledger)
    │   │   └── IdempotencyInFlight   yes / yes   idempotency-key-in-flight (services.idempotency)
    │   ├── InvalidRequest            no  / yes   invalid-request
    │   │   ├── OutboundRefused       no  / yes   outbound-refused (payhub.outbound: a URL
    │   │   │                                     the hub will not fetch; `rule` says why)
    │   │   └── IdempotencyKeyReused  no  / yes   idempotency-key-reused (services.idempotency)
    │   ├── GatewayNotAvailable       no  / yes   gateway-not-available
    │   ├── ModeMismatch              no  / yes   mode-mismatch    (test key/order on a
    │   │                                         production account, or live on a test one)
    │   ├── RefundNotAllowed          no  / yes   refund-not-allowed
    │   │   └── RefundsNotSupported   no  / yes   refunds-not-supported (services.refunds)
    │   ├── Unauthorized              no  / yes   unauthorized
    │   └── Forbidden                 no  / yes   forbidden
    ├── RateLimited                   yes / yes   rate-limited     (after `retry_after` s;
    │                                 nothing was done: raised by payhub.api.rate_limits)
    ├── NoGatewayAvailable            yes / yes   no-gateway-available (routing: every
    │                                 candidate skipped or failed with nothing created;
    │                                 after `retry_after` s; services.checkout)
    ├── GatewayError                  no  / yes   gateway-error    raised by an adapter
    │   ├── InvalidSignature          no  / yes   invalid-signature   nothing may change
    │   ├── MalformedNotification     no  / yes   malformed-notification
    │   ├── NotSupported              no  / yes   not-supported    (no such operation)
    │   ├── GatewayMisconfigured      no  / yes   gateway-misconfigured (credentials, URL)
    │   ├── InvalidPaymentRequest     no  / yes   invalid-payment-request (refused locally)
    │   ├── GatewayRejected           yes / yes   gateway-rejected  (answered "no")
    │   └── GatewayUnavailable        instance    gateway-unavailable
    │                                 (no answer to use: lost → no / no; refused for now,
    │                                  e.g. 429 or nothing sent → yes / yes;
    │                                  see ``payhub.gateways.transport``)
    ├── GatewayCallFailed             instance    gateway-call-failed  the attempt was not made
    │   ├── GatewayCallLost           no  / no    gateway-outcome-unknown
    │   └── GatewayCallRefused        instance / yes  gateway-refused
    │                                 (raised by services.checkout)
    ├── VaultError                    no  / yes   vault-error      (services.vault)
    └── StoreBusy                     yes / yes   store-busy       (store.tx: a write kept
                                      meeting deadlocks or serialization failures; each
                                      attempt was rolled back)

``GatewayError`` and ``GatewayCallFailed`` also carry ``gateway_code``, the gateway's own
code (for the timeline and the operator), and ``message``, the internal text, which may
quote the gateway and is therefore never the public message.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AttemptInFlight",
    "Conflict",
    "DomainError",
    "Forbidden",
    "GatewayCallFailed",
    "GatewayCallLost",
    "GatewayCallRefused",
    "GatewayError",
    "GatewayMisconfigured",
    "GatewayNotAvailable",
    "GatewayRejected",
    "GatewayUnavailable",
    "HubError",
    "InsufficientStock",
    "InvalidPaymentRequest",
    "InvalidRequest",
    "InvalidSignature",
    "MalformedNotification",
    "ModeMismatch",
    "NoGatewayAvailable",
    "NotFound",
    "NotSupported",
    "OrderAlreadyPaid",
    "OrderNotPayable",
    "OutboundRefused",
    "RateLimited",
    "RefundNotAllowed",
    "StoreBusy",
    "Unauthorized",
    "VaultError",
]


class HubError(Exception):
    """The root. Catch it to catch anything payhub raises on purpose."""

    code: ClassVar[str] = "hub-error"
    public_message: ClassVar[str] = "payhub could not complete the request"
    retry_safe: bool = False
    outcome_known: bool = True


# --------------------------------------------------------------------------- domain


class DomainError(HubError):
    """A request the rules refuse. `detail` says why, in payhub's words, for the caller;
    `extra` holds fields added to the problem body."""

    code = "domain-error"
    public_message = "the request was refused"

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    code = "not-found"
    public_message = "no such resource"


class Conflict(DomainError):
    code = "conflict"
    public_message = "the request conflicts with the resource's current state"


class OrderAlreadyPaid(Conflict):
    code = "order-already-paid"
    public_message = "the order is already paid"


class OrderNotPayable(Conflict):
    code = "order-not-payable"
    public_message = "the order can no longer be paid"


class AttemptInFlight(Conflict):
    """Another request is creating an attempt for this order at this gateway right now."""

    code = "attempt-in-flight"
    public_message = "a payment for this order is being created; retry shortly"
    retry_safe = True


class InsufficientStock(Conflict):
    code = "insufficient-stock"
    public_message = "not enough stock"


class InvalidRequest(DomainError):
    code = "invalid-request"
    public_message = "the request is invalid"


class OutboundRefused(InvalidRequest):
    """A URL the hub will not fetch (see `payhub.outbound`). `rule` is the short name of
    the rule that refused it; the detail never lists the addresses a name resolved to."""

    code = "outbound-refused"
    public_message = "the URL is refused by the outbound policy"

    def __init__(self, detail: str, *, rule: str = "policy") -> None:
        super().__init__(detail, rule=rule)
        self.rule = rule


class GatewayNotAvailable(DomainError):
    code = "gateway-not-available"
    public_message = "that gateway cannot take this payment"


class ModeMismatch(DomainError):
    """A test key or order meets a production account, or a live one a simulator or
    sandbox account (services.modes)."""

    code = "mode-mismatch"
    public_message = "test and live mode do not mix"


class RefundNotAllowed(DomainError):
    code = "refund-not-allowed"
    public_message = "this refund is not allowed"


class Unauthorized(DomainError):
    code = "unauthorized"
    public_message = "authentication is required"


class Forbidden(DomainError):
    code = "forbidden"
    public_message = "not allowed for this caller"


# --------------------------------------------------------------------------- rate limits


class RateLimited(HubError):
    """The caller spent a budget (requests per API key or per client IP, failed
    authentications per client IP). Nothing was done, so the same request may be sent again
    after `retry_after` whole seconds."""

    code = "rate-limited"
    public_message = "too many requests; retry later"
    retry_safe = True

    def __init__(self, detail: str, *, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = max(1, retry_after)


class NoGatewayAvailable(HubError):
    """Routing found no gateway account that could take the payment now: every candidate
    was skipped (mode, currency, limits, open circuit...) or failed with nothing created.
    Not the caller's fault, and nothing is left at any gateway, so the same request may be
    sent again after `retry_after` seconds. `extra["routing"]` says what was skipped and
    tried."""

    code = "no-gateway-available"
    public_message = "no gateway can take this payment right now; retry later"
    retry_safe = True

    def __init__(self, detail: str, *, retry_after: int = 1, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        self.retry_after = max(1, retry_after)


# --------------------------------------------------------------------------- gateways


class GatewayError(HubError):
    """Raised by a gateway adapter. `message` is internal (it may quote the gateway);
    `gateway_code` is the gateway's own code, or a short payhub tag such as "timeout"."""

    code = "gateway-error"
    public_message = "the payment gateway call failed"

    def __init__(self, message: str, *, gateway_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.gateway_code = gateway_code


class InvalidSignature(GatewayError):
    """The signature did not verify over the bytes received. Nothing may change."""

    code = "invalid-signature"
    public_message = "the signature does not verify"


class MalformedNotification(GatewayError):
    """The inbound request is not a notification this gateway would send."""

    code = "malformed-notification"
    public_message = "the request is not a notification this gateway sends"


class NotSupported(GatewayError):
    """The gateway has no such operation (e.g. refunds at a gateway without a refund API)."""

    code = "not-supported"
    public_message = "the gateway does not support this operation"


class GatewayMisconfigured(GatewayError):
    """Credentials, settings or the base URL are missing or wrong (e.g. HTTP 401 from the
    gateway). Retrying cannot help until an operator fixes the account."""

    code = "gateway-misconfigured"
    public_message = "the gateway account is not configured correctly"


class InvalidPaymentRequest(GatewayError):
    """payhub refused the request before calling the gateway (amount limits, charset...)."""

    code = "invalid-payment-request"
    public_message = "the gateway cannot take this request"


class GatewayRejected(GatewayError):
    """The gateway answered and said no; the attempt did not happen. Safe to retry with a
    corrected request; `gateway_code` is the gateway's own code."""

    code = "gateway-rejected"
    public_message = "the payment gateway refused the request"
    retry_safe = True


class GatewayUnavailable(GatewayError):
    """No answer payhub can use: timeout, connection failure, 5xx, 429, an unreadable or
    unsigned answer, or the gateway's own "busy". Each raise says whether the request may
    have taken effect (`outcome_unknown`): if so, resolve it with a query, do not resend;
    if not, a retry is safe (after `retry_after` seconds when the gateway named a delay)."""

    code = "gateway-unavailable"
    public_message = "the payment gateway did not answer usably"
    retry_safe = False
    outcome_known = False

    def __init__(
        self,
        message: str,
        *,
        gateway_code: str | None = None,
        outcome_unknown: bool = True,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, gateway_code=gateway_code)
        self.outcome_known = not outcome_unknown
        self.retry_safe = not outcome_unknown
        self.retry_after = retry_after

    @property
    def outcome_unknown(self) -> bool:
        return not self.outcome_known


# --------------------------------------------------------------------------- use cases


class GatewayCallFailed(HubError):
    """The gateway did not create the attempt. Raise a subclass: `GatewayCallLost` when the
    answer was lost (the attempt is `unknown` until a query), `GatewayCallRefused` when it
    is known that nothing was created."""

    code = "gateway-call-failed"
    public_message = "the payment gateway call failed"

    def __init__(self, message: str, *, retry_safe: bool, gateway_code: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_safe = retry_safe
        self.gateway_code = gateway_code

    @property
    def outcome_unknown(self) -> bool:
        return not self.outcome_known

    @staticmethod
    def from_gateway(message: str, exc: GatewayError) -> GatewayCallFailed:
        """The use-case error for a failed create call, keeping the adapter's verdict."""
        if not exc.outcome_known:
            return GatewayCallLost(message, retry_safe=False, gateway_code=exc.gateway_code)
        return GatewayCallRefused(message, retry_safe=exc.retry_safe, gateway_code=exc.gateway_code)


class GatewayCallLost(GatewayCallFailed):
    """The create call may have reached the gateway; its answer was lost."""

    code = "gateway-outcome-unknown"
    public_message = "the gateway's answer was lost; the payment's status will be checked"
    outcome_known = False


class GatewayCallRefused(GatewayCallFailed):
    """The gateway did not create the attempt, and payhub knows it did not."""

    code = "gateway-refused"
    public_message = "the payment gateway did not create the payment"


# --------------------------------------------------------------------------- vault


class StoreBusy(HubError):
    """A write transaction kept failing on deadlocks or serialization failures, and was
    re-run as often as `store.tx.retry_write_conflicts` allows. Every attempt was rolled
    back: nothing was written, so the same request may be sent again."""

    code = "store-busy"
    public_message = "payhub is busy; retry shortly"
    retry_safe = True


class VaultError(HubError):
    """The vault cannot encrypt or decrypt (missing/invalid key, tampered ciphertext).
    Its text names a key id or an account id, never key material."""

    code = "vault-error"
    public_message = "gateway credentials cannot be read"

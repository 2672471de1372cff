"""The Gateway protocol and the normalised types every gateway adapter speaks.

An adapter is a stateless translator between payhub's vocabulary (this module) and one
gateway's wire protocol. It receives its credentials and an `httpx.AsyncClient` when it is
constructed and never touches the database. Everything a later query, refund or cancel needs
is handed back in `Checkout.gateway_data` and given again in `PaymentRef.gateway_data`.

Statuses are mapped through an explicit table in each adapter whose default is `PENDING`.
HTTP failures are classified once, in `payhub.gateways.transport`, the same way for every
adapter: a request that may have taken effect raises `GatewayUnavailable` with
`outcome_unknown=True`, to be resolved later by a query, never guessed. The errors are drawn
in `payhub.errors`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol, runtime_checkable

import httpx

from payhub.errors import (
    GatewayError,
    GatewayMisconfigured,
    GatewayRejected,
    GatewayUnavailable,
    InvalidPaymentRequest,
    InvalidSignature,
    MalformedNotification,
    NotSupported,
)
from payhub.money import Money
from payhub.secret import Secret

# --------------------------------------------------------------------------- configuration


class Environment(enum.StrEnum):
    """Where a gateway account points. A production hub never trusts a simulator."""

    SIMULATOR = "simulator"
    SANDBOX = "sandbox"
    PRODUCTION = "production"

    @property
    def is_live(self) -> bool:
        """Live money moves only on production accounts: `sk_live_` keys and live orders use
        these and nothing else; `sk_test_` keys and test orders use the other two."""
        return self is Environment.PRODUCTION

    @classmethod
    def for_mode(cls, livemode: bool) -> frozenset[Environment]:
        """The environments an order or key of this mode may pay through."""
        return frozenset(e for e in cls if e.is_live == livemode)


@dataclass(frozen=True, slots=True)
class CredentialField:
    """One credential a gateway needs, e.g. a signing key (secret) or a client id."""

    name: str
    secret: bool
    description: str
    required: bool = True


@dataclass(frozen=True, slots=True)
class AmountLimits:
    """Inclusive amount range a gateway accepts for one currency, in minor units."""

    min_minor: int
    max_minor: int


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a gateway can do; the API uses this to refuse clearly instead of failing late."""

    currencies: Mapping[str, AmountLimits]
    refund: bool
    partial_refund: bool
    query: bool
    cancel: bool
    link_ttl: timedelta
    # A notification whose signature does not cover amount and reference (say, a hash over
    # the status and ids only) must be confirmed by a server-side query before it may settle
    # anything.
    notification_needs_confirmation: bool = False

    def limits_for(self, currency: str) -> AmountLimits | None:
        return self.currencies.get(currency)


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Decrypted credentials and endpoint of one gateway account, as the adapter sees them."""

    credentials: Mapping[str, Secret]
    base_url: str
    environment: Environment
    # Non-secret per-account settings (e.g. a bill category code, a wallet request type).
    settings: Mapping[str, str] = field(default_factory=dict)

    def secret(self, name: str) -> str:
        """The plaintext of one credential; raises `GatewayMisconfigured` when it is absent."""
        value = self.credentials.get(name)
        if value is None or not value.is_set():
            raise GatewayMisconfigured(f"credential {name!r} is not set")
        return value.reveal()


# --------------------------------------------------------------------------- normalised types


class GatewayStatus(enum.StrEnum):
    """A gateway's view of one payment attempt, normalised."""

    PENDING = "pending"
    AUTHORIZED = "authorized"  # money held, not captured
    SUCCEEDED = "succeeded"
    PARTIALLY_PAID = "partially_paid"  # some money arrived, not all (an underpaid transfer)
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class LineItem:
    name: str
    quantity: int
    unit_price: Money


@dataclass(frozen=True, slots=True)
class Payer:
    name: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    """Everything an adapter needs to create one payment attempt at the gateway."""

    reference: str  # from `Gateway.new_reference`, stored before the call
    amount: Money
    description: str  # merchant text; the adapter sanitises it to the gateway's charset
    notify_url: str  # where the gateway must send server-to-server notifications
    return_url: str  # where the browser comes back (display only)
    cancel_url: str
    expires_at: datetime  # aware UTC
    now: datetime  # aware UTC, from the injected clock
    # The customer's context, for the gateways that take it (each gateway's docs page says
    # which field carries what): the browser's address, its language (vi | en | ms) and its
    # User-Agent. The API validated them; each adapter maps them to its own vocabulary.
    client_ip: str = "127.0.0.1"
    locale: str = "vi"
    user_agent: str | None = None
    items: tuple[LineItem, ...] = ()
    payer: Payer = field(default_factory=Payer)
    options: Mapping[str, str] = field(default_factory=dict)  # gateway-specific choices


@dataclass(frozen=True, slots=True)
class Checkout:
    """What the gateway gave back for a created attempt."""

    reference: str
    checkout_url: str
    expires_at: datetime | None = None
    qr_content: str | None = None
    deeplink: str | None = None
    # Gateway fields needed later for query/refund/cancel (a payment link id, the create
    # date a query must repeat, a bill code, ...). Not secret; stored on the payment row.
    gateway_data: Mapping[str, str] = field(default_factory=dict)
    # Non-secret account settings the adapter learned and the hub must remember on the
    # gateway account (e.g. a category code the adapter created on first use).
    account_settings: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PaymentRef:
    """Identifies an attempt to the gateway for query, refund and cancel."""

    reference: str
    amount: Money
    created_at: datetime
    gateway_data: Mapping[str, str] = field(default_factory=dict)
    gateway_txn_id: str | None = None


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """An HTTP request exactly as received: verification works on these bytes."""

    method: str
    path: str
    query_string: bytes
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    remote_addr: str | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True, slots=True)
class Notification:
    """A verified server-to-server notification, normalised.

    `dedupe_key` is unique per gateway account for one fact (e.g. order code + transfer ref);
    the store refuses a second event with the same key.
    """

    reference: str  # payhub's attempt reference as the gateway echoes it
    status: GatewayStatus
    dedupe_key: str
    amount: Money | None  # amount the gateway says moved, converted to minor units
    gateway_code: str  # the gateway's own status/result code, for the timeline
    message: str = ""
    gateway_txn_id: str | None = None
    occurred_at: datetime | None = None  # aware UTC
    payload: Mapping[str, object] = field(default_factory=dict)  # parsed, for the record


class ApplyOutcome(enum.StrEnum):
    """What the inbound pipeline did with a notification; decides the gateway's ack."""

    APPLIED = "applied"  # recorded (paid, failed, pending ... whatever it said)
    DUPLICATE = "duplicate"  # the same fact was already recorded
    UNKNOWN_PAYMENT = "unknown_payment"  # verified, but no such attempt here
    AMOUNT_MISMATCH = "amount_mismatch"  # recorded, attempt sent to review
    INVALID_SIGNATURE = "invalid_signature"
    MALFORMED = "malformed"
    ERROR = "error"  # payhub failed; the gateway should retry


@dataclass(frozen=True, slots=True)
class Reply:
    """The exact HTTP answer a gateway expects."""

    status_code: int
    body: bytes = b""
    media_type: str | None = None


@dataclass(frozen=True, slots=True)
class ReturnInfo:
    """What a browser return carries: display only, never settles anything."""

    reference: str | None
    claimed_status: GatewayStatus
    signature_valid: bool
    message: str = ""


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A server-side query's answer: trusted, may settle an attempt."""

    reference: str
    status: GatewayStatus
    gateway_code: str
    amount_paid: Money | None = None
    gateway_txn_id: str | None = None
    message: str = ""
    occurred_at: datetime | None = None
    refunded: Money | None = None
    raw: Mapping[str, object] = field(default_factory=dict)

    def dedupe_key(self) -> str:
        """Key under which a settling query result is recorded like a notification."""
        return f"query:{self.status}:{self.gateway_txn_id or self.reference}"


class RefundStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RefundRequest:
    payment: PaymentRef
    reference: str  # payhub's refund reference, fresh per refund
    amount: Money
    full: bool  # the refund covers the whole captured amount
    reason: str
    now: datetime
    requested_by: str = "payhub"
    client_ip: str = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class RefundRef:
    """A refund the gateway accepted but had not finished: what a status query needs."""

    payment: PaymentRef
    reference: str  # payhub's refund reference (the one sent with the refund)
    amount: Money
    gateway_refund_id: str | None
    now: datetime


@dataclass(frozen=True, slots=True)
class RefundResult:
    status: RefundStatus
    gateway_code: str
    gateway_refund_id: str | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class CredentialCheck:
    """What a harmless call told us about an account's credentials.

    `valid` is True when the gateway accepted them, False when it said they are wrong, and
    None when it could not tell (unreachable, 5xx, busy, an answer that proves nothing):
    an unknown result is never reported as valid. `code` is the gateway's own code (or a
    short payhub tag such as "connection"); `message` never holds a secret; `checked_with`
    names the call that was made."""

    valid: bool | None
    code: str
    message: str
    checked_with: str


_MESSAGE_LIMIT = 300  # characters of a gateway message kept in a check result


def credential_check_from_error(exc: GatewayError, checked_with: str) -> CredentialCheck:
    """The result of a validation probe that raised: the account's credentials or settings
    are wrong (`GatewayMisconfigured`: invalid), or the answer tells nothing (anything else:
    unknown). Adapters map the codes that mean "wrong credentials" to
    `GatewayMisconfigured` before they get here."""
    valid = False if isinstance(exc, GatewayMisconfigured) else None
    return CredentialCheck(
        valid=valid,
        code=exc.gateway_code or type(exc).__name__,
        message=exc.message[:_MESSAGE_LIMIT],
        checked_with=checked_with,
    )


@dataclass(frozen=True, slots=True)
class SandboxProfile:
    """How `payhub demo`, `payhub sandbox` and tests wire a hub account to this gateway's
    local simulator. Each gateway package owns its profile; nothing outside it picks these."""

    credentials: Mapping[str, str]
    settings: Mapping[str, str] = field(default_factory=dict)
    default_port: int = 0  # where `payhub demo` / `payhub sandbox` run this sandbox
    # For a gateway that keeps the notification URL on its side (registered per channel or
    # terminal, not sent with each payment): the `SimulatorOptions.extra` key under which the
    # sandbox takes it at start. None: the URL travels with each payment.
    notify_url_option: str | None = None


@dataclass(frozen=True, slots=True)
class CheckoutCopy:
    """What the hosted checkout says about a gateway, in the customer's language.

    `line` is the short text under its button, per locale (vi, en, ms). With
    `qr_for_own_app`, the QR the gateway gives is scanned in the gateway's own app, to pay
    from another device: on a phone the deeplink is the way, so the page shows the QR on
    desktops only (when there is a deeplink). Otherwise any banking app reads it."""

    line: Mapping[str, str]
    qr_for_own_app: bool = False


# --------------------------------------------------------------------------- the protocol


@runtime_checkable
class Gateway(Protocol):
    """One gateway's adapter. Constructed per call site with config and an HTTP client."""

    name: ClassVar[str]
    display_name: ClassVar[str]
    checkout_copy: ClassVar[CheckoutCopy]
    capabilities: ClassVar[Capabilities]
    credential_fields: ClassVar[tuple[CredentialField, ...]]
    default_base_urls: ClassVar[Mapping[Environment, str]]

    def __init__(self, config: GatewayConfig, http: httpx.AsyncClient) -> None: ...

    def new_reference(self, serial: int, now: datetime) -> str:
        """A fresh, gateway-valid reference for attempt number `serial` (unique per account)."""
        ...

    async def create_checkout(self, req: CheckoutRequest) -> Checkout: ...

    def verify_notification(self, raw: InboundRequest) -> Notification:
        """Verify over the exact bytes, then parse; raises InvalidSignature/Malformed...."""
        ...

    def notification_reply(self, outcome: ApplyOutcome) -> Reply:
        """The gateway's own ack for `outcome`; it decides whether the gateway retries."""
        ...

    def verify_return(self, raw: InboundRequest) -> ReturnInfo: ...

    async def query(self, ref: PaymentRef) -> StatusReport: ...

    async def refund(self, req: RefundRequest) -> RefundResult: ...

    async def refund_status(self, ref: RefundRef) -> RefundResult:
        """Where the refund stands now (pending while the gateway still processes it);
        raises NotSupported where the gateway has no refund query."""
        ...

    async def cancel(self, ref: PaymentRef) -> None: ...

    async def register_notification_url(self, url: str) -> None:
        """Tell the gateway where notifications go, where it supports that (a
        confirm-webhook call); raises NotSupported elsewhere."""
        ...

    async def validate_credentials(self) -> CredentialCheck:
        """Ask the gateway, by one harmless call (a query for a reference that cannot
        exist, a category read), whether these credentials are good. Never raises for a
        gateway answer or a network failure: those are `valid=False` or `valid=None`."""
        ...


@runtime_checkable
class RecoversCheckout(Protocol):
    """An adapter that can find, by a server-side query, the link a create call whose answer
    was lost may have made (`payhub.services.routing` asks before it falls back)."""

    async def recover_checkout(self, ref: PaymentRef) -> Checkout | None:
        """The link the gateway holds under `ref.reference`; None when the gateway's answer
        proves it holds none; raises `GatewayError` (or `NotSupported`) when it cannot tell."""
        ...


@dataclass(frozen=True, slots=True)
class GatewayEntry:
    """What a gateway package exports as `ENTRY` for the registry."""

    adapter: type[Gateway]
    # `create_simulator(options: simkit.SimulatorOptions) -> ASGI app`: the local sandbox.
    create_simulator: Callable[..., Any]
    # Credentials/settings of the simulator's test channel (PAYHUB_SANDBOX_* or defaults).
    sandbox_profile: Callable[[], SandboxProfile]


# The adapter errors live in the one error tree, `payhub.errors`; adapters import them from
# here, beside the types they describe.
__all__ = [
    "AmountLimits",
    "ApplyOutcome",
    "Capabilities",
    "Checkout",
    "CheckoutRequest",
    "CredentialCheck",
    "CredentialField",
    "Environment",
    "Gateway",
    "GatewayConfig",
    "GatewayEntry",
    "GatewayError",
    "GatewayMisconfigured",
    "GatewayRejected",
    "GatewayStatus",
    "GatewayUnavailable",
    "InboundRequest",
    "InvalidPaymentRequest",
    "InvalidSignature",
    "LineItem",
    "MalformedNotification",
    "NotSupported",
    "Notification",
    "Payer",
    "PaymentRef",
    "RecoversCheckout",
    "RefundRef",
    "RefundRequest",
    "RefundResult",
    "RefundStatus",
    "Reply",
    "ReturnInfo",
    "SandboxProfile",
    "StatusReport",
    "credential_check_from_error",
]

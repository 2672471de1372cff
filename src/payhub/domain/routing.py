"""The routing rules, over plain values: which accounts may take an order, in which order,
whether a circuit lets a call through, and whether a failed create may fall back.

Nothing here does I/O; `payhub.services.routing` feeds it rows and acts on its answers.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from payhub.errors import GatewayError, InvalidPaymentRequest

# Why an account is not a candidate, in the order the checks run.
DISABLED = "disabled"
MODE = "mode"
NOT_READY = "not_ready"
CURRENCY = "currency"
AMOUNT_LIMITS = "amount_limits"
CIRCUIT_OPEN = "circuit_open"
DUPLICATE = "duplicate"  # another account of the same gateway, in the same mode, ranks first


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """What routing needs to know of one gateway account."""

    account_id: str
    gateway: str
    environment: str
    enabled: bool
    ready: bool  # every required credential is set
    live: bool  # a production account
    limits: tuple[int, int] | None  # (min, max) minor units for the order's currency
    priority: int
    circuit_state: str = "closed"
    opened_at: datetime | None = None
    probe_started_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """A merchant's choices for one order: its gateway order for the order's currency
    (empty: none set) and its default gateway."""

    default_gateway: str | None = None
    gateway_order: tuple[str, ...] = ()

    @classmethod
    def for_currency(
        cls,
        currency: str,
        default_gateway: str | None,
        currency_priorities: Mapping[str, Sequence[str]],
    ) -> RoutingPolicy:
        return cls(default_gateway, tuple(currency_priorities.get(currency, ())))


@dataclass(frozen=True, slots=True)
class Candidate:
    account_id: str
    gateway: str
    environment: str
    probe: bool  # the circuit is open and its cool-down passed: this call would be the probe


@dataclass(frozen=True, slots=True)
class Skipped:
    account_id: str
    gateway: str
    environment: str
    reason: str


@dataclass(frozen=True, slots=True)
class Route:
    candidates: tuple[Candidate, ...]
    skipped: tuple[Skipped, ...]


class CircuitVerdict(enum.StrEnum):
    CLOSED = "closed"  # calls go through
    PROBE = "probe"  # open, cool-down passed: one caller may claim the probe
    OPEN = "open"  # skip


def circuit_verdict(
    state: str,
    opened_at: datetime | None,
    probe_started_at: datetime | None,
    now: datetime,
    cooldown: timedelta,
    stale_probe: timedelta,
) -> CircuitVerdict:
    """Whether a circuit lets a call through: closed yes; open once the cool-down has
    passed, as the one probe; half-open (a probe in flight) no, unless that probe was
    claimed `stale_probe` ago and never reported (its process died)."""
    if state == "closed":
        return CircuitVerdict.CLOSED
    if state == "open":
        due = opened_at is None or opened_at + cooldown <= now
        return CircuitVerdict.PROBE if due else CircuitVerdict.OPEN
    if probe_started_at is not None and probe_started_at + stale_probe <= now:
        return CircuitVerdict.PROBE
    return CircuitVerdict.OPEN


def route(
    accounts: Sequence[AccountFacts],
    *,
    amount_minor: int,
    livemode: bool,
    policy: RoutingPolicy,
    now: datetime,
    cooldown: timedelta,
    stale_probe: timedelta,
) -> Route:
    """The candidates for an order of `amount_minor` (each account's `limits` are for the
    order's currency), best first, and every other account with the reason it was skipped.

    Order: the merchant's gateway order for the currency where it set one (gateways it does
    not name come after those it does), then the account priority (lower first), then the
    merchant's default gateway, then the gateway's name (so the order is total). One mode
    never lists a gateway twice: the best-ranked account of a gateway is the candidate,
    the others are skipped as `duplicate`.
    """
    named = list(policy.gateway_order)
    eligible: list[tuple[AccountFacts, bool]] = []
    skipped: list[Skipped] = []
    for a in accounts:
        reason: str | None = None
        probe = False
        if not a.enabled:
            reason = DISABLED
        elif a.live != livemode:
            reason = MODE
        elif not a.ready:
            reason = NOT_READY
        elif a.limits is None:
            reason = CURRENCY
        elif not a.limits[0] <= amount_minor <= a.limits[1]:
            reason = AMOUNT_LIMITS
        else:
            verdict = circuit_verdict(
                a.circuit_state, a.opened_at, a.probe_started_at, now, cooldown, stale_probe
            )
            if verdict is CircuitVerdict.OPEN:
                reason = CIRCUIT_OPEN
            probe = verdict is CircuitVerdict.PROBE
        if reason is None:
            eligible.append((a, probe))
        else:
            skipped.append(Skipped(a.account_id, a.gateway, a.environment, reason))

    def rank(item: tuple[AccountFacts, bool]) -> tuple[int, int, int, str, str]:
        a = item[0]
        position = named.index(a.gateway) if a.gateway in named else len(named)
        return (position, a.priority, a.gateway != policy.default_gateway, a.gateway, a.account_id)

    candidates: list[Candidate] = []
    seen: set[str] = set()
    for a, probe in sorted(eligible, key=rank):
        if a.gateway in seen:
            skipped.append(Skipped(a.account_id, a.gateway, a.environment, DUPLICATE))
            continue
        seen.add(a.gateway)
        candidates.append(Candidate(a.account_id, a.gateway, a.environment, probe))
    return Route(tuple(candidates), tuple(skipped))


class CreateFailure(enum.StrEnum):
    """What a failed create call tells about the gateway's side."""

    NOTHING_CREATED = "nothing_created"  # known: fall back to the next candidate
    MAYBE_CREATED = "maybe_created"  # unknown: ask the gateway before anything else


def classify_create_failure(exc: GatewayError) -> CreateFailure:
    """THE fallback rule: a failed create may fall back only when it is known that nothing
    was created at the gateway. That is when the adapter refused before sending
    (`InvalidPaymentRequest`), the gateway answered with its documented refusal
    (`GatewayRejected`), refused our credentials (`GatewayMisconfigured`), or no byte was
    sent (connection refused, connect timeout) or it refused before processing (429); all
    of these are `outcome_known` in the error tree. Everything else (read timeout, a 5xx,
    a broken or unsigned answer) may have created a link that could reach the customer:
    the caller must query the attempt's reference and fall back only when the gateway
    proves it holds nothing."""
    if isinstance(exc, InvalidPaymentRequest) or exc.outcome_known:
        return CreateFailure.NOTHING_CREATED
    return CreateFailure.MAYBE_CREATED


def counts_against_health(exc: GatewayError) -> bool:
    """A refusal payhub made itself (before calling) says nothing of the gateway's health."""
    return not isinstance(exc, InvalidPaymentRequest)

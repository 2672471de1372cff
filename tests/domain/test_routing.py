"""The routing rules over plain values: candidates, their order, skip reasons, the circuit
verdict and the one "may this failed create fall back?" rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payhub.domain import routing as rules
from payhub.errors import (
    GatewayError,
    GatewayMisconfigured,
    GatewayRejected,
    GatewayUnavailable,
    InvalidPaymentRequest,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
COOL = timedelta(seconds=60)
STALE = timedelta(seconds=100)


def acct(
    account_id: str,
    gateway: str,
    *,
    environment: str = "simulator",
    enabled: bool = True,
    ready: bool = True,
    limits: tuple[int, int] | None = (1_000, 10_000_000),
    priority: int = 100,
    state: str = "closed",
    opened_at: datetime | None = None,
    probe_started_at: datetime | None = None,
) -> rules.AccountFacts:
    return rules.AccountFacts(
        account_id=account_id,
        gateway=gateway,
        environment=environment,
        enabled=enabled,
        ready=ready,
        live=environment == "production",
        limits=limits,
        priority=priority,
        circuit_state=state,
        opened_at=opened_at,
        probe_started_at=probe_started_at,
    )


def plan(
    accounts: list[rules.AccountFacts],
    *,
    amount: int = 20_000,
    livemode: bool = False,
    policy: rules.RoutingPolicy | None = None,
) -> rules.Route:
    return rules.route(
        accounts,
        amount_minor=amount,
        livemode=livemode,
        policy=policy or rules.RoutingPolicy(),
        now=NOW,
        cooldown=COOL,
        stale_probe=STALE,
    )


def gateways(route: rules.Route) -> list[str]:
    return [c.gateway for c in route.candidates]


def reasons(route: rules.Route) -> dict[str, str]:
    return {s.account_id: s.reason for s in route.skipped}


def test_priority_orders_candidates_then_default_then_name() -> None:
    accounts = [acct("a", "payos", priority=20), acct("b", "momo", priority=10)]
    assert gateways(plan(accounts)) == ["momo", "payos"]
    tied = [acct("a", "payos"), acct("b", "vnpay"), acct("c", "momo")]
    assert gateways(plan(tied)) == ["momo", "payos", "vnpay"]
    policy = rules.RoutingPolicy(default_gateway="vnpay")
    assert gateways(plan(tied, policy=policy)) == ["vnpay", "momo", "payos"]


def test_currency_order_comes_before_account_priority() -> None:
    accounts = [acct("a", "payos", priority=1), acct("b", "vnpay", priority=50), acct("c", "momo")]
    policy = rules.RoutingPolicy.for_currency("VND", None, {"VND": ["vnpay", "momo"], "MYR": []})
    assert gateways(plan(accounts, policy=policy)) == ["vnpay", "momo", "payos"]
    other = rules.RoutingPolicy.for_currency("MYR", None, {"VND": ["vnpay", "momo"]})
    assert gateways(plan(accounts, policy=other)) == ["payos", "vnpay", "momo"]


def test_every_skipped_account_says_why() -> None:
    accounts = [
        acct("off", "payos", enabled=False),
        acct("live", "vnpay", environment="production"),
        acct("half", "momo", ready=False),
        acct("nocur", "toyyibpay", limits=None),
        acct("small", "payos", environment="sandbox", limits=(1_000, 10_000)),
        acct(
            "open",
            "vnpay",
            environment="sandbox",
            state="open",
            opened_at=NOW - timedelta(seconds=10),
        ),
    ]
    route = plan(accounts)
    assert route.candidates == ()
    assert reasons(route) == {
        "off": rules.DISABLED,
        "live": rules.MODE,
        "half": rules.NOT_READY,
        "nocur": rules.CURRENCY,
        "small": rules.AMOUNT_LIMITS,
        "open": rules.CIRCUIT_OPEN,
    }


def test_live_orders_use_production_accounts_only() -> None:
    accounts = [acct("sim", "payos"), acct("prod", "payos", environment="production")]
    live = plan(accounts, livemode=True)
    assert [c.account_id for c in live.candidates] == ["prod"]
    assert reasons(live) == {"sim": rules.MODE}
    test = plan(accounts, livemode=False)
    assert [c.account_id for c in test.candidates] == ["sim"]
    assert reasons(test) == {"prod": rules.MODE}


def test_one_gateway_is_listed_once_per_mode() -> None:
    accounts = [
        acct("sim", "payos", priority=50),
        acct("sbx", "payos", environment="sandbox", priority=10),
        acct("momo", "momo", priority=30),
    ]
    route = plan(accounts)
    assert [c.account_id for c in route.candidates] == ["sbx", "momo"]
    assert reasons(route) == {"sim": rules.DUPLICATE}


def test_an_open_circuit_past_its_cooldown_is_a_probe_candidate() -> None:
    opened = NOW - COOL
    route = plan([acct("a", "payos", state="open", opened_at=opened)])
    assert [(c.account_id, c.probe) for c in route.candidates] == [("a", True)]


@pytest.mark.parametrize(
    ("state", "opened", "probe", "verdict"),
    [
        ("closed", None, None, rules.CircuitVerdict.CLOSED),
        ("open", NOW - timedelta(seconds=59), None, rules.CircuitVerdict.OPEN),
        ("open", NOW - timedelta(seconds=60), None, rules.CircuitVerdict.PROBE),
        (
            "half_open",
            NOW - timedelta(seconds=90),
            NOW - timedelta(seconds=5),
            rules.CircuitVerdict.OPEN,
        ),
        ("half_open", NOW - timedelta(seconds=900), NOW - STALE, rules.CircuitVerdict.PROBE),
    ],
)
def test_circuit_verdict(
    state: str, opened: datetime | None, probe: datetime | None, verdict: rules.CircuitVerdict
) -> None:
    assert rules.circuit_verdict(state, opened, probe, NOW, COOL, STALE) is verdict


@pytest.mark.parametrize(
    ("exc", "verdict"),
    [
        (InvalidPaymentRequest("too small"), rules.CreateFailure.NOTHING_CREATED),
        (GatewayRejected("no", gateway_code="20"), rules.CreateFailure.NOTHING_CREATED),
        (GatewayMisconfigured("401", gateway_code="http_401"), rules.CreateFailure.NOTHING_CREATED),
        (
            GatewayUnavailable("refused", gateway_code="connection", outcome_unknown=False),
            rules.CreateFailure.NOTHING_CREATED,
        ),
        (
            GatewayUnavailable("429", gateway_code="http_429", outcome_unknown=False),
            rules.CreateFailure.NOTHING_CREATED,
        ),
        (
            GatewayUnavailable("timed out", gateway_code="timeout"),
            rules.CreateFailure.MAYBE_CREATED,
        ),
        (
            GatewayUnavailable("HTTP 500", gateway_code="http_500"),
            rules.CreateFailure.MAYBE_CREATED,
        ),
        (
            GatewayUnavailable("unsigned", gateway_code="unsigned"),
            rules.CreateFailure.MAYBE_CREATED,
        ),
    ],
)
def test_fallback_only_when_nothing_was_created(
    exc: GatewayError, verdict: rules.CreateFailure
) -> None:
    assert rules.classify_create_failure(exc) is verdict


def test_a_local_refusal_does_not_count_against_health() -> None:
    assert not rules.counts_against_health(InvalidPaymentRequest("too small"))
    assert rules.counts_against_health(GatewayRejected("no"))
    assert rules.counts_against_health(GatewayUnavailable("timed out"))

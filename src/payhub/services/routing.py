"""Routing: which of a merchant's gateway accounts may take an order, in which order, and
each account's health (its circuit breaker).

The rules are pure (`payhub.domain.routing`); this module feeds them the merchant's
accounts, their health rows and its routing choices, records each create call's outcome
against the account's health (raising `gateway.unhealthy` once per opening), and offers the
operator's controls: priorities, the default gateway, per-currency orders, and switching an
account between sandbox and production.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from payhub.clock import as_utc
from payhub.domain import routing as rules
from payhub.domain.errors import InvalidRequest, NotFound
from payhub.gateways.base import Environment, GatewayError
from payhub.gateways.registry import entry, gateway_names
from payhub.services.accounts import account_status
from payhub.services.context import Hub
from payhub.store import accounts, gateway_health
from payhub.store import routing as routing_store
from payhub.store.journal import add_audit, enqueue_event
from payhub.store.models import GatewayAccount
from payhub.store.tx import Reader, Tx


def cooldown(hub: Hub) -> timedelta:
    return timedelta(seconds=hub.settings.circuit_cooldown_seconds)


def stale_probe(hub: Hub) -> timedelta:
    """A probe claimed this long ago and never reported belongs to a process that died."""
    return cooldown(hub) + timedelta(seconds=2 * hub.settings.gateway_timeout_seconds)


def _facts(
    reader: Reader, rows: Sequence[GatewayAccount], currency: str
) -> list[rules.AccountFacts]:
    health = gateway_health.health_of(reader, [r.id for r in rows])
    out = []
    for row in rows:
        known = row.gateway in gateway_names()
        limits = entry(row.gateway).adapter.capabilities.limits_for(currency) if known else None
        h = health.get(row.id)
        out.append(
            rules.AccountFacts(
                account_id=row.id,
                gateway=row.gateway,
                environment=row.environment,
                enabled=row.enabled and known,
                ready=known and not account_status(row)["missing"],
                live=Environment(row.environment).is_live,
                limits=None if limits is None else (limits.min_minor, limits.max_minor),
                priority=row.priority,
                circuit_state=h.state if h else gateway_health.CLOSED,
                opened_at=as_utc(h.opened_at) if h and h.opened_at else None,
                probe_started_at=(as_utc(h.probe_started_at) if h and h.probe_started_at else None),
            )
        )
    return out


def plan_route(
    hub: Hub,
    reader: Reader,
    merchant_id: str,
    *,
    currency: str,
    amount_minor: int,
    livemode: bool,
) -> rules.Route:
    """The candidates (best first) and skipped accounts for a payment of this order."""
    rows = accounts.accounts_of(reader, merchant_id)
    choices = routing_store.routing_of(reader, merchant_id)
    policy = rules.RoutingPolicy.for_currency(
        currency,
        choices.default_gateway if choices else None,
        choices.currency_priorities if choices else {},
    )
    return rules.route(
        _facts(reader, rows, currency),
        amount_minor=amount_minor,
        livemode=livemode,
        policy=policy,
        now=hub.clock.now(),
        cooldown=cooldown(hub),
        stale_probe=stale_probe(hub),
    )


def retry_after_seconds(hub: Hub, reader: Reader, skipped: Sequence[rules.Skipped]) -> int:
    """When to try again after no gateway could take a payment: when the first open circuit
    that was skipped lets a probe through, else one cool-down."""
    now = hub.clock.now()
    open_ids = [s.account_id for s in skipped if s.reason == rules.CIRCUIT_OPEN]
    waits = [
        (as_utc(h.opened_at) + cooldown(hub) - now).total_seconds()
        for h in gateway_health.health_of(reader, open_ids).values()
        if h.opened_at is not None
    ]
    positive = [w for w in waits if w > 0]
    return max(1, math.ceil(min(positive) if positive else hub.settings.circuit_cooldown_seconds))


def claim_probe(hub: Hub, account_id: str) -> bool:
    """Take the one probe call of an open circuit; False when another caller has it."""
    now = hub.clock.now()
    with hub.db.write() as tx:
        return gateway_health.claim_probe(
            tx,
            account_id,
            now,
            opened_before=now - cooldown(hub) + timedelta(microseconds=1),
            stale_before=now - stale_probe(hub) + timedelta(microseconds=1),
        )


def record_create_success(tx: Tx, hub: Hub, account: GatewayAccount, now: datetime) -> None:
    if gateway_health.record_success(tx, account.id, account.merchant_id, now):
        enqueue_event(
            tx,
            merchant_id=account.merchant_id,
            event_type="operator.alert",
            event_key=f"operator.alert:gateway.recovered:{account.id}:{now.isoformat()}",
            payload={
                "kind": "gateway.recovered",
                "gateway": account.gateway,
                "account_id": account.id,
                "environment": account.environment,
            },
            now=now,
        )


def record_create_failure(
    tx: Tx, hub: Hub, account: GatewayAccount, exc: GatewayError, now: datetime
) -> None:
    """Count a failed create call against the account; the failure that opens the circuit
    raises the `gateway.unhealthy` operator alert (once per opening: the event key names
    the opening)."""
    if not rules.counts_against_health(exc):
        return
    threshold = hub.settings.circuit_failure_threshold
    opened = gateway_health.record_failure(
        tx,
        account.id,
        account.merchant_id,
        now,
        timeout=exc.gateway_code == "timeout",
        error=f"{exc.code}:{exc.gateway_code or ''}",
        threshold=threshold,
    )
    if opened:
        enqueue_event(
            tx,
            merchant_id=account.merchant_id,
            event_type="operator.alert",
            event_key=f"operator.alert:gateway.unhealthy:{account.id}:{now.isoformat()}",
            payload={
                "kind": "gateway.unhealthy",
                "gateway": account.gateway,
                "account_id": account.id,
                "environment": account.environment,
                "consecutive_failures": threshold,
                "code": exc.gateway_code or exc.code,
                "cooldown_seconds": hub.settings.circuit_cooldown_seconds,
            },
            now=now,
        )


# --------------------------------------------------------------------------- views


@dataclass(frozen=True, slots=True)
class AccountHealth:
    account_id: str
    gateway: str
    environment: str
    enabled: bool
    priority: int
    state: str
    consecutive_failures: int
    last_failure_at: datetime | None
    last_timeout_at: datetime | None
    last_success_at: datetime | None
    opened_at: datetime | None

    def health_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "consecutive_failures": self.consecutive_failures,
            "last_failure_at": _iso(self.last_failure_at),
            "last_timeout_at": _iso(self.last_timeout_at),
            "last_success_at": _iso(self.last_success_at),
            "opened_at": _iso(self.opened_at),
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else as_utc(value).isoformat()


def gateway_health_view(hub: Hub, merchant_id: str) -> list[AccountHealth]:
    """Every account of the merchant with its health, best priority first."""
    with hub.db.session() as session:
        rows = accounts.accounts_of(session, merchant_id)
        health = gateway_health.health_of(session, [r.id for r in rows])
        out = []
        for row in rows:
            h = health.get(row.id)
            out.append(
                AccountHealth(
                    account_id=row.id,
                    gateway=row.gateway,
                    environment=row.environment,
                    enabled=row.enabled,
                    priority=row.priority,
                    state=h.state if h else gateway_health.CLOSED,
                    consecutive_failures=h.consecutive_failures if h else 0,
                    last_failure_at=h.last_failure_at if h else None,
                    last_timeout_at=h.last_timeout_at if h else None,
                    last_success_at=h.last_success_at if h else None,
                    opened_at=h.opened_at if h else None,
                )
            )
        return out


@dataclass(frozen=True, slots=True)
class RoutingChoices:
    default_gateway: str | None
    currency_priorities: dict[str, list[str]]


def routing_choices(hub: Hub, merchant_id: str) -> RoutingChoices:
    with hub.db.session() as session:
        row = routing_store.routing_of(session, merchant_id)
        if row is None:
            return RoutingChoices(None, {})
        return RoutingChoices(
            row.default_gateway,
            {str(k): [str(g) for g in v] for k, v in row.currency_priorities.items()},
        )


# --------------------------------------------------------------------------- controls


def _known(gateway: str) -> None:
    if gateway not in gateway_names():
        raise InvalidRequest(f"unknown gateway {gateway!r}; known: {', '.join(gateway_names())}")


def set_priority(
    hub: Hub,
    merchant_id: str,
    gateway: str,
    environment: Environment,
    priority: int,
    *,
    actor: str,
    source_ip: str | None = None,
) -> None:
    """Set the account's priority (lower is tried first)."""
    now = hub.clock.now()
    with hub.db.write() as tx:
        row = accounts.account_for(tx, merchant_id, gateway, environment.value)
        if row is None:
            raise NotFound(f"no {environment.value} {gateway} account for {merchant_id}")
        before = row.priority
        row.priority = priority
        row.updated_at = now
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="gateway_account.priority",
            subject=row.id,
            source_ip=source_ip,
            before={"priority": before},
            after={"priority": priority},
            now=now,
        )


def set_default_gateway(
    hub: Hub, merchant_id: str, gateway: str | None, *, actor: str, source_ip: str | None = None
) -> None:
    """The gateway routing prefers among accounts of equal rank (None: no default)."""
    if gateway is not None:
        _known(gateway)
    now = hub.clock.now()
    with hub.db.write() as tx:
        current = routing_store.routing_of(tx, merchant_id)
        before = current.default_gateway if current else None
        routing_store.set_default_gateway(tx, merchant_id, gateway, now)
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="routing.default_gateway",
            subject=merchant_id,
            source_ip=source_ip,
            before={"default_gateway": before},
            after={"default_gateway": gateway},
            now=now,
        )


def set_currency_priorities(
    hub: Hub,
    merchant_id: str,
    currency: str,
    gateways: Sequence[str],
    *,
    actor: str,
    source_ip: str | None = None,
) -> None:
    """The order routing tries gateways in for `currency` (empty: back to priorities)."""
    for gateway in gateways:
        _known(gateway)
    if len(set(gateways)) != len(gateways):
        raise InvalidRequest("a gateway may appear once in a currency's order")
    currency = currency.upper()
    now = hub.clock.now()
    with hub.db.write() as tx:
        current = routing_store.routing_of(tx, merchant_id)
        before = dict(current.currency_priorities) if current else {}
        routing_store.set_currency_priorities(tx, merchant_id, currency, list(gateways), now)
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="routing.currency_priorities",
            subject=merchant_id,
            source_ip=source_ip,
            before={"currency_priorities": before},
            after={"currency": currency, "gateways": list(gateways)},
            now=now,
        )


def switch_environment(
    hub: Hub,
    merchant_id: str,
    gateway: str,
    target: Environment,
    *,
    actor: str,
    source_ip: str | None = None,
) -> str:
    """Enable the merchant's `target` account of `gateway` and disable its account in the
    other environment of the pair sandbox <-> production, in one audited transaction.
    Returns the enabled account's id."""
    if target not in (Environment.SANDBOX, Environment.PRODUCTION):
        raise InvalidRequest("switch goes to production or sandbox")
    other = Environment.SANDBOX if target is Environment.PRODUCTION else Environment.PRODUCTION
    now = hub.clock.now()
    with hub.db.write() as tx:
        row = accounts.account_for(tx, merchant_id, gateway, target.value)
        if row is None:
            raise NotFound(
                f"no {target.value} {gateway} account for {merchant_id}; "
                f"configure it first (payhub gateway set --env {target.value})"
            )
        if account_status(row)["missing"]:
            raise InvalidRequest(
                f"the {target.value} {gateway} account lacks "
                f"{', '.join(account_status(row)['missing'])}"
            )
        previous = accounts.account_for(tx, merchant_id, gateway, other.value)
        before: dict[str, Any] = {
            target.value: row.enabled,
            other.value: None if previous is None else previous.enabled,
        }
        row.enabled = True
        row.updated_at = now
        if previous is not None:
            previous.enabled = False
            previous.updated_at = now
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="gateway_account.switch",
            subject=row.id,
            source_ip=source_ip,
            before={"gateway": gateway, "enabled": before},
            after={
                "gateway": gateway,
                "enabled": {target.value: True, other.value: False if previous else None},
            },
            now=now,
        )
        account_id = row.id
    hub.forget_adapters()
    return account_id

"""Read model of the console's dashboard: SQL aggregates over a period of whole days.

A period is the last 1, 7 or 30 calendar days in the dashboard's zone (the settings'
`console_timezone`, GMT+7 unless configured), today included up to now. Days are cut by
boundaries computed here, in that zone, and passed to the database as UTC instants; each
row is put in its day by a CASE over those boundaries, so the same SQL runs on SQLite and
PostgreSQL and a zone with daylight saving time still gets its days right.

- volume and count: orders *paid* in the period (by `paid_at`), per currency, gross (later
  refunds are not subtracted);
- success rate: attempts *started* each day per gateway (operator-recorded manual payments
  left out): succeeded ÷ all started;
- average time to confirmation: from the paying attempt's start to the order's `paid_at`;
- review queue: payments in review now; failing endpoints: the merchant's webhook endpoints
  with deliveries given up or being retried among the period's events, or disabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from payhub.store.db import Database
from payhub.store.models import Delivery, Order, Payment, WebhookEndpoint
from payhub.store.reads.running import run_read

PERIODS = {"today": 1, "7d": 7, "30d": 30}


@dataclass(frozen=True, slots=True)
class CurrencyTotals:
    currency: str
    volume: int  # minor units
    count: int
    daily_volume: tuple[int, ...]  # one per day of the period
    daily_count: tuple[int, ...]
    average_confirmation_seconds: float | None


@dataclass(frozen=True, slots=True)
class GatewayDays:
    gateway: str
    started: tuple[int, ...]  # attempts started per day
    succeeded: tuple[int, ...]

    @property
    def total_started(self) -> int:
        return sum(self.started)

    @property
    def total_succeeded(self) -> int:
        return sum(self.succeeded)

    def rate(self, day: int | None = None) -> float | None:
        """Succeeded ÷ started, of one day or of the period; None when nothing started."""
        started = self.total_started if day is None else self.started[day]
        won = self.total_succeeded if day is None else self.succeeded[day]
        return None if started == 0 else won / started


@dataclass(frozen=True, slots=True)
class EndpointTrouble:
    id: str
    url: str
    enabled: bool
    disabled_reason: str | None
    failed: int  # deliveries given up
    retrying: int  # deliveries pending after at least one failed attempt


@dataclass(frozen=True, slots=True)
class Dashboard:
    period: str
    days: tuple[date, ...]
    since: datetime  # UTC start of the first day
    totals: tuple[CurrencyTotals, ...]
    gateways: tuple[GatewayDays, ...]
    review_count: int
    failing_endpoints: tuple[EndpointTrouble, ...]


def day_boundaries(now: datetime, days: int, zone: ZoneInfo) -> tuple[list[date], list[datetime]]:
    """The last `days` calendar days in `zone` up to `now`, and their starts in UTC (plus
    the start of tomorrow, the end of the last one)."""
    today = now.astimezone(zone).date()
    dates = [today - timedelta(days=days - 1 - i) for i in range(days)]
    starts = [datetime.combine(d, time(0), zone).astimezone(UTC) for d in dates]
    starts.append(datetime.combine(today + timedelta(days=1), time(0), zone).astimezone(UTC))
    return dates, starts


def _day_of(column: Any, starts: list[datetime]) -> ColumnElement[int]:
    return case(*((column < starts[i + 1], i) for i in range(len(starts) - 1)), else_=-1)


def _seconds_between(session: Session, later: Any, earlier: Any) -> ColumnElement[float]:
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return cast(ColumnElement[float], func.extract("epoch", later - earlier))


def _dashboard(
    session: Session, merchant_id: str, period: str, now: datetime, zone: ZoneInfo
) -> Dashboard:
    n = PERIODS[period]
    dates, starts = day_boundaries(now, n, zone)
    since, until = starts[0], starts[-1]

    paid_day = _day_of(Order.paid_at, starts).label("day")
    volume: dict[str, list[int]] = {}
    count: dict[str, list[int]] = {}
    for currency, day, total, number in session.execute(
        select(Order.currency, paid_day, func.sum(Order.total_minor), func.count())
        .where(
            Order.merchant_id == merchant_id,
            Order.paid_at.is_not(None),
            Order.paid_at >= since,
            Order.paid_at < until,
        )
        .group_by(Order.currency, paid_day)
    ):
        if day < 0:
            continue
        volume.setdefault(currency, [0] * n)[day] += int(total or 0)
        count.setdefault(currency, [0] * n)[day] += int(number)

    seconds = _seconds_between(session, Order.paid_at, Payment.created_at)
    averages = {
        currency: float(avg) if avg is not None else None
        for currency, avg in session.execute(
            select(Order.currency, func.avg(seconds))
            .join(Payment, Payment.id == Order.paid_payment_id)
            .where(
                Order.merchant_id == merchant_id,
                Order.paid_at >= since,
                Order.paid_at < until,
                Payment.gateway != "manual",
            )
            .group_by(Order.currency)
        )
    }
    totals = tuple(
        CurrencyTotals(
            currency=c,
            volume=sum(volume[c]),
            count=sum(count[c]),
            daily_volume=tuple(volume[c]),
            daily_count=tuple(count[c]),
            average_confirmation_seconds=averages.get(c),
        )
        for c in sorted(volume)
    )

    started_day = _day_of(Payment.created_at, starts).label("day")
    won = func.sum(case((Payment.status == "succeeded", 1), else_=0))
    started: dict[str, list[int]] = {}
    succeeded: dict[str, list[int]] = {}
    for gateway, day, number, wins in session.execute(
        select(Payment.gateway, started_day, func.count(), won)
        .where(
            Payment.merchant_id == merchant_id,
            Payment.gateway != "manual",
            Payment.created_at >= since,
            Payment.created_at < until,
        )
        .group_by(Payment.gateway, started_day)
    ):
        if day < 0:
            continue
        started.setdefault(gateway, [0] * n)[day] += int(number)
        succeeded.setdefault(gateway, [0] * n)[day] += int(wins or 0)
    gateways = tuple(
        GatewayDays(gateway=g, started=tuple(started[g]), succeeded=tuple(succeeded[g]))
        for g in sorted(started)
    )

    review_count = int(
        session.scalar(
            select(func.count())
            .select_from(Payment)
            .where(Payment.merchant_id == merchant_id, Payment.status == "review")
        )
        or 0
    )

    failed = func.sum(case((Delivery.state == "failed", 1), else_=0))
    retrying = func.sum(
        case((and_(Delivery.state == "pending", Delivery.attempts > 0), 1), else_=0)
    )
    trouble = {
        endpoint_id: (int(f or 0), int(r or 0))
        for endpoint_id, f, r in session.execute(
            select(Delivery.endpoint_id, failed, retrying)
            .where(Delivery.merchant_id == merchant_id, Delivery.created_at >= since)
            .group_by(Delivery.endpoint_id)
        )
    }
    endpoints = session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.merchant_id == merchant_id)
        .order_by(WebhookEndpoint.created_at)
    ).all()
    failing = tuple(
        EndpointTrouble(
            id=e.id,
            url=e.url,
            enabled=e.enabled,
            disabled_reason=e.disabled_reason,
            failed=trouble.get(e.id, (0, 0))[0],
            retrying=trouble.get(e.id, (0, 0))[1],
        )
        for e in endpoints
        if not e.enabled or any(trouble.get(e.id, (0, 0)))
    )
    return Dashboard(
        period=period,
        days=tuple(dates),
        since=since,
        totals=totals,
        gateways=gateways,
        review_count=review_count,
        failing_endpoints=failing,
    )


async def dashboard(
    db: Database, merchant_id: str, *, period: str, now: datetime, zone: ZoneInfo
) -> Dashboard:
    """The merchant's dashboard for `period` (today | 7d | 30d) as of `now`, days in `zone`."""
    if period not in PERIODS:
        raise ValueError(f"period is one of {', '.join(PERIODS)}")
    return await run_read(db, _dashboard, merchant_id, period, now, zone)

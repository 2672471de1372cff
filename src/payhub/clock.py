"""An injectable clock. payhub keeps UTC inside; gateway-local wall time only at the edge.

Vietnamese gateways speak GMT+7 (Asia/Ho_Chi_Minh), Malaysian ones GMT+8
(Asia/Kuala_Lumpur). The host timezone never matters: every conversion names its zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
MALAYSIA = ZoneInfo("Asia/Kuala_Lumpur")


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock tests can set and advance."""

    def __init__(self, at: datetime) -> None:
        self._at = ensure_utc(at)

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta


def ensure_utc(value: datetime) -> datetime:
    """Return `value` as aware UTC; naive datetimes are rejected (they hide host-TZ bugs)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: payhub only handles timezone-aware times")
    return value.astimezone(UTC)


def as_utc(value: datetime) -> datetime:
    """Read a datetime coming back from a database: naive values are stored UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_local(value: datetime, zone: ZoneInfo) -> datetime:
    """Wall-clock time in a gateway's zone."""
    return ensure_utc(value).astimezone(zone)


def from_local(naive_wall_time: datetime, zone: ZoneInfo) -> datetime:
    """Interpret a gateway's naive wall-clock time in its zone and return UTC."""
    if naive_wall_time.tzinfo is not None:
        return naive_wall_time.astimezone(UTC)
    return naive_wall_time.replace(tzinfo=zone).astimezone(UTC)

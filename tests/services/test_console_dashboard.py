"""The dashboard's read model on SQLite and PostgreSQL: days are the configured zone's
calendar days, whatever the host's or the database's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from payhub.clock import FrozenClock
from payhub.services.manual import record_manual_payment
from payhub.store.reads.dashboard import dashboard, day_boundaries
from tests.services.conftest import Env

pytestmark = pytest.mark.anyio
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


async def test_an_order_paid_at_23_30_in_vietnam_counts_for_that_vietnamese_day(env: Env) -> None:
    paid_at = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)  # 23:30 on 1 December in GMT+7
    env.hub.clock = FrozenClock(paid_at - timedelta(minutes=5))
    order_id = env.order()
    env.hub.clock = FrozenClock(paid_at)
    record_manual_payment(
        env.hub,
        env.merchant_id,
        order_id,
        amount=20_000,
        reference="cash-1",
        note="",
        actor="test",
        source_ip=None,
    )
    later = paid_at + timedelta(hours=2)  # 01:30 on 2 December in GMT+7, 18:30 UTC on 1 Dec

    vn_today = await dashboard(env.hub.db, env.merchant_id, period="today", now=later, zone=VIETNAM)
    assert vn_today.totals == ()  # 2 December in Vietnam: nothing yet
    vn_week = await dashboard(env.hub.db, env.merchant_id, period="7d", now=later, zone=VIETNAM)
    [vnd] = vn_week.totals
    assert (vnd.currency, vnd.volume, vnd.count) == ("VND", 20_000, 1)
    assert vnd.daily_volume == (0, 0, 0, 0, 0, 20_000, 0)  # 1 December, the day before today
    assert vn_week.days[-1].isoformat() == "2026-12-02"

    utc_today = await dashboard(
        env.hub.db, env.merchant_id, period="today", now=later, zone=ZoneInfo("UTC")
    )
    [vnd] = utc_today.totals
    assert vnd.daily_volume == (20_000,)
    assert vn_week.gateways == ()  # manual payments are not a gateway's success


def test_day_boundaries_are_local_midnights_in_utc() -> None:
    now = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # 08:00 on 2 December in GMT+7
    days, starts = day_boundaries(now, 2, VIETNAM)
    assert [d.isoformat() for d in days] == ["2026-12-01", "2026-12-02"]
    assert starts == [
        datetime(2026, 11, 30, 17, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 17, 0, tzinfo=UTC),
        datetime(2026, 12, 2, 17, 0, tzinfo=UTC),
    ]
    # A zone with daylight saving time: the day it changes is 23 hours long.
    _, starts = day_boundaries(
        datetime(2026, 3, 9, 12, tzinfo=UTC), 2, ZoneInfo("America/New_York")
    )
    assert starts[1] - starts[0] == timedelta(hours=23)

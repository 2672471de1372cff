"""The console's dashboard (`/console/`): payments today, in 7 and in 30 days, per currency
and per gateway, with server-drawn charts (`charts`), the review queue's size, failing
webhook endpoints and the gateway accounts. The figures are `store.reads.dashboard`'s."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from payhub.gateways.registry import entry
from payhub.store import reads
from payhub.store.reads import dashboard as dashboard_reads
from payhub.web.console.auth import ConsoleDep
from payhub.web.console.charts import Series, bar_chart, rate_chart
from payhub.web.console.formatting import format_day
from payhub.web.console.i18n import translator

router = APIRouter()


def _display_name(gateway: str) -> str:
    try:
        return entry(gateway).adapter.display_name
    except KeyError:
        return gateway


@router.get("/")
async def dashboard(console: ConsoleDep, period: str = "7d") -> Response:
    if period not in dashboard_reads.PERIODS:
        period = "7d"
    _ = translator(console.locale)
    data = await dashboard_reads.dashboard(
        console.hub.db,
        console.merchant_id,
        period=period,
        now=console.hub.clock.now(),
        zone=console.zone,
    )
    labels = [format_day(d, console.locale) for d in data.days]
    volume_charts = [
        bar_chart(
            f"volume-{t.currency.lower()}",
            f"{_('Volume')} ({t.currency})",
            labels,
            list(t.daily_volume),
            [console.money(v, t.currency) for v in t.daily_volume],
            console.money(max(t.daily_volume, default=0), t.currency),
        )
        for t in data.totals
    ]
    rates = rate_chart(
        "success-rate",
        _("Success rate"),
        labels,
        [
            Series(_display_name(g.gateway), [g.rate(i) for i in range(len(data.days))])
            for g in data.gateways
        ],
    )
    accounts = await reads.gateway_accounts(console.hub.db, console.merchant_id)
    return console.render(
        "dashboard.html",
        title="Dashboard",
        period=period,
        periods=list(dashboard_reads.PERIODS),
        data=data,
        volume_charts=volume_charts,
        rate_chart=rates if data.gateways else None,
        accounts=accounts,
        display_name=_display_name,
    )

"""The console's audit log (`/console/audit`): who did what to which object, filtered by
actor, action, object and date (days in the console's time zone), newest first, paged
by cursor."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import Response

from payhub.domain.errors import InvalidRequest
from payhub.store.reads.console_pages import AuditFilter, audit_page
from payhub.web.console.auth import ConsoleDep

router = APIRouter()


def _day_start(value: str, zone: ZoneInfo, name: str) -> datetime | None:
    """The first instant of the day `value` (YYYY-MM-DD) in `zone`; None when empty."""
    if not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidRequest(f"{name} is a date, YYYY-MM-DD") from None
    return datetime.combine(day, time(), tzinfo=zone)


@router.get("/audit")
async def audit_log(
    console: ConsoleDep,
    actor: str = "",
    action: str = "",
    subject: str = "",
    since: str = "",
    until: str = "",
    cursor: int | None = None,
) -> Response:
    zone = console.zone
    start = _day_start(since[:20], zone, "since")
    end = _day_start(until[:20], zone, "until")
    where = AuditFilter(
        actor=actor.strip()[:200],
        action=action.strip()[:64],
        subject=subject.strip()[:100],
        since=start,
        until=end + timedelta(days=1) if end else None,  # the whole last day
    )
    page = await audit_page(console.hub.db, console.merchant_id, where, cursor=cursor)
    query = {"actor": actor, "action": action, "subject": subject, "since": since, "until": until}
    return console.render("audit/index.html", title="Audit log", page=page, filters=query)

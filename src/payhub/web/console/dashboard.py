"""The console's dashboard (`/console/`): what happened today, in 7 and in 30 days."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from payhub.web.console.auth import ConsoleDep

router = APIRouter()


@router.get("/")
async def dashboard(console: ConsoleDep) -> Response:
    return console.render("dashboard.html", title="Dashboard")

"""Merchant API v1, notifications: the e-mail and Telegram delivery log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from payhub.api.security import HubDep, MerchantDep
from payhub.store import reads

router = APIRouter()


@router.get("/notifications", summary="The e-mail and Telegram delivery log, newest first")
async def list_notifications(
    hub: HubDep,
    caller: MerchantDep,
    order_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    rows = await reads.notification_log(hub.db, caller.merchant_id, order_id=order_id, limit=limit)
    return {"data": [row.as_dict() for row in rows]}

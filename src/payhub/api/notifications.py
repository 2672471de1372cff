"""Merchant API v1, notifications: the e-mail and Telegram delivery log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from payhub.api.pagination import PageDep
from payhub.api.schemas import notifications as schemas
from payhub.api.schemas.common import list_of
from payhub.api.security import HubDep, MerchantDep
from payhub.domain.errors import InvalidRequest
from payhub.store import reads

router = APIRouter()


@router.get(
    "/notifications",
    summary="The e-mail and Telegram delivery log, newest first",
    operation_id="listNotifications",
    response_model=schemas.NotificationList,
)
async def list_notifications(
    hub: HubDep,
    caller: MerchantDep,
    page: PageDep,
    order_id: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    before: int | None = None
    if page.starting_after is not None:
        if not page.starting_after.isdigit():
            raise InvalidRequest(f"unknown cursor {page.starting_after}")
        before = int(page.starting_after)
    rows, has_more = await reads.notification_log(
        hub.db, caller.merchant_id, order_id=order_id, limit=page.limit, before_id=before
    )
    return list_of(
        [row.as_dict() for row in rows], has_more, str(rows[-1].id) if has_more else None
    )

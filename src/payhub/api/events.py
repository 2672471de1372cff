"""Merchant API v1, events: recent events, one event's delivery and attempt log, redelivery."""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Query

from payhub.api.security import HubDep, MerchantDep
from payhub.services import webhooks

router = APIRouter()


@router.get("/events", summary="Recent events, newest first")
async def list_events(
    hub: HubDep, caller: MerchantDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> dict[str, Any]:
    return {"data": await to_thread.run_sync(webhooks.list_events, hub, caller.merchant_id, limit)}


@router.get("/events/{event_id}", summary="An event with its delivery and attempt log")
async def get_event(event_id: str, hub: HubDep, caller: MerchantDep) -> dict[str, Any]:
    return await to_thread.run_sync(webhooks.event_log, hub, caller.merchant_id, event_id)


@router.post("/events/{event_id}/redeliver", summary="Send an event to its endpoints again")
async def redeliver_event(event_id: str, hub: HubDep, caller: MerchantDep) -> dict[str, Any]:
    count = await to_thread.run_sync(
        lambda: webhooks.redeliver(hub, caller.merchant_id, event_id, actor=caller.actor)
    )
    return {"event_id": event_id, "deliveries_rescheduled": count}

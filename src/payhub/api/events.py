"""Merchant API v1, events: the event list and one event (the same object as the delivered
webhook body), an event's deliveries with their attempt log, redelivery."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter

from payhub.api.pagination import PageDep, page_of
from payhub.api.problems import BY_ID, problem_responses
from payhub.api.schemas import events as schemas
from payhub.api.security import HubDep, MerchantDep
from payhub.services import webhooks

router = APIRouter()


@router.get(
    "/events",
    summary="Events, newest first",
    operation_id="listEvents",
    response_model=schemas.EventList,
)
async def list_events(hub: HubDep, caller: MerchantDep, page: PageDep) -> dict[str, Any]:
    return await to_thread.run_sync(
        lambda: webhooks.events_page(
            hub, caller.merchant_id, limit=page.limit, starting_after=page.starting_after
        )
    )


@router.get(
    "/events/{event_id}",
    summary="An event, exactly as it was delivered",
    operation_id="getEvent",
    response_model=schemas.Event,
    responses=problem_responses(*BY_ID),
)
async def get_event(event_id: str, hub: HubDep, caller: MerchantDep) -> dict[str, Any]:
    return await to_thread.run_sync(webhooks.get_event, hub, caller.merchant_id, event_id)


@router.get(
    "/events/{event_id}/deliveries",
    summary="An event's deliveries (one per endpoint) with their attempt log",
    operation_id="listEventDeliveries",
    response_model=schemas.DeliveryList,
    responses=problem_responses(*BY_ID),
)
async def list_event_deliveries(
    event_id: str, hub: HubDep, caller: MerchantDep, page: PageDep
) -> dict[str, Any]:
    rows = await to_thread.run_sync(webhooks.event_deliveries, hub, caller.merchant_id, event_id)
    return page_of(rows[::-1], page, lambda d: str(d["id"]))


@router.post(
    "/events/{event_id}/redeliver",
    summary="Send an event to its endpoints again",
    operation_id="redeliverEvent",
    response_model=schemas.Redelivery,
    responses=problem_responses(*BY_ID),
)
async def redeliver_event(event_id: str, hub: HubDep, caller: MerchantDep) -> dict[str, Any]:
    count = await to_thread.run_sync(
        lambda: webhooks.redeliver(hub, caller.merchant_id, event_id, actor=caller.actor)
    )
    return {"event_id": event_id, "deliveries_rescheduled": count}

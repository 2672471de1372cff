"""Merchant API v1, webhook endpoints: register (the whsec_ secret is shown once), list,
disable."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from payhub.api.idempotency import SecretMembers
from payhub.api.pagination import PageDep, page_of
from payhub.api.problems import BY_ID, problem_responses
from payhub.api.schemas import webhooks as schemas
from payhub.api.security import HubDep, MerchantDep
from payhub.services import webhooks

router = APIRouter()


class WebhookEndpointIn(BaseModel):
    url: str = Field(max_length=2000, description="where events are POSTed")
    event_types: list[str] = Field(
        default_factory=list, description="only these types; empty = every merchant event"
    )


@router.post(
    "/webhook-endpoints",
    status_code=201,
    summary="Register an endpoint; the whsec_ signing secret is returned once",
    description=(
        "The secret is in this response only. An Idempotency-Key replay answers the same "
        "201 with `secret: null` and `secret_redacted: true`: the stored response never "
        "holds it."
    ),
    dependencies=[Depends(SecretMembers("secret"))],
    operation_id="createWebhookEndpoint",
    response_model=schemas.CreatedWebhookEndpoint,
    response_model_exclude_none=False,
)
async def create_webhook_endpoint(
    body: WebhookEndpointIn, hub: HubDep, caller: MerchantDep
) -> dict[str, Any]:
    return await to_thread.run_sync(
        lambda: webhooks.create_endpoint(
            hub, caller.merchant_id, body.url, body.event_types, actor=caller.actor
        )
    )


@router.get(
    "/webhook-endpoints",
    summary="List endpoints, newest first (secrets are never shown again)",
    operation_id="listWebhookEndpoints",
    response_model=schemas.WebhookEndpointList,
)
async def list_webhook_endpoints(hub: HubDep, caller: MerchantDep, page: PageDep) -> dict[str, Any]:
    rows = await to_thread.run_sync(webhooks.list_endpoints, hub, caller.merchant_id)
    return page_of(rows[::-1], page, lambda e: str(e["id"]))


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    status_code=204,
    summary="Disable an endpoint",
    operation_id="deleteWebhookEndpoint",
    response_model=None,
    responses=problem_responses(*BY_ID),
)
async def disable_webhook_endpoint(endpoint_id: str, hub: HubDep, caller: MerchantDep) -> None:
    await to_thread.run_sync(
        lambda: webhooks.disable_endpoint(hub, caller.merchant_id, endpoint_id, actor=caller.actor)
    )

"""Merchant API v1, API keys: issue, list, revoke, rotate. Owner keys only (a standard key
gets 403); a new key is in the answer once (`key`), never in the stored idempotent reply."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from payhub.api.idempotency import SecretMembers
from payhub.api.problems import BY_ID, problem_responses
from payhub.api.schemas import api_keys as schemas
from payhub.api.schemas.common import list_of
from payhub.api.security import HubDep, OwnerDep
from payhub.services import api_keys
from payhub.store import reads

router = APIRouter()


class ApiKeyIn(BaseModel):
    mode: Literal["test", "live"] = "test"
    label: str = Field(default="", max_length=200)
    role: Literal["owner", "standard"] = "standard"


class RotateIn(BaseModel):
    overlap_seconds: int = Field(
        default=int(api_keys.DEFAULT_OVERLAP.total_seconds()),
        ge=0,
        le=int(api_keys.MAX_OVERLAP.total_seconds()),
        description="how long the old key keeps working (default 24 h, at most 7 days)",
    )


@router.post(
    "/api_keys",
    status_code=201,
    summary="Issue an API key (shown once in `key`)",
    description=(
        "The key is in this response only. An Idempotency-Key replay answers the same 201 "
        "with `key: null` and `key_redacted: true`: the stored response never holds it."
    ),
    dependencies=[Depends(SecretMembers("key"))],
    operation_id="createApiKey",
    response_model=schemas.IssuedApiKey,
    # `key_redacted` is only in a replay.
    response_model_exclude_unset=True,
)
async def create_api_key(body: ApiKeyIn, hub: HubDep, caller: OwnerDep) -> dict[str, Any]:
    issued = await to_thread.run_sync(
        lambda: api_keys.create_api_key(
            hub,
            caller.merchant_id,
            mode=body.mode,
            label=body.label,
            role=body.role,
            actor=caller.actor,
        )
    )
    return issued.as_dict()


@router.get(
    "/api_keys",
    summary="List the merchant's API keys, oldest first (prefixes, never keys)",
    operation_id="listApiKeys",
    response_model=schemas.ApiKeyList,
)
async def list_api_keys(hub: HubDep, caller: OwnerDep) -> dict[str, Any]:
    keys = await reads.api_keys(hub.db, caller.merchant_id)
    # A merchant has a handful of keys: one page, always complete.
    return list_of([k.as_dict() for k in keys], False, None)


@router.post(
    "/api_keys/{key_id}/revoke",
    summary="Revoke a key: the next request with it is 401",
    operation_id="revokeApiKey",
    response_model=schemas.ApiKey,
    responses=problem_responses(*BY_ID),
)
async def revoke_api_key(key_id: str, hub: HubDep, caller: OwnerDep) -> dict[str, Any]:
    view = await to_thread.run_sync(
        lambda: api_keys.revoke_api_key(hub, caller.merchant_id, key_id, actor=caller.actor)
    )
    return view.as_dict()


@router.post(
    "/api_keys/{key_id}/rotate",
    summary="Issue a replacement; the old key works for the overlap, then 401",
    description=(
        "The new key is in this response only (an Idempotency-Key replay has `key: null`, "
        "`key_redacted: true`). A revoked, expired or already rotated key is 409."
    ),
    dependencies=[Depends(SecretMembers("key"))],
    operation_id="rotateApiKey",
    response_model=schemas.RotatedApiKey,
    response_model_exclude_unset=True,
    responses=problem_responses(*BY_ID, 409),
)
async def rotate_api_key(
    key_id: str, body: RotateIn, hub: HubDep, caller: OwnerDep
) -> dict[str, Any]:
    issued, old = await to_thread.run_sync(
        lambda: api_keys.rotate_api_key(
            hub,
            caller.merchant_id,
            key_id,
            overlap=timedelta(seconds=body.overlap_seconds),
            actor=caller.actor,
        )
    )
    return {**issued.as_dict(), "replaces": old.as_dict()}

"""Merchant API v1, API keys: issue, list, revoke, rotate. Owner keys only (a standard key
gets 403); a new key is in the answer once (`key`), never in the stored idempotent reply."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from payhub.api.idempotency import SecretMembers
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
    dependencies=[Depends(SecretMembers("key"))],
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


@router.get("/api_keys", summary="List the merchant's API keys (prefixes, never keys)")
async def list_api_keys(hub: HubDep, caller: OwnerDep) -> dict[str, Any]:
    keys = await reads.api_keys(hub.db, caller.merchant_id)
    return {"data": [k.as_dict() for k in keys]}


@router.post("/api_keys/{key_id}/revoke", summary="Revoke a key: the next request with it is 401")
async def revoke_api_key(key_id: str, hub: HubDep, caller: OwnerDep) -> dict[str, Any]:
    view = await to_thread.run_sync(
        lambda: api_keys.revoke_api_key(hub, caller.merchant_id, key_id, actor=caller.actor)
    )
    return view.as_dict()


@router.post(
    "/api_keys/{key_id}/rotate",
    summary="Issue a replacement; the old key works for the overlap, then 401",
    dependencies=[Depends(SecretMembers("key"))],
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

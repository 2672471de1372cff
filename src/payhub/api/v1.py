"""The merchant API, v1: one router per resource, assembled under /v1. Amounts are integers
in the currency's minor units."""

from __future__ import annotations

from fastapi import APIRouter

from payhub.api import (
    api_keys,
    customers,
    events,
    gateways,
    notifications,
    orders,
    payments,
    products,
    refunds,
    review,
    webhooks,
)
from payhub.api.problems import V1_PROBLEMS, problem_responses

router = APIRouter(
    prefix="/v1", tags=["merchant API v1"], responses=problem_responses(*V1_PROBLEMS)
)
RESOURCES = (
    orders,
    payments,
    refunds,
    products,
    customers,
    gateways,
    webhooks,
    events,
    review,
    notifications,
    api_keys,
)
for resource in RESOURCES:
    router.include_router(resource.router)

"""Merchant API v1, gateways: the merchant's enabled gateways that can take an amount, and
validating an account's credentials against its gateway.

Each gateway is listed once, for the caller's mode (a test key sees its simulator or
sandbox account, a live key its production account), with that account's environment,
priority and health (circuit state). `required_credentials` and `ready` say whether an
account can be used at all (every required credential field set); the hosted checkout page
and the CLI use them too.
`validation_member` is the last validation of an account as the list shows it.
"""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Query, Request

from payhub.api.pagination import PageDep, page_of
from payhub.api.problems import BY_ID, problem_responses
from payhub.api.schemas import gateways as schemas
from payhub.api.security import HubDep, MerchantDep
from payhub.gateways.base import Environment
from payhub.gateways.registry import entry, gateway_names
from payhub.money import MAX_AMOUNT_MINOR, Money
from payhub.services import routing
from payhub.services.credential_check import validate_account
from payhub.store import reads

router = APIRouter()


def required_credentials(gateway: str) -> list[str]:
    """The credential fields `gateway` cannot work without (none for an unknown name)."""
    fields = entry(gateway).adapter.credential_fields if gateway in gateway_names() else ()
    return [f.name for f in fields if f.required]


def ready(account: reads.GatewayAccountView) -> bool:
    """Every required credential field of the account is set."""
    return not account.missing(required_credentials(account.gateway))


def validation_member(account: reads.GatewayAccountView) -> dict[str, Any]:
    """`"validation"` of a listed account: the last check against the gateway (`ok` null:
    the gateway could not tell; `checked_at` null: never validated)."""
    v = account.validation
    return {
        "ok": v.ok,
        "code": v.code,
        "checked_at": v.checked_at.isoformat() if v.checked_at is not None else None,
    }


@router.get(
    "/gateways",
    summary="Gateways enabled for this merchant, filtered by amount",
    operation_id="listGateways",
    response_model=schemas.GatewayList,
)
async def available_gateways(
    hub: HubDep,
    caller: MerchantDep,
    page: PageDep,
    amount: Annotated[int | None, Query(ge=0, le=MAX_AMOUNT_MINOR)] = None,
    currency: str | None = None,
) -> dict[str, Any]:
    accounts = await reads.gateway_accounts(hub.db, caller.merchant_id, enabled_only=True)
    health = {
        h.account_id: h
        for h in await to_thread.run_sync(routing.gateway_health_view, hub, caller.merchant_id)
    }
    out = []
    listed: set[str] = set()
    # Best priority first, as routing ranks one gateway's accounts: the first is the one used.
    for account in sorted(accounts, key=lambda a: (a.priority, a.id)):
        if not ready(account) or account.gateway in listed:
            continue
        if Environment(account.environment).is_live != caller.livemode:
            continue
        caps = entry(account.gateway).adapter.capabilities
        if currency is not None:
            limits = caps.limits_for(currency)
            if limits is None:
                continue
            if amount is not None and not limits.min_minor <= amount <= limits.max_minor:
                continue
        listed.add(account.gateway)
        h = health.get(account.id)
        out.append(
            {
                "gateway": account.gateway,
                "display_name": entry(account.gateway).adapter.display_name,
                "environment": account.environment,
                "account_id": account.id,
                "priority": account.priority,
                "health": {
                    "state": h.state if h else "closed",
                    "consecutive_failures": h.consecutive_failures if h else 0,
                    "last_failure_at": h.health_dict()["last_failure_at"] if h else None,
                },
                "refunds": caps.refund,
                "currencies": {
                    cur: {
                        "min": lim.min_minor,
                        "max": lim.max_minor,
                        "min_display": Money(lim.min_minor, cur).display(),
                    }
                    for cur, lim in caps.currencies.items()
                },
                "validation": validation_member(account),
            }
        )
    return page_of(out, page, lambda g: str(g["gateway"]))


@router.post(
    "/gateways/{gateway}/validate",
    summary="Check this merchant's account for a gateway against the gateway itself",
    operation_id="validateGateway",
    response_model=schemas.GatewayValidation,
    responses=problem_responses(*BY_ID),
)
async def validate_gateway(
    gateway: str,
    request: Request,
    hub: HubDep,
    caller: MerchantDep,
    environment: Environment | None = None,
) -> dict[str, Any]:
    """One harmless call to the gateway (see docs/gateways/); the answer is stored on the
    account, audited, and returned: `valid` true, false (the gateway's `code` says why) or
    null (the gateway could not tell). Only accounts of the key's mode are considered."""
    result = await validate_account(
        hub,
        caller.merchant_id,
        gateway,
        environment,
        allowed=Environment.for_mode(caller.livemode),
        actor=caller.actor,
        source_ip=request.client.host if request.client else None,
    )
    return result.as_dict()

"""Merchant API v1, gateways: the merchant's enabled gateways that can take an amount.

`required_credentials` and `ready` say whether an account can be used at all (every
required credential field set); the hosted checkout page and the CLI use them too.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from payhub.api.pagination import PageDep, page_of
from payhub.api.schemas import gateways as schemas
from payhub.api.security import HubDep, MerchantDep
from payhub.gateways.registry import entry, gateway_names
from payhub.money import MAX_AMOUNT_MINOR, Money
from payhub.store import reads

router = APIRouter()


def required_credentials(gateway: str) -> list[str]:
    """The credential fields `gateway` cannot work without (none for an unknown name)."""
    fields = entry(gateway).adapter.credential_fields if gateway in gateway_names() else ()
    return [f.name for f in fields if f.required]


def ready(account: reads.GatewayAccountView) -> bool:
    """Every required credential field of the account is set."""
    return not account.missing(required_credentials(account.gateway))


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
    out = []
    for account in accounts:
        if not ready(account):
            continue
        caps = entry(account.gateway).adapter.capabilities
        if currency is not None:
            limits = caps.limits_for(currency)
            if limits is None:
                continue
            if amount is not None and not limits.min_minor <= amount <= limits.max_minor:
                continue
        out.append(
            {
                "gateway": account.gateway,
                "display_name": entry(account.gateway).adapter.display_name,
                "environment": account.environment,
                "refunds": caps.refund,
                "currencies": {
                    cur: {
                        "min": lim.min_minor,
                        "max": lim.max_minor,
                        "min_display": Money(lim.min_minor, cur).display(),
                    }
                    for cur, lim in caps.currencies.items()
                },
            }
        )
    return page_of(out, page, lambda g: str(g["gateway"]))

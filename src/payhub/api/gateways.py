"""Merchant API v1, gateways: the merchant's enabled gateways that can take an amount."""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter
from sqlalchemy import select

from payhub.api.security import HubDep, MerchantDep
from payhub.gateways.registry import entry
from payhub.money import Money
from payhub.services.accounts import account_status
from payhub.store.models import GatewayAccount

router = APIRouter()


@router.get("/gateways", summary="Gateways enabled for this merchant, filtered by amount")
async def available_gateways(
    hub: HubDep, caller: MerchantDep, amount: int | None = None, currency: str | None = None
) -> dict[str, Any]:

    def run() -> dict[str, Any]:
        with hub.db.session() as session:
            rows = session.scalars(
                select(GatewayAccount)
                .where(
                    GatewayAccount.merchant_id == caller.merchant_id,
                    GatewayAccount.enabled.is_(True),
                )
                .order_by(GatewayAccount.priority)
            ).all()
            out = []
            for row in rows:
                status = account_status(row)
                if status["missing"]:
                    continue
                caps = entry(row.gateway).adapter.capabilities
                if currency is not None:
                    limits = caps.limits_for(currency)
                    if limits is None:
                        continue
                    if amount is not None and not limits.min_minor <= amount <= limits.max_minor:
                        continue
                out.append(
                    {
                        "gateway": row.gateway,
                        "display_name": entry(row.gateway).adapter.display_name,
                        "environment": row.environment,
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
            return {"data": out}

    return await to_thread.run_sync(run)

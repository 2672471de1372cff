"""Who is calling: merchant secret API keys, or a customer's bearer JWT (own orders only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from anyio import to_thread
from fastapi import Depends, Request

from payhub.domain.errors import Forbidden, Unauthorized
from payhub.services import api_keys, customer_tokens
from payhub.services.context import Hub


def hub_of(request: Request) -> Hub:
    hub = request.app.state.hub
    assert isinstance(hub, Hub)
    return hub


async def get_hub(request: Request) -> Hub:
    # async on purpose: FastAPI runs a plain `def` dependency in its thread pool, which
    # would cost every request a thread hop.
    return hub_of(request)


HubDep = Annotated[Hub, Depends(get_hub)]


@dataclass(frozen=True, slots=True)
class Caller:
    merchant_id: str
    actor: str
    customer_external_id: str | None = None  # set for customer tokens
    livemode: bool = False  # sk_live_ keys (and live customer issuers): production only
    key_role: str | None = None  # owner | standard, for API keys

    @property
    def is_customer(self) -> bool:
        return self.customer_external_id is not None


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send Authorization: Bearer sk_test_… (or a customer token)")
    return token.strip()


def merchant_for_key(hub: Hub, token: str) -> Caller:
    now = hub.clock.now()
    with hub.db.session() as session:
        principal = api_keys.authenticate_api_key(session, token, now)
    if api_keys.needs_last_used_stamp(principal, now):
        api_keys.note_key_used(hub, principal, now)
    return Caller(
        merchant_id=principal.merchant_id,
        actor=f"api_key:{principal.key_id}",
        livemode=principal.mode == "live",
        key_role=principal.role,
    )


async def merchant_caller(request: Request, hub: HubDep) -> Caller:
    token = _bearer(request)
    if not token.startswith(("sk_test_", "sk_live_")):
        raise Unauthorized("this endpoint needs a merchant secret key")
    cached = getattr(request.state, "caller", None)
    if isinstance(cached, Caller):
        return cached
    caller = await to_thread.run_sync(merchant_for_key, hub, token)
    request.state.caller = caller
    return caller


async def owner_caller(request: Request, hub: HubDep) -> Caller:
    """A merchant's owner key: managing keys needs one (a standard key gets 403)."""
    caller = await merchant_caller(request, hub)
    if caller.key_role != "owner":
        raise Forbidden("only an owner key may manage API keys")
    return caller


async def any_caller(request: Request, hub: HubDep) -> Caller:
    """A merchant key, or a customer token of an issuer a merchant trusts
    (services.customer_tokens)."""
    token = _bearer(request)
    if token.startswith(("sk_test_", "sk_live_")):
        return await merchant_caller(request, hub)
    identity = await customer_tokens.verify_customer_token(hub, token)
    return Caller(
        merchant_id=identity.merchant_id,
        actor=f"customer:{identity.external_id}",
        customer_external_id=identity.external_id,
        livemode=identity.livemode,
    )


# Clock skew allowed on a customer token's exp, nbf and iat.
CUSTOMER_JWT_LEEWAY_SECONDS = customer_tokens.LEEWAY_SECONDS


def require_own_order(caller: Caller, order_customer_external_id: str | None) -> None:
    if caller.is_customer and caller.customer_external_id != order_customer_external_id:
        raise Forbidden("this order belongs to another customer")


MerchantDep = Annotated[Caller, Depends(merchant_caller)]
OwnerDep = Annotated[Caller, Depends(owner_caller)]
CallerDep = Annotated[Caller, Depends(any_caller)]

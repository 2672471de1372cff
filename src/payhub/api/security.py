"""Who is calling: merchant secret API keys, or a customer's bearer JWT (own orders only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from anyio import to_thread
from fastapi import Depends, Request

from payhub.domain.errors import Forbidden, Unauthorized
from payhub.services import jwks
from payhub.services.context import Hub
from payhub.services.merchants import authenticate_api_key
from payhub.settings import Settings


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
    with hub.db.session() as session:
        principal = authenticate_api_key(session, token)
    return Caller(
        merchant_id=principal.merchant_id,
        actor=f"api_key:{principal.key_id}",
        livemode=principal.mode == "live",
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


# Clock skew allowed on exp, nbf and iat.
CUSTOMER_JWT_LEEWAY_SECONDS = 30


def _required_claims(settings: Settings) -> list[str]:
    required = ["sub", "mid", "exp", "iat"]
    if settings.customer_jwt_audience:
        required.append("aud")
    if settings.customer_jwt_issuer:
        required.append("iss")
    return required


def _checked_lifetime(settings: Settings, claims: dict[str, Any]) -> dict[str, Any]:
    """The claims of a signature-verified token, refused when it lives longer than the
    hub allows (a token minted for a century is a stolen credential forever)."""
    exp, iat = claims["exp"], claims["iat"]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (exp, iat)):
        raise Unauthorized("invalid customer token: exp and iat must be numbers")
    if exp - iat > settings.customer_jwt_max_lifetime_seconds:
        raise Unauthorized(
            "invalid customer token: it lives longer than "
            f"{settings.customer_jwt_max_lifetime_seconds} s (exp - iat)"
        )
    if not str(claims["sub"]) or not str(claims["mid"]):
        raise Unauthorized("invalid customer token: empty sub or mid")
    return claims


def _decode(hub: Hub, token: str, key: Any, algorithms: list[str]) -> dict[str, Any]:
    settings = hub.settings
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=algorithms,
        options={"require": _required_claims(settings)},
        audience=settings.customer_jwt_audience,
        issuer=settings.customer_jwt_issuer,
        leeway=CUSTOMER_JWT_LEEWAY_SECONDS,
    )
    return _checked_lifetime(settings, claims)


async def _customer_claims(hub: Hub, token: str) -> dict[str, Any]:
    """The verified claims of a customer token: against the JWKS (fetched through the
    outbound policy, cached; see services.jwks) or the shared secret."""
    settings = hub.settings
    try:
        if settings.customer_jwks_url:
            key = await jwks.signing_key(hub, settings.customer_jwks_url, token)
            return await to_thread.run_sync(_decode, hub, token, key.key, ["RS256", "ES256"])
        if settings.customer_jwt_secret:
            secret = settings.customer_jwt_secret.get_secret_value()
            return await to_thread.run_sync(_decode, hub, token, secret, ["HS256"])
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid customer token: {type(exc).__name__}") from None
    raise Unauthorized("customer tokens are not configured on this hub")


async def any_caller(request: Request, hub: HubDep) -> Caller:
    """A merchant key, or a customer JWT (claims: sub = customer id, mid = merchant id)."""
    token = _bearer(request)
    if token.startswith(("sk_test_", "sk_live_")):
        return await merchant_caller(request, hub)
    claims = await _customer_claims(hub, token)
    return Caller(
        merchant_id=str(claims["mid"]),
        actor=f"customer:{claims['sub']}",
        customer_external_id=str(claims["sub"]),
    )


def require_own_order(caller: Caller, order_customer_external_id: str | None) -> None:
    if caller.is_customer and caller.customer_external_id != order_customer_external_id:
        raise Forbidden("this order belongs to another customer")


MerchantDep = Annotated[Caller, Depends(merchant_caller)]
CallerDep = Annotated[Caller, Depends(any_caller)]

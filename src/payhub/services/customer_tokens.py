"""Customer bearer tokens: each merchant names the issuers it trusts.

A merchant configures one or more issuers: the `iss` value, the `aud` its tokens carry, the
key (the issuer's JWKS URL, or a shared secret kept in the vault), the claim holding the
customer's external id (default `sub`), the algorithms allowed and the mode (`livemode`) the
tokens act in. A token is matched by its `iss` and `aud`, read before verification only to
pick the key; the merchant comes from the matched issuer, never from a claim of the token.
So a Firebase ID token (`iss = https://securetoken.google.com/<project>`, `aud =
<project>`, RS256 with a `kid`, Google's JWKS) works unchanged.

A token no merchant's issuer matches falls back to the hub-wide settings
(`PAYHUB_CUSTOMER_JWT_SECRET` / `PAYHUB_CUSTOMER_JWKS_URL`, with payhub's `mid` claim naming
the merchant) when those are set; otherwise it is refused.

Every token must carry `exp` and `iat` (and `iss`, `aud` and the customer claim), live at
most `PAYHUB_CUSTOMER_JWT_MAX_LIFETIME_SECONDS`, and is checked with 30 s of leeway. The
algorithms are pinned per issuer: a JWKS issuer takes asymmetric ones only and a secret
issuer HMAC ones only, so a token cannot choose how it is checked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jwt
from anyio import to_thread

from payhub.domain.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from payhub.outbound import OutboundPolicy, check_url_blocking
from payhub.services import jwks
from payhub.services.context import Hub
from payhub.services.vault import decrypt_credentials, encrypt_credentials
from payhub.store import customer_tokens, merchants
from payhub.store.encrypted import CUSTOMER_TOKEN_SECRET
from payhub.store.ids import new_id
from payhub.store.journal import add_audit
from payhub.store.models import CustomerTokenIssuer

__all__ = [
    "LEEWAY_SECONDS",
    "CustomerIdentity",
    "IssuerView",
    "list_issuers",
    "remove_issuer",
    "set_issuer",
    "verify_customer_token",
]

# Clock skew allowed on exp, nbf and iat.
LEEWAY_SECONDS = 30
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384")
HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")


@dataclass(frozen=True, slots=True)
class CustomerIdentity:
    """Who a verified customer token speaks for."""

    merchant_id: str
    external_id: str
    livemode: bool


@dataclass(frozen=True, slots=True)
class IssuerView:
    """An issuer as `payhub customer-tokens show` lists it (never the secret)."""

    id: str
    merchant_id: str
    issuer: str
    audience: str
    jwks_url: str | None
    has_secret: bool
    customer_claim: str
    algorithms: tuple[str, ...]
    livemode: bool

    @classmethod
    def of(cls, row: CustomerTokenIssuer) -> IssuerView:
        return cls(
            id=row.id,
            merchant_id=row.merchant_id,
            issuer=row.issuer,
            audience=row.audience,
            jwks_url=row.jwks_url,
            has_secret=row.secret_ciphertext is not None,
            customer_claim=row.customer_claim,
            algorithms=tuple(row.algorithms.get("allowed", ())),
            livemode=bool(row.livemode),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "issuer": self.issuer,
            "audience": self.audience,
            "jwks_url": self.jwks_url,
            "shared_secret": self.has_secret,
            "customer_claim": self.customer_claim,
            "algorithms": list(self.algorithms),
            "livemode": self.livemode,
        }


def _checked_algorithms(algorithms: list[str] | None, *, jwks_url: bool) -> list[str]:
    allowed = ASYMMETRIC_ALGORITHMS if jwks_url else HMAC_ALGORITHMS
    chosen = algorithms or (["RS256"] if jwks_url else ["HS256"])
    wrong = [a for a in chosen if a not in allowed]
    if wrong:
        kind = "a JWKS issuer" if jwks_url else "a shared-secret issuer"
        raise InvalidRequest(f"{kind} takes only {', '.join(allowed)}; not {', '.join(wrong)}")
    return sorted(set(chosen))


def set_issuer(
    hub: Hub,
    merchant_id: str,
    *,
    issuer: str,
    audience: str,
    jwks_url: str | None = None,
    secret: str | None = None,
    customer_claim: str = "sub",
    algorithms: list[str] | None = None,
    livemode: bool = False,
    actor: str,
) -> IssuerView:
    """Create or replace the merchant's issuer for (`issuer`, `audience`)."""
    if (jwks_url is None) == (secret is None):
        raise InvalidRequest("give a JWKS URL or a shared secret (one of them)")
    if not issuer.strip() or not audience.strip() or len(issuer) > 500 or len(audience) > 500:
        raise InvalidRequest("issuer and audience are 1 to 500 characters")
    if not customer_claim.strip() or len(customer_claim) > 100:
        raise InvalidRequest("the customer claim is 1 to 100 characters")
    if jwks_url is not None:
        check_url_blocking(jwks_url, OutboundPolicy.from_settings(hub.settings))
    if secret is not None and len(secret.encode()) < 32:
        raise InvalidRequest("a shared secret is at least 32 bytes")
    allowed = _checked_algorithms(algorithms, jwks_url=jwks_url is not None)
    now = hub.clock.now()
    with hub.db.write() as tx:
        if not merchants.merchant_exists(tx, merchant_id):
            raise NotFound(f"no merchant {merchant_id}")
        row = customer_tokens.issuer_to_change(tx, issuer, audience)
        if row is not None and row.merchant_id != merchant_id:
            raise Conflict("another merchant already trusts this issuer and audience")
        if row is None:
            row = customer_tokens.add_issuer(
                tx,
                CustomerTokenIssuer(
                    id=new_id("cti"),
                    merchant_id=merchant_id,
                    issuer=issuer,
                    audience=audience,
                    created_at=now,
                ),
            )
        row.jwks_url = jwks_url
        row.customer_claim = customer_claim
        row.algorithms = {"allowed": allowed}
        row.livemode = livemode
        row.updated_at = now
        if secret is None:
            row.secret_ciphertext, row.secret_key_id = None, None
        else:
            row.secret_ciphertext, row.secret_key_id = encrypt_credentials(
                hub.require_master_key(), CUSTOMER_TOKEN_SECRET.subject(row.id), {"secret": secret}
            )
        view = IssuerView.of(row)
        add_audit(
            tx,
            merchant_id=merchant_id,
            actor=actor,
            action="customer_token_issuer.set",
            subject=row.id,
            after=view.as_dict(),
            now=now,
        )
        return view


def list_issuers(hub: Hub, merchant_id: str) -> list[IssuerView]:
    with hub.db.session() as session:
        return [IssuerView.of(r) for r in customer_tokens.issuers_of(session, merchant_id)]


def remove_issuer(
    hub: Hub, merchant_id: str, issuer: str, *, audience: str | None = None, actor: str
) -> int:
    """Forget the merchant's issuer (every audience of it unless one is named): its tokens
    are refused from the next request on."""
    now = hub.clock.now()
    with hub.db.write() as tx:
        removed = customer_tokens.remove_issuers(tx, merchant_id, issuer, audience)
        if removed:
            add_audit(
                tx,
                merchant_id=merchant_id,
                actor=actor,
                action="customer_token_issuer.removed",
                subject=issuer,
                before={"issuer": issuer, "audience": audience, "count": removed},
                now=now,
            )
    if not removed:
        raise NotFound(f"merchant {merchant_id} has no issuer {issuer}")
    return removed


# ------------------------------------------------------------------------ verification


@dataclass(frozen=True, slots=True)
class _Match:
    merchant_id: str
    issuer: str
    audience: str
    jwks_url: str | None
    secret: str | None
    customer_claim: str
    algorithms: list[str]
    livemode: bool


def _unverified_claims(token: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid customer token: {type(exc).__name__}") from None
    if not isinstance(claims, dict):
        raise Unauthorized("invalid customer token")
    return claims


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list):
        return [a for a in aud if isinstance(a, str)][:10]
    return []


def _match(hub: Hub, issuer: str, audiences: list[str]) -> _Match | None:
    with hub.db.session() as session:
        rows = customer_tokens.issuers_for(session, issuer, audiences)
    if not rows:
        return None
    row = rows[0]
    secret = None
    if row.secret_ciphertext is not None and row.secret_key_id is not None:
        secret = decrypt_credentials(
            hub.keys,
            CUSTOMER_TOKEN_SECRET.subject(row.id),
            bytes(row.secret_ciphertext),
            row.secret_key_id,
        )["secret"].reveal()
    return _Match(
        merchant_id=row.merchant_id,
        issuer=row.issuer,
        audience=row.audience,
        jwks_url=row.jwks_url,
        secret=secret,
        customer_claim=row.customer_claim,
        algorithms=list(row.algorithms.get("allowed", ())),
        livemode=bool(row.livemode),
    )


def _checked_lifetime(hub: Hub, claims: dict[str, Any], customer_claim: str) -> str:
    """The customer's external id from signature-verified claims; refused when the token
    lives longer than the hub allows (a token minted for a century is a stolen credential
    forever) or names no customer."""
    cap = hub.settings.customer_jwt_max_lifetime_seconds
    exp, iat = claims["exp"], claims["iat"]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (exp, iat)):
        raise Unauthorized("invalid customer token: exp and iat must be numbers")
    if exp - iat > cap:
        raise Unauthorized(f"invalid customer token: it lives longer than {cap} s (exp - iat)")
    customer = claims.get(customer_claim)
    if not isinstance(customer, str | int) or isinstance(customer, bool) or not str(customer):
        raise Unauthorized(f"invalid customer token: no customer id in {customer_claim}")
    return str(customer)[:200]


def _decode(
    token: str,
    key: Any,
    algorithms: list[str],
    required: list[str],
    audience: str | None,
    issuer: str | None,
) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=algorithms,
        options={"require": required},
        audience=audience,
        issuer=issuer,
        leeway=LEEWAY_SECONDS,
    )
    return claims


async def _verify_for_merchant(hub: Hub, token: str, match: _Match) -> CustomerIdentity:
    required = ["exp", "iat", "iss", "aud", match.customer_claim]
    key: Any
    if match.jwks_url is not None:
        key = (await jwks.signing_key(hub, match.jwks_url, token)).key
    else:
        key = match.secret
    claims = await to_thread.run_sync(
        _decode, token, key, match.algorithms, required, match.audience, match.issuer
    )
    external_id = _checked_lifetime(hub, claims, match.customer_claim)
    return CustomerIdentity(match.merchant_id, external_id, match.livemode)


async def _verify_hub_wide(hub: Hub, token: str) -> CustomerIdentity:
    """The fallback: the hub-wide key, with payhub's `mid` claim naming the merchant."""
    settings = hub.settings
    required = ["sub", "mid", "exp", "iat"]
    if settings.customer_jwt_audience:
        required.append("aud")
    if settings.customer_jwt_issuer:
        required.append("iss")
    key: Any
    if settings.customer_jwks_url:
        key = (await jwks.signing_key(hub, settings.customer_jwks_url, token)).key
        algorithms = ["RS256", "ES256"]
    elif settings.customer_jwt_secret:
        key = settings.customer_jwt_secret.get_secret_value()
        algorithms = ["HS256"]
    else:
        raise Unauthorized("no merchant trusts this token's issuer and audience")
    claims = await to_thread.run_sync(
        _decode,
        token,
        key,
        algorithms,
        required,
        settings.customer_jwt_audience,
        settings.customer_jwt_issuer,
    )
    external_id = _checked_lifetime(hub, claims, "sub")
    if not isinstance(claims["mid"], str) or not claims["mid"]:
        raise Unauthorized("invalid customer token: empty mid")
    return CustomerIdentity(claims["mid"], external_id, settings.customer_jwt_livemode)


async def verify_customer_token(hub: Hub, token: str) -> CustomerIdentity:
    """The identity of a verified customer token, or `Unauthorized`."""
    claims = _unverified_claims(token)
    issuer = claims.get("iss")
    audiences = _audiences(claims)
    try:
        if isinstance(issuer, str) and audiences:
            match = await to_thread.run_sync(_match, hub, issuer, audiences)
            if match is not None:
                return await _verify_for_merchant(hub, token, match)
        return await _verify_hub_wide(hub, token)
    except (jwt.PyJWTError, json.JSONDecodeError) as exc:
        raise Unauthorized(f"invalid customer token: {type(exc).__name__}") from None

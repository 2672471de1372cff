"""Customer tokens per merchant: each merchant trusts its own issuers, and the merchant is
the one whose issuer (`iss` + `aud`) signed the token, never a claim of payhub's. Tokens
are shaped as Firebase ID tokens (RS256 with a `kid`, `iss = https://securetoken.google.com/
<project>`, `aud = <project>`, `sub`, `user_id`, `auth_time`), signed by keys a real loopback
JWKS server publishes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payhub.domain.errors import Conflict, InvalidRequest
from payhub.services import api_keys, customer_tokens, jwks
from payhub.services.merchants import create_merchant, issue_api_key
from payhub.store.models import CustomerTokenIssuer
from tests.support.hub import HubUnderTest, make_hub
from tests.support.servers import serve_app

pytestmark = pytest.mark.anyio

SHARED_SECRET = "a-shared-secret-of-the-booking-app-0123456789"


@dataclass
class Google:
    """A JWKS endpoint per Firebase project: `/<project>/jwks.json`."""

    origin: str = ""
    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)

    def key(self, kid: str) -> rsa.RSAPrivateKey:
        return self.keys.setdefault(
            kid, rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )

    def app(self) -> Starlette:
        async def keys(request: Request) -> Response:
            kid = f"{request.path_params['project']}-k1"
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key(kid).public_key()))
            body = {"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "RS256"}]}
            return Response(json.dumps(body), media_type="application/json")

        return Starlette(routes=[Route("/{project}/jwks.json", keys)])

    def jwks_url(self, project: str) -> str:
        return f"{self.origin}/{project}/jwks.json"

    def id_token(self, project: str, uid: str, *, signer: str | None = None, **changes: Any) -> str:
        """A Firebase ID token of `project` for user `uid`."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": f"https://securetoken.google.com/{project}",
            "aud": project,
            "auth_time": now - 5,
            "user_id": uid,
            "sub": uid,
            "iat": now,
            "exp": now + 3600,
            "email": f"{uid}@example.com",
            "firebase": {"identities": {}, "sign_in_provider": "password"},
            **changes,
        }
        kid = f"{signer or project}-k1"
        return jwt.encode(claims, self.key(kid), algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def google() -> Iterator[Google]:
    jwks.forget()
    found = Google()
    with serve_app(found.app()) as origin:
        found.origin = origin
        yield found
    jwks.forget()


@dataclass
class Shops:
    th: HubUnderTest
    client: httpx.AsyncClient
    flowers: str  # merchant ids
    books: str
    flowers_key: str
    books_key: str


@pytest.fixture
async def shops(sqlite_url: str, google: Google) -> AsyncIterator[Shops]:
    th = make_hub(sqlite_url)
    books = create_merchant(th.hub, "Book Shop", actor="test")
    books_key = issue_api_key(th.hub, books, actor="test")
    for merchant, project in ((th.merchant_id, "flower-shop"), (books, "book-shop")):
        customer_tokens.set_issuer(
            th.hub,
            merchant,
            issuer=f"https://securetoken.google.com/{project}",
            audience=project,
            jwks_url=google.jwks_url(project),
            actor="test",
        )
    transport = httpx.ASGITransport(app=th.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
        yield Shops(th, c, th.merchant_id, books, th.api_key, books_key)
    th.hub.db.dispose()


async def order_for(shops: Shops, key: str, customer: str, ref: str = "r-1") -> str:
    r = await shops.client.post(
        "/v1/orders",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "merchant_reference": ref,
            "currency": "VND",
            "items": [{"name": "Roses", "unit_price": 50_000}],
            "customer": {"external_id": customer},
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def read(shops: Shops, order_id: str, token: str) -> httpx.Response:
    return await shops.client.get(
        f"/v1/orders/{order_id}", headers={"Authorization": f"Bearer {token}"}
    )


async def test_each_firebase_token_maps_to_its_own_merchant(shops: Shops, google: Google) -> None:
    flowers_order = await order_for(shops, shops.flowers_key, "uid-lan")
    books_order = await order_for(shops, shops.books_key, "uid-lan")
    flowers_token = google.id_token("flower-shop", "uid-lan")
    books_token = google.id_token("book-shop", "uid-lan")
    assert "mid" not in jwt.decode(flowers_token, options={"verify_signature": False})

    r = await read(shops, flowers_order, flowers_token)
    assert r.status_code == 200, r.text
    assert r.json()["customer"]["external_id"] == "uid-lan"
    assert (await read(shops, books_order, books_token)).status_code == 200
    # The same user id at the other shop: that shop's order is not this merchant's.
    assert (await read(shops, books_order, flowers_token)).status_code == 404
    assert (await read(shops, flowers_order, books_token)).status_code == 404
    # Another customer of the same shop: 403.
    other = google.id_token("flower-shop", "uid-minh")
    assert (await read(shops, flowers_order, other)).status_code == 403


async def test_unknown_issuer_wrong_audience_and_forged_tokens_are_401(
    shops: Shops, google: Google
) -> None:
    order = await order_for(shops, shops.flowers_key, "uid-lan")
    refused = {
        "unknown issuer": google.id_token(
            "nobody", "uid-lan", iss="https://securetoken.google.com/nobody", aud="nobody"
        ),
        "wrong audience": google.id_token("flower-shop", "uid-lan", aud="another-project"),
        "signed by another project's key": google.id_token(
            "flower-shop", "uid-lan", signer="book-shop"
        ),
        "expired": google.id_token(
            "flower-shop",
            "uid-lan",
            iat=int(time.time()) - 7200,
            exp=int(time.time()) - 3600,
        ),
        "lives longer than the cap": google.id_token(
            "flower-shop", "uid-lan", exp=int(time.time()) + 30 * 86400
        ),
        "no customer id": google.id_token("flower-shop", "", sub=""),
    }
    for why, token in refused.items():
        r = await read(shops, order, token)
        assert r.status_code == 401, (why, r.text)
    # An HS256 token whose "secret" is the issuer's public key (algorithm confusion),
    # built by hand: PyJWT itself refuses to make one.
    pem = (
        google.key("flower-shop-k1")
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    claims = jwt.decode(
        google.id_token("flower-shop", "uid-lan"), options={"verify_signature": False}
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": "flower-shop-k1"}
    signing_input = b".".join(_b64(json.dumps(part).encode()) for part in (header, claims))
    confused = signing_input + b"." + _b64(hmac.new(pem, signing_input, hashlib.sha256).digest())
    assert (await read(shops, order, confused.decode())).status_code == 401


def _b64(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


async def test_a_shared_secret_issuer_and_a_custom_claim(shops: Shops) -> None:
    view = customer_tokens.set_issuer(
        shops.th.hub,
        shops.books,
        issuer="https://auth.books.example",
        audience="books-app",
        secret=SHARED_SECRET,
        customer_claim="user_id",
        actor="test",
    )
    assert view.has_secret and view.algorithms == ("HS256",)
    row = shops.th.hub.db.session().get(CustomerTokenIssuer, view.id)
    assert row is not None and SHARED_SECRET.encode() not in bytes(row.secret_ciphertext or b"")
    order = await order_for(shops, shops.books_key, "reader-7")
    now = int(time.time())
    claims = {
        "iss": "https://auth.books.example",
        "aud": "books-app",
        "sub": "not-the-customer",
        "user_id": "reader-7",
        "iat": now,
        "exp": now + 600,
    }
    good = jwt.encode(claims, SHARED_SECRET, algorithm="HS256")
    assert (await read(shops, order, good)).status_code == 200
    wrong_secret = jwt.encode(claims, SHARED_SECRET + "x", algorithm="HS256")
    assert (await read(shops, order, wrong_secret)).status_code == 401


async def test_a_live_issuer_acts_in_live_mode(shops: Shops, google: Google) -> None:
    live_key = api_keys.create_api_key(shops.th.hub, shops.flowers, mode="live", actor="test").key
    test_order = await order_for(shops, shops.flowers_key, "uid-lan", "t-1")
    live_order = await order_for(shops, live_key, "uid-lan", "l-1")
    test_token = google.id_token("flower-shop", "uid-lan")
    assert (await read(shops, test_order, test_token)).status_code == 200
    assert (await read(shops, live_order, test_token)).status_code == 404
    customer_tokens.set_issuer(
        shops.th.hub,
        shops.flowers,
        issuer="https://securetoken.google.com/flower-shop",
        audience="flower-shop",
        jwks_url=google.jwks_url("flower-shop"),
        livemode=True,
        actor="test",
    )
    assert (await read(shops, live_order, test_token)).status_code == 200
    assert (await read(shops, test_order, test_token)).status_code == 404


async def test_issuers_are_validated_owned_and_removed(shops: Shops, google: Google) -> None:
    hub = shops.th.hub
    with pytest.raises(Conflict):  # another merchant's issuer and audience
        customer_tokens.set_issuer(
            hub,
            shops.books,
            issuer="https://securetoken.google.com/flower-shop",
            audience="flower-shop",
            jwks_url=google.jwks_url("flower-shop"),
            actor="test",
        )
    bad = [
        {"jwks_url": google.jwks_url("x"), "secret": SHARED_SECRET},  # both
        {},  # neither
        {"secret": "short"},
        {"jwks_url": google.jwks_url("x"), "algorithms": ["HS256"]},
        {"secret": SHARED_SECRET, "algorithms": ["RS256"]},
    ]
    for extra in bad:
        with pytest.raises(InvalidRequest):
            customer_tokens.set_issuer(
                hub, shops.books, issuer="https://x", audience="x", actor="test", **extra
            )
    order = await order_for(shops, shops.flowers_key, "uid-lan")
    token = google.id_token("flower-shop", "uid-lan")
    assert (await read(shops, order, token)).status_code == 200
    removed = customer_tokens.remove_issuer(
        hub, shops.flowers, "https://securetoken.google.com/flower-shop", actor="test"
    )
    assert removed == 1
    assert (await read(shops, order, token)).status_code == 401
    assert [v.audience for v in customer_tokens.list_issuers(hub, shops.books)] == ["book-shop"]

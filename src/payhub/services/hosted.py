"""Capability links to payhub's hosted pages.

A customer opening `/pay/{order}?token=…` needs no API key: the token is an HMAC of the order
id under a key derived from the master key, so only payhub can mint it and it cannot be
moved to another order. The result page and its status poll (`/pay/result/{payment}`,
`/pay/status/{payment}`) take a token of the same kind for the payment, under another
derived key; the hub hands it to the gateway inside the browser return URL
(`/return/{gateway}/{payment}/{token}`), so the customer coming back lands on a page that
works, and nobody holding only a payment id sees anything.

Tokens minted under a previous master key stay valid while that key is in the keyring
(`PAYHUB_PREVIOUS_MASTER_KEYS`), so a rotation does not break links already handed out.
"""

from __future__ import annotations

import hashlib
import hmac

from payhub.services.context import Hub
from payhub.services.vault import MasterKey

_CHECKOUT = b"hosted-checkout"
_RESULT = b"payment-result"


def _token(key: MasterKey, label: bytes, subject: str) -> str:
    return hmac.new(key.derive(label), subject.encode(), hashlib.sha256).hexdigest()[:32]


def _is_valid(hub: Hub, label: bytes, subject: str, token: str) -> bool:
    if not token:
        return False
    given = token.encode("utf-8", "replace")
    found = False
    for key in hub.keys.values():  # every loaded key, compared in full each time
        found |= hmac.compare_digest(_token(key, label, subject).encode(), given)
    return found


def checkout_token(hub: Hub, order_id: str) -> str:
    return _token(hub.require_master_key(), _CHECKOUT, order_id)


def token_is_valid(hub: Hub, order_id: str, token: str) -> bool:
    return _is_valid(hub, _CHECKOUT, order_id, token)


def hosted_checkout_url(hub: Hub, order_id: str) -> str:
    base = hub.settings.public_url.rstrip("/")
    return f"{base}/pay/{order_id}?token={checkout_token(hub, order_id)}"


def result_token(hub: Hub, payment_id: str) -> str:
    return _token(hub.require_master_key(), _RESULT, payment_id)


def result_token_is_valid(hub: Hub, payment_id: str, token: str) -> bool:
    return _is_valid(hub, _RESULT, payment_id, token)


def result_path(hub: Hub, payment_id: str) -> str:
    """The result page of a payment, with its token (a path on the hub)."""
    return f"/pay/result/{payment_id}?token={result_token(hub, payment_id)}"

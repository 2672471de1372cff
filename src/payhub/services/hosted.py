"""Capability links to payhub's hosted checkout page.

A customer opening `/pay/{order}?token=…` needs no API key: the token is an HMAC of the order
id under a key derived from the master key, so only payhub can mint it and it cannot be
moved to another order.
"""

from __future__ import annotations

import hashlib
import hmac

from payhub.services.context import Hub


def checkout_token(hub: Hub, order_id: str) -> str:
    key = hub.require_master_key().derive(b"hosted-checkout")
    return hmac.new(key, order_id.encode(), hashlib.sha256).hexdigest()[:32]


def token_is_valid(hub: Hub, order_id: str, token: str) -> bool:
    return hmac.compare_digest(checkout_token(hub, order_id), token)


def hosted_checkout_url(hub: Hub, order_id: str) -> str:
    base = hub.settings.public_url.rstrip("/")
    return f"{base}/pay/{order_id}?token={checkout_token(hub, order_id)}"

"""ToyyibPay callback hash: md5(userSecretKey + status + order_id + refno + "ok").

This is the formula of the official toyyibPay WooCommerce plugin (v2.0.1,
`src/wc_toyyibpay_gateway.php`): plain concatenation of the POSTed values, no separators,
lowercase hex. It is the gateway's only signature and it covers neither the amount nor the
bill code, so a verified callback is still only a hint that payhub confirms with a query.
"""

from __future__ import annotations

import hashlib
import hmac

HASH_SUFFIX = "ok"


def callback_hash(user_secret_key: str, status: str, order_id: str, refno: str) -> str:
    """The `hash` field ToyyibPay sends with a callback (lowercase hex md5)."""
    material = f"{user_secret_key}{status}{order_id}{refno}{HASH_SUFFIX}".encode()
    # md5 is the gateway's protocol, not our choice; the result is never trusted alone.
    return hashlib.md5(material).hexdigest()  # noqa: S324


def verify_callback_hash(
    user_secret_key: str, status: str, order_id: str, refno: str, received: str
) -> bool:
    """Constant-time check of a received `hash` against the values exactly as received."""
    expected = callback_hash(user_secret_key, status, order_id, refno)
    return hmac.compare_digest(expected.encode("ascii"), received.strip().lower().encode())

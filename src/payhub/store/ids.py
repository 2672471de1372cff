"""Public identifiers: a short type prefix plus 16 random base32 characters."""

from __future__ import annotations

import base64
import secrets


def new_id(prefix: str) -> str:
    token = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
    return f"{prefix}_{token}"

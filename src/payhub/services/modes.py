"""Test and live mode do not mix: the one check both explicit gateway use and routing call.

An order has the mode of the key that created it (`orders.livemode`); a test order pays
only through simulator and sandbox accounts, a live order only through production accounts
(`Environment.for_mode`). Objects of the other mode are invisible to a key (the API answers
404 for them, as if they did not exist); only an account of the wrong environment is a
refusal the caller sees, `ModeMismatch` (422 `mode-mismatch`).
"""

from __future__ import annotations

from payhub.domain.errors import ModeMismatch
from payhub.gateways.base import Environment

__all__ = ["ensure_mode_allows", "mode_name"]


def mode_name(livemode: bool) -> str:
    return "live" if livemode else "test"


def ensure_mode_allows(livemode: bool, environment: Environment | str) -> None:
    """Raise `ModeMismatch` unless an order (or key) of this mode may use an account in
    `environment`."""
    env = Environment(environment)
    if env not in Environment.for_mode(livemode):
        if livemode:
            raise ModeMismatch(
                f"a live order pays only through production accounts; this one is {env.value}"
            )
        raise ModeMismatch(
            "a test order (sk_test_ key) pays only through simulator or sandbox accounts; "
            "this one is production: use an sk_live_ key"
        )

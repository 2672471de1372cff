"""Who may do what in the console: one table of role → allowed actions.

Every POST route names its action (`auth.allowed(Action.X)`), and the check runs on the
server whatever the page showed; pages also leave out the buttons of actions the role may
not take (`can(role, action)` in templates). Reading is every role's right: `viewer` has
nothing else.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Action(StrEnum):
    # operator and owner
    REVIEW = "review"  # accept a payment in review
    REFUND = "refund"
    CANCEL = "cancel"  # cancel an order
    REDELIVER = "redeliver"  # send a webhook delivery again
    MANUAL_PAYMENT = "manual_payment"  # record money received outside a gateway
    # owner only
    GATEWAY_CREDENTIALS = "gateway_credentials"  # set or replace gateway credentials
    GATEWAY_MANAGE = "gateway_manage"  # enable, disable, priority, environment, validate
    WEBHOOKS_MANAGE = "webhooks_manage"  # endpoints: create, rotate, enable, filter
    API_KEYS = "api_keys"  # issue and revoke API keys
    USERS = "users"  # console users of the merchant
    PRODUCTS = "products"  # products and restocking
    CREDITS = "credits"  # adjust customers' credit balances
    SETTINGS = "settings"  # merchant profile, branding, notifications


_OPERATOR: Final = frozenset(
    {Action.REVIEW, Action.REFUND, Action.CANCEL, Action.REDELIVER, Action.MANUAL_PAYMENT}
)

ALLOWED: Final = MappingProxyType(
    {
        "owner": frozenset(Action),
        "operator": _OPERATOR,
        "viewer": frozenset[Action](),
    }
)


def can(role: str, action: Action | str) -> bool:
    """Whether `role` may take `action` (an unknown role or action may do nothing)."""
    try:
        return Action(action) in ALLOWED.get(role, frozenset())
    except ValueError:
        return False

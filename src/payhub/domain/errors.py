"""Domain errors: the requests the rules refuse.

The classes live in the one error tree, `payhub.errors` (drawn there, with what each says
about retrying); they are importable from here too. They carry no HTTP status: the API maps
classes to statuses in `payhub.api.problems`.
"""

from __future__ import annotations

from payhub.errors import (
    AttemptInFlight,
    Conflict,
    DomainError,
    Forbidden,
    GatewayNotAvailable,
    InsufficientStock,
    InvalidRequest,
    ModeMismatch,
    NotFound,
    OrderAlreadyPaid,
    OrderNotPayable,
    RefundNotAllowed,
    Unauthorized,
)

__all__ = [
    "AttemptInFlight",
    "Conflict",
    "DomainError",
    "Forbidden",
    "GatewayNotAvailable",
    "InsufficientStock",
    "InvalidRequest",
    "ModeMismatch",
    "NotFound",
    "OrderAlreadyPaid",
    "OrderNotPayable",
    "RefundNotAllowed",
    "Unauthorized",
]

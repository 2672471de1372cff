"""Domain errors. Each says whether retrying the same request could succeed."""

from __future__ import annotations


class DomainError(Exception):
    """A request that the rules refuse. `code` is stable and becomes the problem type."""

    code = "domain-error"
    status = 422
    retry_safe = False

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    code = "not-found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class OrderAlreadyPaid(Conflict):
    code = "order-already-paid"


class OrderNotPayable(Conflict):
    code = "order-not-payable"


class AttemptInFlight(Conflict):
    """Another request is creating an attempt for this order at this gateway right now."""

    code = "attempt-in-flight"
    retry_safe = True


class InsufficientStock(Conflict):
    code = "insufficient-stock"


class InvalidRequest(DomainError):
    code = "invalid-request"
    status = 422


class GatewayNotAvailable(DomainError):
    code = "gateway-not-available"
    status = 422


class RefundNotAllowed(DomainError):
    code = "refund-not-allowed"
    status = 422


class Unauthorized(DomainError):
    code = "unauthorized"
    status = 401


class Forbidden(DomainError):
    code = "forbidden"
    status = 403

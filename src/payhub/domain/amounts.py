"""Amount reconciliation: does the money the gateway reports match what we asked for?"""

from __future__ import annotations

import enum

from payhub.money import Money


class AmountCheck(enum.StrEnum):
    MATCH = "match"
    UNDERPAID = "underpaid"
    OVERPAID = "overpaid"
    CURRENCY_MISMATCH = "currency_mismatch"
    MISSING = "missing"  # the gateway did not say how much; never settle on that alone


def check_amount(expected: Money, reported: Money | None) -> AmountCheck:
    """Compare the gateway-reported amount with the stored attempt amount, exactly."""
    if reported is None:
        return AmountCheck.MISSING
    if reported.currency != expected.currency:
        return AmountCheck.CURRENCY_MISMATCH
    if reported.minor == expected.minor:
        return AmountCheck.MATCH
    return AmountCheck.UNDERPAID if reported.minor < expected.minor else AmountCheck.OVERPAID


def refundable(paid: Money, refunded: Money) -> Money:
    """What is left to refund; never negative."""
    left = paid - refunded
    return left if left.minor > 0 else Money(0, paid.currency)

"""The ToyyibPay callback md5 hash against the reference vectors.

T1 and T2 come from reference/gateways-momo-toyyibpay-zalopay.md §4.5: they were computed
from the formula in the official toyyibPay WooCommerce plugin v2.0.1
(`src/wc_toyyibpay_gateway.php`: md5(userSecretKey . status . order_id . refno . "ok")) with
the userSecretKey printed in toyyibpay.com/apireference's sample code; ToyyibPay publishes
no numeric vector of its own.
"""

from __future__ import annotations

import pytest

from payhub.gateways.toyyibpay.signing import callback_hash, verify_callback_hash

APIREF_SAMPLE_KEY = "w5x7srq7-rx5r-3t89-2ou2-k7361x2jewhn"

VECTORS = [
    # (source, status, order_id, refno, hash)
    pytest.param(
        "1", "ORD-1001", "TP2410213276455101", "debb2467f6fa819b5e61da2ae2edf676", id="T1-success"
    ),
    pytest.param(
        "3", "ORD-1001", "TP2410213276455102", "484ee0b97b3ee1b2f9aa104fcbfbe240", id="T2-failed"
    ),
]


@pytest.mark.parametrize(("status", "order_id", "refno", "expected"), VECTORS)
def test_callback_hash_matches_reference_vector(
    status: str, order_id: str, refno: str, expected: str
) -> None:
    assert callback_hash(APIREF_SAMPLE_KEY, status, order_id, refno) == expected


@pytest.mark.parametrize(("status", "order_id", "refno", "expected"), VECTORS)
def test_verify_accepts_reference_vector(
    status: str, order_id: str, refno: str, expected: str
) -> None:
    assert verify_callback_hash(APIREF_SAMPLE_KEY, status, order_id, refno, expected)
    # ToyyibPay sends lowercase; an uppercase copy of the same digest is the same hash.
    assert verify_callback_hash(APIREF_SAMPLE_KEY, status, order_id, refno, expected.upper())


def test_verify_rejects_any_changed_signed_field() -> None:
    good = "debb2467f6fa819b5e61da2ae2edf676"  # T1
    key, status, order_id, refno = APIREF_SAMPLE_KEY, "1", "ORD-1001", "TP2410213276455101"
    assert not verify_callback_hash(key + "x", status, order_id, refno, good)
    assert not verify_callback_hash(key, "3", order_id, refno, good)
    assert not verify_callback_hash(key, status, "ORD-1002", refno, good)
    assert not verify_callback_hash(key, status, order_id, refno + "9", good)
    assert not verify_callback_hash(key, status, order_id, refno, good[:-1] + "0")
    assert not verify_callback_hash(key, status, order_id, refno, "")


def test_fields_are_concatenated_without_separators() -> None:
    # The formula has no separators, so moving a character between fields keeps the hash:
    # one reason the hash alone can never settle a payment.
    assert callback_hash("k", "1", "AB", "C") == callback_hash("k", "1", "A", "BC")

"""VNPay (API 2.1.0): signed pay URLs, GET IPN, querydr and refund, plus a local sandbox.

`ENTRY` is what the registry loads. See docs/gateways/vnpay.md for the operator's view.
"""

from __future__ import annotations

from payhub.gateways.base import GatewayEntry
from payhub.gateways.vnpay.adapter import VnpayGateway
from payhub.gateways.vnpay.simulator import create_simulator, sandbox_profile

ENTRY = GatewayEntry(
    adapter=VnpayGateway, create_simulator=create_simulator, sandbox_profile=sandbox_profile
)

__all__ = ["ENTRY", "VnpayGateway"]

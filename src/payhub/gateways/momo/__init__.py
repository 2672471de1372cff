"""MoMo (Vietnam) — payment gateway API v2, one-time wallet payments.

`MomoGateway` creates captureWallet / payWithMethod payments, verifies the JSON IPN and
the browser redirect, queries, and refunds (partial and full). `create_simulator` is payhub's
local MoMo sandbox; `sandbox_profile` gives the credentials it accepts (MoMo's published
sandbox keys unless PAYHUB_SANDBOX_MOMO_* say otherwise).
"""

from __future__ import annotations

from payhub.gateways.base import GatewayEntry
from payhub.gateways.momo.adapter import MomoGateway
from payhub.gateways.momo.simulator import create_simulator, sandbox_profile

ENTRY = GatewayEntry(
    adapter=MomoGateway,
    create_simulator=create_simulator,
    sandbox_profile=sandbox_profile,
)

__all__ = ["ENTRY", "MomoGateway", "create_simulator", "sandbox_profile"]

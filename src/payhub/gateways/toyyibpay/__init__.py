"""ToyyibPay (Malaysia): FPX and card bills in MYR, amounts in sen.

`adapter.ToyyibPayGateway` talks to `{base}/index.php/api/*` (createCategory, createBill,
getBillTransactions, inactiveBill); `signing` holds the md5 callback hash; `wire` the units,
status tables, Malaysia-time formats and text rules; `simulator` payhub's local sandbox.
"""

from __future__ import annotations

from payhub.gateways.base import GatewayEntry
from payhub.gateways.toyyibpay.adapter import ToyyibPayGateway
from payhub.gateways.toyyibpay.simulator import create_simulator, sandbox_profile

ENTRY = GatewayEntry(
    adapter=ToyyibPayGateway,
    create_simulator=create_simulator,
    sandbox_profile=sandbox_profile,
)

__all__ = ["ENTRY", "ToyyibPayGateway", "create_simulator", "sandbox_profile"]

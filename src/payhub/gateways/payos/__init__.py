"""PayOS (payos.vn): VietQR payment links, with payhub's local PayOS sandbox.

`ENTRY` is what the registry loads: the `PayOSGateway` adapter, the simulator factory and
the sandbox channel's credentials.
"""

from payhub.gateways.base import GatewayEntry
from payhub.gateways.payos.adapter import PayOSGateway
from payhub.gateways.payos.simulator import create_simulator, sandbox_profile

ENTRY = GatewayEntry(
    adapter=PayOSGateway,
    create_simulator=create_simulator,
    sandbox_profile=sandbox_profile,
)

__all__ = ["ENTRY", "PayOSGateway", "create_simulator", "sandbox_profile"]

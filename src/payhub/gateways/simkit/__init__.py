"""Shared machinery of the gateway sandboxes (payhub's local simulators).

Each gateway package has its own sandbox speaking that gateway's real wire protocol, split
into state (`sim_state.py`, no HTTP), pages (`sim_pages.py`, HTML) and app (`simulator.py`,
routes and `create_simulator`). This package holds only what they all share:

- `notifier`: server-to-server notifications with a compressible retry schedule, a fault
  queue (duplicate, delay, drop, reorder, tamper, wrong amount) and a delivery log;
- `control`: the `/__sim/` test control API, written once; a sandbox supplies a small
  `SandboxControl` subclass (how to drive an outcome, how to show a payment, its own faults
  and routes) and builds its app with `sandbox_app`;
- `options`: `SimulatorOptions` and `sandbox_options` (a sandbox on its profile's port);
- `pages`: the page shell that says plainly this is payhub's sandbox.
"""

from payhub.gateways.simkit.control import (
    ControlError,
    JsonBody,
    SandboxControl,
    control_route,
    control_routes,
    read_body,
    sandbox_app,
    whole_number,
)
from payhub.gateways.simkit.notifier import (
    Delivery,
    DeliveryAttempt,
    Fault,
    Notifier,
    OutboundCall,
    RetryPolicy,
)
from payhub.gateways.simkit.options import SimulatorOptions, env_float, env_int, sandbox_options
from payhub.gateways.simkit.pages import SANDBOX_BANNER, page

__all__ = [
    "SANDBOX_BANNER",
    "ControlError",
    "Delivery",
    "DeliveryAttempt",
    "Fault",
    "JsonBody",
    "Notifier",
    "OutboundCall",
    "RetryPolicy",
    "SandboxControl",
    "SimulatorOptions",
    "control_route",
    "control_routes",
    "env_float",
    "env_int",
    "page",
    "read_body",
    "sandbox_app",
    "sandbox_options",
    "whole_number",
]

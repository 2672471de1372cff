"""How a sandbox app is built: its origin, its test channel, its notification schedule."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from payhub.gateways.base import SandboxProfile
from payhub.gateways.simkit.notifier import RetryPolicy


@dataclass(slots=True)
class SimulatorOptions:
    """How to build one simulator app."""

    public_url: str  # the simulator's own origin, e.g. http://127.0.0.1:8101 (no slash)
    profile: SandboxProfile  # its test channel's credentials and settings
    retry: RetryPolicy | None = None  # None: the gateway's default schedule
    # Where notifications go through; None = real network (loopback). Tests may pass an
    # httpx.ASGITransport wrapping the hub app.
    transport: httpx.AsyncBaseTransport | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


def sandbox_options(
    profile: SandboxProfile,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    notify_url: str | None = None,
) -> SimulatorOptions:
    """Options for running a sandbox on `host:port` (default: the profile's port).

    `notify_url` is where the sandbox sends notifications for a channel that registers its
    URL on the gateway's side; it is passed under the profile's `notify_url_option`, and
    ignored for a gateway that takes the URL with each payment.
    """
    extra: dict[str, str] = {}
    if notify_url and profile.notify_url_option:
        extra[profile.notify_url_option] = notify_url
    return SimulatorOptions(
        public_url=f"http://{host}:{port or profile.default_port}", profile=profile, extra=extra
    )


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default

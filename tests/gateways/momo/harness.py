"""Wiring for MoMo contract tests: the simulator in-process and an IPN receiver app.

The receiver stands in for payhub's callback endpoint: it runs the adapter's
verify_notification and answers with notification_reply, recording what it saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payhub.gateways import simkit
from payhub.gateways.base import (
    ApplyOutcome,
    GatewayConfig,
    InboundRequest,
    InvalidSignature,
    MalformedNotification,
    Notification,
)
from payhub.gateways.momo import MomoGateway, create_simulator, sandbox_profile

SIM_ORIGIN = "http://momo.sim"
NOTIFY_URL = "http://shop.test/callbacks/momo"
RETURN_URL = "http://shop.test/return/momo"


@dataclass
class Receiver:
    """An IPN endpoint that verifies with the adapter and replies like payhub would."""

    adapter: MomoGateway
    notifications: list[Notification] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    fail_next: int = 0  # answer ApplyOutcome.ERROR this many times first
    seen_keys: set[str] = field(default_factory=set)

    async def endpoint(self, request: Request) -> Response:
        raw = InboundRequest(
            method=request.method,
            path=request.url.path,
            query_string=request.url.query.encode(),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
        )
        if self.fail_next > 0:
            self.fail_next -= 1
            reply = self.adapter.notification_reply(ApplyOutcome.ERROR)
        else:
            try:
                notification = self.adapter.verify_notification(raw)
            except InvalidSignature:
                self.rejected.append("invalid_signature")
                reply = self.adapter.notification_reply(ApplyOutcome.INVALID_SIGNATURE)
            except MalformedNotification:
                self.rejected.append("malformed")
                reply = self.adapter.notification_reply(ApplyOutcome.MALFORMED)
            else:
                self.notifications.append(notification)
                duplicate = notification.dedupe_key in self.seen_keys
                self.seen_keys.add(notification.dedupe_key)
                reply = self.adapter.notification_reply(
                    ApplyOutcome.DUPLICATE if duplicate else ApplyOutcome.APPLIED
                )
        return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/callbacks/momo", self.endpoint, methods=["POST", "GET"])])


@dataclass
class Harness:
    adapter: MomoGateway
    receiver: Receiver
    sim_app: Any
    http: httpx.AsyncClient  # the adapter's client, routed into the simulator

    async def sim(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, f"{SIM_ORIGIN}{path}", **kwargs)

    async def pay(self, order_id: str, outcome: str = "paid") -> dict[str, Any]:
        response = await self.sim("POST", f"/__sim/pay/{order_id}", json={"outcome": outcome})
        assert response.status_code == 200, response.text
        await self.flush()
        result: dict[str, Any] = response.json()
        return result

    async def fault(self, name: str, count: int = 1) -> None:
        response = await self.sim("POST", "/__sim/faults", json={"fault": name, "count": count})
        assert response.status_code == 200, response.text

    async def flush(self) -> None:
        response = await self.sim("POST", "/__sim/flush")
        assert response.status_code == 200

    async def deliveries(self) -> list[dict[str, Any]]:
        response = await self.sim("GET", "/__sim/deliveries")
        result: list[dict[str, Any]] = response.json()
        return result


def make_harness(config: GatewayConfig, retry: simkit.RetryPolicy | None = None) -> Harness:
    """Simulator + receiver + adapter, in-process; close `harness.http` when done."""
    receiver = Receiver(adapter=None)  # type: ignore[arg-type]  # set below
    options = simkit.SimulatorOptions(
        public_url=SIM_ORIGIN,
        profile=sandbox_profile(),
        retry=retry or simkit.RetryPolicy(max_attempts=1, interval_seconds=0.01),
        transport=httpx.ASGITransport(app=receiver.app()),
    )
    sim_app = create_simulator(options)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim_app))
    adapter = MomoGateway(config, http)
    receiver.adapter = adapter
    return Harness(adapter, receiver, sim_app, http)

"""Test wiring for VNPay: the simulator in-process, the adapter, and a tiny IPN receiver.

The receiver stands in for the hub's inbound pipeline: it verifies with the adapter, records
each fact once by dedupe key, checks the amount, and answers with `notification_reply`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from payhub.gateways import simkit
from payhub.gateways.base import (
    ApplyOutcome,
    CheckoutRequest,
    Environment,
    GatewayConfig,
    InboundRequest,
    InvalidSignature,
    MalformedNotification,
    Notification,
    SandboxProfile,
)
from payhub.gateways.vnpay.adapter import VnpayGateway
from payhub.gateways.vnpay.simulator import create_simulator
from payhub.money import Money
from payhub.secret import Secret

TMN_CODE = "TESTTMN1"
HASH_SECRET = "TESTHASHSECRETFORPAYHUBVNPAY0001"
SIM_ORIGIN = "http://vnpay.sim"
HUB_IPN_URL = "http://hub.test/callbacks/vnpay"
RETURN_URL = "https://shop.example/return/vnpay?attempt=42"


def profile() -> SandboxProfile:
    return SandboxProfile(
        credentials={"tmn_code": TMN_CODE, "hash_secret": HASH_SECRET}, default_port=8102
    )


def gateway_config(base_url: str = SIM_ORIGIN, secret: str = HASH_SECRET) -> GatewayConfig:
    return GatewayConfig(
        credentials={"tmn_code": Secret(TMN_CODE), "hash_secret": Secret(secret)},
        base_url=base_url,
        environment=Environment.SIMULATOR,
    )


def checkout_request(
    reference: str,
    amount: int = 150_000,
    now: datetime | None = None,
    description: str = "Thanh toán đơn hàng #42",
) -> CheckoutRequest:
    now = now or datetime.now(UTC)
    return CheckoutRequest(
        reference=reference,
        amount=Money(amount, "VND"),
        description=description,
        notify_url=HUB_IPN_URL,
        return_url=RETURN_URL,
        cancel_url=RETURN_URL,
        expires_at=now + timedelta(minutes=15),
        now=now,
    )


def inbound(url_or_query: str, method: str = "GET") -> InboundRequest:
    query = url_or_query.split("?", 1)[1] if "?" in url_or_query else url_or_query
    return InboundRequest(
        method=method, path="/callbacks/vnpay", query_string=query.encode(), headers={}, body=b""
    )


@dataclass
class Receiver:
    """A minimal hub inbound endpoint for VNPay IPNs."""

    adapter: VnpayGateway
    expected_amounts: dict[str, Money] = field(default_factory=dict)
    forced: list[ApplyOutcome] = field(default_factory=list)  # answers to give first
    facts: dict[str, Notification] = field(default_factory=dict)
    calls: list[tuple[str, ApplyOutcome]] = field(default_factory=list)

    def handle(self, raw: InboundRequest) -> tuple[ApplyOutcome, Notification | None]:
        if self.forced:
            return self.forced.pop(0), None
        try:
            note = self.adapter.verify_notification(raw)
        except InvalidSignature:
            return ApplyOutcome.INVALID_SIGNATURE, None
        except MalformedNotification:
            return ApplyOutcome.MALFORMED, None
        expected = self.expected_amounts.get(note.reference)
        if expected is None:
            return ApplyOutcome.UNKNOWN_PAYMENT, note
        if note.dedupe_key in self.facts:
            return ApplyOutcome.DUPLICATE, note
        self.facts[note.dedupe_key] = note
        if note.amount != expected:
            return ApplyOutcome.AMOUNT_MISMATCH, note
        return ApplyOutcome.APPLIED, note

    def app(self) -> Starlette:
        async def ipn(request: Request) -> Response:
            raw = InboundRequest(
                method=request.method,
                path=request.url.path,
                query_string=request.scope["query_string"],
                headers={k.lower(): v for k, v in request.headers.items()},
                body=await request.body(),
            )
            outcome, _ = self.handle(raw)
            self.calls.append((request.scope["query_string"].decode(), outcome))
            reply = self.adapter.notification_reply(outcome)
            return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)

        return Starlette(routes=[Route("/callbacks/vnpay", ipn, methods=["GET"])])


def simulator(
    receiver_app: Any | None = None,
    retry: simkit.RetryPolicy | None = None,
    extra: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> Starlette:
    transport = httpx.ASGITransport(app=receiver_app) if receiver_app is not None else None
    options = simkit.SimulatorOptions(
        public_url=SIM_ORIGIN,
        profile=profile(),
        retry=retry or simkit.RetryPolicy(max_attempts=10, interval_seconds=0.0),
        transport=transport,
        extra=dict(extra if extra is not None else {"ipn_url": HUB_IPN_URL}),
    )
    return create_simulator(options, **kwargs)


def sim_client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SIM_ORIGIN)

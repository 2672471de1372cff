"""payhub's local PayOS sandbox: an in-memory stand-in for api-merchant.payos.vn.

It serves PayOS's real paths at the origin root, so the official SDKs work against it with
`base_url=http://127.0.0.1:<port>`: create/get/cancel payment links, confirm-webhook, a
checkout page at `/web/{paymentLinkId}` with outcome buttons, and webhooks signed with the
channel's checksum key, re-sent on non-2xx. Test control lives under `/__sim/` (the shared
`simkit` routes, plus `links/{id}` and `webhook-url`).

This module is the app (routes and `create_simulator`); the state is in `sim_state.py`,
the pages in `sim_pages.py`. The names other code uses are re-exported here.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from payhub.gateways import simkit
from payhub.gateways.payos import sim_pages
from payhub.gateways.payos.sim_state import (
    CODE_INVALID_INPUT,
    CODE_NOT_FOUND,
    CONFIRM_SAMPLE_DATA,
    DEFAULT_API_KEY,
    DEFAULT_CHECKSUM_KEY,
    DEFAULT_CLIENT_ID,
    DEFAULT_PORT,
    Answer,
    Link,
    PayOSSimulator,
    default_retry_policy,
    error,
    is_int,
    paid_webhook_data,
    sandbox_profile,
    signed_webhook,
    webhook_body,
    webhook_data_keys,
)


def _json(answer: Answer) -> Response:
    # PayOS answers with raw UTF-8 (JSON.stringify), not \u escapes.
    status_code, payload = answer
    return Response(
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        status_code=status_code,
        media_type="application/json",
    )


class PayOSControl(simkit.SandboxControl[PayOSSimulator]):
    """What the PayOS sandbox adds to the shared `/__sim/` routes."""

    records = "links"
    not_found = "no such link"
    create_paths = ("/v2/payment-requests",)

    def refused_create(self) -> Response:
        # PayOS refuses with HTTP 200 and its own code (20: invalid input).
        return _json(error(CODE_INVALID_INPUT, "Thông tin truyền lên không đúng."))

    def find(self, key: str) -> Link | None:
        return self.sandbox.find(key)

    def describe(self, record: Link) -> Any:
        return record.as_wire()

    def drive(self, key: str, body: simkit.JsonBody) -> Any:
        link: Link = self.record(key)
        amount = body.get("amount")
        if amount is not None and not is_int(amount):
            raise simkit.ControlError(400, "amount must be an integer")
        try:
            target, delivery = self.sandbox.apply_outcome(
                link, str(body.get("outcome", "")), amount
            )
        except ValueError as exc:
            raise simkit.ControlError(409, str(exc)) from None
        return {
            "link": link.as_wire(),
            "redirect_url": target,
            "delivery": delivery.as_dict() if delivery else None,
        }

    def routes(self) -> list[Route]:
        return [simkit.control_route("webhook-url", self.set_webhook_url)]

    def set_webhook_url(self, request: Request, body: simkit.JsonBody) -> Any:
        url = body.get("url")
        if url is not None and not isinstance(url, str):
            raise simkit.ControlError(400, "url must be a string or null")
        self.sandbox.webhook_url = url or None
        return {"webhook_url": self.sandbox.webhook_url}


def create_simulator(options: simkit.SimulatorOptions) -> Starlette:
    """The PayOS sandbox as an ASGI app."""
    sim = PayOSSimulator(options)

    def unauthorised(request: Request) -> bool:
        headers = request.headers
        return not sim.authorised(headers.get("x-client-id", ""), headers.get("x-api-key", ""))

    async def read_json(request: Request) -> tuple[bool, Any]:
        raw = await request.body()
        if not raw.strip():
            return True, {}
        try:
            return True, json.loads(raw)
        except ValueError:
            return False, None

    async def create_link(request: Request) -> Response:
        if unauthorised(request):
            return _json(error("401", "Unauthorized", 401))
        ok, body = await read_json(request)
        if not ok:
            return _json(error(CODE_INVALID_INPUT, "Thông tin truyền lên không đúng."))
        return _json(sim.create(body))

    async def get_link(request: Request) -> Response:
        if unauthorised(request):
            return _json(error("401", "Unauthorized", 401))
        link = sim.find(request.path_params["id"])
        if link is None:
            return _json(error(CODE_NOT_FOUND, "Không tìm thấy thông tin đơn hàng"))
        return _json(sim.signed(link.as_wire()))

    async def cancel_link(request: Request) -> Response:
        if unauthorised(request):
            return _json(error("401", "Unauthorized", 401))
        ok, body = await read_json(request)
        if not ok or not isinstance(body, dict):
            return _json(error(CODE_INVALID_INPUT, "Thông tin truyền lên không đúng."))
        link = sim.find(request.path_params["id"])
        if link is None:
            return _json(error(CODE_NOT_FOUND, "Không tìm thấy thông tin đơn hàng"))
        reason = body.get("cancellationReason")
        return _json(sim.cancel(link, reason if isinstance(reason, str) else None))

    async def confirm_webhook(request: Request) -> Response:
        if unauthorised(request):
            return _json(error("401", "Unauthorized", 401))
        ok, body = await read_json(request)
        url = body.get("webhookUrl") if ok and isinstance(body, dict) else None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return _json(error(CODE_INVALID_INPUT, "Webhook url invalid", 400))
        return _json(await sim.confirm_webhook(url))

    async def checkout_page(request: Request) -> Response:
        link = sim.find(request.path_params["link_id"])
        if link is None or link.id != request.path_params["link_id"]:
            return HTMLResponse(sim_pages.not_found_page(), 404)
        if request.method == "GET":
            return HTMLResponse(sim_pages.checkout_page(link))
        form = await request.form()
        outcome = str(form.get("outcome", ""))
        try:
            target, _ = sim.apply_outcome(link, outcome, None)
        except ValueError as exc:
            return HTMLResponse(sim_pages.refused_page(str(exc)), 409)
        return RedirectResponse(target, status_code=302)

    routes = [
        Route("/v2/payment-requests", create_link, methods=["POST"]),
        Route("/v2/payment-requests/{id}", get_link, methods=["GET"]),
        Route("/v2/payment-requests/{id}/cancel", cancel_link, methods=["POST"]),
        Route("/confirm-webhook", confirm_webhook, methods=["POST"]),
        Route("/web/{link_id}", checkout_page, methods=["GET", "POST"]),
    ]
    app = simkit.sandbox_app(routes, PayOSControl(sim))
    app.state.simulator = sim
    return app


__all__ = [
    "CONFIRM_SAMPLE_DATA",
    "DEFAULT_API_KEY",
    "DEFAULT_CHECKSUM_KEY",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_PORT",
    "PayOSSimulator",
    "create_simulator",
    "default_retry_policy",
    "paid_webhook_data",
    "sandbox_profile",
    "signed_webhook",
    "webhook_body",
    "webhook_data_keys",
]

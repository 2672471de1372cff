"""payhub's local MoMo sandbox: the v2 gateway API at its real paths, signed like MoMo.

Speaks `POST /v2/gateway/api/{create,query,refund}` with MoMo's validations and error
bodies, hosts a payment page (`/v2/gateway/pay?t=…`) with outcome buttons, posts the signed
IPN to each order's `ipnUrl` and sends the browser back to `redirectUrl` with the same signed
parameters. Test control lives under `/__sim/`: the shared `simkit` routes, plus the API
faults (`slow_create`, `create_500`), `resend/{orderId}` and `orders/{orderId}`.

This module is the app; the state is in `sim_state.py` (in memory), the pages in
`sim_pages.py`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from payhub.gateways import simkit
from payhub.gateways.momo import sim_pages
from payhub.gateways.momo.sim_state import (
    API_FAULTS,
    DEFAULT_PORT,
    OUTCOMES,
    Answer,
    MomoSandbox,
    Order,
    api_create,
    api_query,
    api_refund,
    sandbox_profile,
)


def _json(answer: Answer) -> Response:
    status, body = answer
    return JSONResponse(body, status_code=status)


def _order_json(sandbox: MomoSandbox, order: Order) -> dict[str, Any]:
    return {
        "orderId": order.order_id,
        "requestId": order.request_id,
        "amount": order.amount,
        "resultCode": order.result_code,
        "message": order.message,
        "transId": order.trans_id,
        "refunded": order.refunded(),
        "redirect_url": sandbox.redirect_url(order) if order.final else None,
        "ipn_url": order.ipn_url,
        "lang": order.lang,  # as received on create: the customer's language
    }


class MomoControl(simkit.SandboxControl[MomoSandbox]):
    """What the MoMo sandbox adds to the shared `/__sim/` routes."""

    records = "orders"
    not_found = "unknown orderId"
    create_paths = ("/v2/gateway/api/create",)

    def refused_create(self) -> Response:
        # resultCode 98: "QR Code generation failed, please try again later" (nothing made).
        return JSONResponse(
            {"resultCode": 98, "message": "QR Code tạo không thành công. Vui lòng thử lại sau."}
        )

    def find(self, key: str) -> Order | None:
        return self.sandbox.order_by_id(key)

    def describe(self, record: Order) -> Any:
        return _order_json(self.sandbox, record)

    def drive(self, key: str, body: simkit.JsonBody) -> Any:
        order: Order = self.record(key)
        outcome = str(body.get("outcome", "paid"))
        if outcome not in OUTCOMES:
            raise simkit.ControlError(400, f"unknown outcome {outcome!r}", known=list(OUTCOMES))
        if order.final:
            raise simkit.ControlError(409, "order already finished", resultCode=order.result_code)
        delivery = self.sandbox.finish(order, outcome)
        return _order_json(self.sandbox, order) | {"delivery": delivery.as_dict()}

    def extra_faults(self) -> dict[str, Any]:
        def api_fault(name: str) -> Any:
            return lambda count: self.sandbox.api_faults.extend([name] * count)

        return {name: api_fault(name) for name in API_FAULTS}

    def faults_answer(self) -> Any:
        return {"ipn_faults": self.notifier.pending_faults(), "api_faults": self.sandbox.api_faults}

    def deliveries_answer(self) -> Any:
        return self.delivery_log()

    def flush_answer(self) -> Any:
        return {"idle": True, "deliveries": len(self.notifier.deliveries)}

    def reset_answer(self) -> Any:
        return {"reset": True}

    def routes(self) -> list[Route]:
        return [simkit.control_route("resend/{key}", self.resend)]

    def resend(self, request: Request, body: simkit.JsonBody) -> Any:
        order = self.sandbox.order_by_id(request.path_params["key"])
        if order is None or not order.final:
            raise simkit.ControlError(404, "no finished order with that orderId")
        return {"delivery": self.sandbox.send_ipn(order).as_dict()}


def create_simulator(options: simkit.SimulatorOptions) -> Starlette:
    """The MoMo simulator as an ASGI app (Starlette)."""
    sandbox = MomoSandbox(options)

    async def create(request: Request) -> Response:
        if sandbox.take_api_fault("create_500"):
            return Response("upstream error", status_code=502, media_type="text/plain")
        return _json(await api_create(sandbox, await request.body()))

    async def query(request: Request) -> Response:
        return _json(api_query(sandbox, await request.body()))

    async def refund(request: Request) -> Response:
        return _json(await api_refund(sandbox, await request.body()))

    async def pay_page(request: Request) -> Response:
        token = request.query_params.get("t", "")
        key = sandbox.tokens.get(token)
        order = sandbox.orders.get(key) if key else None
        if order is None:
            return HTMLResponse(sim_pages.not_found_page(), status_code=404)
        if request.method == "POST":
            form = dict(parse_qsl((await request.body()).decode("utf-8")))
            outcome = form.get("outcome", "")
            if outcome not in OUTCOMES:
                return HTMLResponse(sim_pages.unknown_choice_page(), status_code=400)
            if not order.final:
                sandbox.finish(order, outcome)
            return RedirectResponse(sandbox.redirect_url(order), status_code=303)
        qr_content = f"{sandbox.public_url}/v2/gateway/app?isScanQr=true&t={token}"
        return HTMLResponse(
            sim_pages.pay_page(order, token, qr_content, sandbox.redirect_url(order))
        )

    routes = [
        Route("/v2/gateway/api/create", create, methods=["POST"]),
        Route("/v2/gateway/api/query", query, methods=["POST"]),
        Route("/v2/gateway/api/refund", refund, methods=["POST"]),
        Route("/v2/gateway/pay", pay_page, methods=["GET", "POST"]),
        Route("/v2/gateway/app", pay_page, methods=["GET"]),
    ]
    app = simkit.sandbox_app(routes, MomoControl(sandbox))
    app.state.sandbox = sandbox
    return app


__all__ = ["DEFAULT_PORT", "MomoSandbox", "create_simulator", "sandbox_profile"]

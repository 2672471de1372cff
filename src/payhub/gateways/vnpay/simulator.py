"""payhub's local VNPay sandbox: a stand-in for sandbox.vnpayment.vn (API 2.1.0).

Real paths at origin root, so the npm `vnpay` library (or any VNPay client) pointed at
`http://127.0.0.1:<port>` works:

* `GET /paymentv2/vpcpay.html` checks the pay URL like VNPay (302 to
  `/paymentv2/Payment/Error.html?code=70|72|03|15|01` on a bad checksum, unknown terminal, bad
  data, expired link or a TxnRef already used that day) and 302s to a checkout page;
* the checkout page (`/paymentv2/Transaction/PaymentMethod.html?token=...`) offers outcome
  buttons; an outcome sends the signed IPN as a GET to the terminal's REGISTERED IPN URL
  (retried up to 10 calls until it answers RspCode 00/02) and 302s the browser to
  `vnp_ReturnUrl` with the same signed query;
* `POST /merchant_webapi/api/transaction` answers `querydr` and `refund`;
* `/__sim/...` is the test control API: the shared `simkit` routes (outcomes, faults,
  deliveries), plus the `querydr_busy`, `refund_processing` and `refund_rejected`
  faults, `terminals`, `transactions` and `queries` (signed querydr calls per
  vnp_TxnRef).

State lives in memory (`sim_state.py`); the pages (`sim_pages.py`) say plainly that this is
payhub's sandbox, not VNPay. This module is the app.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from payhub.clock import Clock, SystemClock
from payhub.gateways import simkit
from payhub.gateways.vnpay import sim_pages, wire
from payhub.gateways.vnpay.sim_state import (
    DEFAULT_HASH_SECRET,
    DEFAULT_PORT,
    DEFAULT_TMN_CODE,
    OUTCOMES,
    QUERYDR_BUSY,
    REFUND_PROCESSING,
    REFUND_REJECTED,
    Terminal,
    Transaction,
    VnpaySandbox,
    registered_ipn_url,
    sandbox_profile,
)


class VnpayControl(simkit.SandboxControl[VnpaySandbox]):
    """What the VNPay sandbox adds to the shared `/__sim/` routes."""

    not_found = "no such vnp_TxnRef"
    flush_timeout = 30.0
    # VNPay's create is the browser's GET of the signed payment URL.
    create_paths = (wire.PAY_PATH,)

    def refused_create(self) -> Response:
        return RedirectResponse(f"{wire.ERROR_PATH}?code=99", status_code=302)

    def find(self, key: str) -> Transaction | None:
        return self.sandbox.find_open(key)

    def drive(self, key: str, body: simkit.JsonBody) -> Any:
        sandbox = self.sandbox
        outcome = str(body.get("outcome", "success"))
        if outcome not in OUTCOMES:
            raise simkit.ControlError(400, f"outcome must be one of {', '.join(OUTCOMES)}")
        txn: Transaction = self.record(key)
        if txn.outcome is not None:
            raise simkit.ControlError(409, "this transaction is already finished")
        deliveries_before = len(sandbox.notifier.deliveries)
        return_url = sandbox.complete(txn, outcome)
        return {
            "txn_ref": txn.txn_ref,
            "outcome": txn.outcome,
            "return_url": return_url,
            "params": txn.callback,
            "deliveries": [d.id for d in sandbox.notifier.deliveries[deliveries_before:]],
        }

    def extra_faults(self) -> dict[str, Any]:
        def querydr_busy(count: int) -> None:
            self.sandbox.querydr_busy += count

        def refund_processing(count: int) -> None:
            self.sandbox.refund_processing = count

        def refund_rejected(count: int) -> None:
            self.sandbox.refund_rejected = count

        return {
            QUERYDR_BUSY: querydr_busy,
            REFUND_PROCESSING: refund_processing,
            REFUND_REJECTED: refund_rejected,
        }

    def faults_answer(self) -> Any:
        pending = self.notifier.pending_faults()
        return {"pending": pending, "querydr_busy": self.sandbox.querydr_busy}

    def deliveries_answer(self) -> Any:
        return self.delivery_log()

    def routes(self) -> list[Route]:
        return [
            simkit.control_route("terminals", self.terminals, ("GET", "POST")),
            simkit.control_route("transactions", self.transactions, ("GET",)),
            simkit.control_route("queries", self.queries, ("GET",)),
        ]

    def terminals(self, request: Request, body: simkit.JsonBody) -> Any:
        terminals = self.sandbox.terminals
        if request.method == "GET":
            return [{"tmn_code": t.tmn_code, "ipn_url": t.ipn_url} for t in terminals.values()]
        tmn = str(body.get("tmn_code", ""))
        if not tmn:
            raise simkit.ControlError(400, "tmn_code is required")
        current = terminals.get(tmn)
        secret = str(body.get("hash_secret") or (current.hash_secret if current else ""))
        if not secret:
            raise simkit.ControlError(400, "hash_secret is required for a new terminal")
        ipn_url = body.get("ipn_url", current.ipn_url if current else "")
        terminals[tmn] = Terminal(tmn, secret, str(ipn_url or ""))
        return {"tmn_code": tmn, "ipn_url": terminals[tmn].ipn_url}

    def transactions(self, request: Request, body: simkit.JsonBody) -> Any:
        return [t.as_dict() for t in self.sandbox.transactions.values()]

    def queries(self, request: Request, body: simkit.JsonBody) -> Any:
        return {"querydr": dict(self.sandbox.querydr_calls)}


def create_simulator(options: simkit.SimulatorOptions, *, clock: Clock | None = None) -> Starlette:
    """The VNPay sandbox as an ASGI app."""
    sandbox = VnpaySandbox(options, clock or SystemClock())

    async def pay(request: Request) -> Response:
        query = request.scope["query_string"].decode("utf-8", "replace")
        return RedirectResponse(sandbox.start_payment(query), status_code=302)

    async def error_page(request: Request) -> Response:
        return HTMLResponse(sim_pages.error_page(request.query_params.get("code", "99")))

    async def checkout_page(request: Request) -> Response:
        txn = sandbox.tokens.get(request.query_params.get("token", ""))
        if txn is None:
            return HTMLResponse(sim_pages.error_page("03"), status_code=404)
        return HTMLResponse(sim_pages.checkout_page(txn))

    async def checkout_submit(request: Request) -> Response:
        form = await request.form()
        txn = sandbox.tokens.get(str(form.get("token", "")))
        outcome = str(form.get("outcome", ""))
        if txn is None or outcome not in OUTCOMES:
            return HTMLResponse(sim_pages.error_page("03"), status_code=400)
        if txn.outcome is not None:
            return HTMLResponse(sim_pages.checkout_page(txn), status_code=409)
        return RedirectResponse(sandbox.complete(txn, outcome), status_code=302)

    async def transaction_api(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse(sandbox.api_error({}, "03", "Invalid data format"))
        return JSONResponse(sandbox.api(body))

    routes = [
        Route(wire.PAY_PATH, pay, methods=["GET"]),
        Route(wire.ERROR_PATH, error_page, methods=["GET"]),
        Route(wire.CHECKOUT_PATH, checkout_page, methods=["GET"]),
        Route(wire.CHECKOUT_PATH, checkout_submit, methods=["POST"]),
        Route(wire.API_PATH, transaction_api, methods=["POST"]),
    ]
    app = simkit.sandbox_app(routes, VnpayControl(sandbox))
    app.state.sandbox = sandbox
    return app


__all__ = [
    "DEFAULT_HASH_SECRET",
    "DEFAULT_PORT",
    "DEFAULT_TMN_CODE",
    "OUTCOMES",
    "VnpaySandbox",
    "create_simulator",
    "registered_ipn_url",
    "sandbox_profile",
]

"""payhub's local ToyyibPay sandbox: the `index.php/api` endpoints, bill pages, md5 callbacks.

It answers like ToyyibPay does (HTTP 200 with JSON arrays, JSON error objects or bracketed
codes such as `[KEY-DID-NOT-EXIST]`), shows each bill at `/{BillCode}` with the dev sandbox's
three test banks (SBI Bank A pays, B fails, C stays pending and settles later), posts the
form-encoded callback with the md5 `hash`, then redirects the browser to billReturnUrl.
Test control lives under `/__sim/`: the shared `simkit` routes, plus `config`, `clock` and
`settle/{BillCode}`.

This module is the app; the state is in `sim_state.py` (in memory), the pages in
`sim_pages.py`.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from starlette.responses import Response as StarletteResponse
from starlette.routing import Route

from payhub.gateways import simkit
from payhub.gateways.simkit import SimulatorOptions
from payhub.gateways.toyyibpay import sim_pages, wire
from payhub.gateways.toyyibpay.sim_state import (
    BANKS,
    DEFAULT_CATEGORY_CODE,
    DEFAULT_PORT,
    DEFAULT_USER_SECRET_KEY,
    OUTCOME_TO_BANK,
    Bill,
    Refused,
    ToyyibPaySandbox,
    random_code,
    sandbox_profile,
)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _json(data: Any, status_code: int = 200) -> StarletteResponse:
    # ToyyibPay answers compact JSON, HTTP 200 even for errors.
    return StarletteResponse(
        json.dumps(data, separators=(",", ":")),
        status_code=status_code,
        media_type="application/json",
    )


def _bracketed(code: str) -> PlainTextResponse:
    return PlainTextResponse(f"[{code}]")


def _error(msg: str) -> StarletteResponse:
    return _json({"status": "error", "msg": msg})


class ToyyibPayControl(simkit.SandboxControl[ToyyibPaySandbox]):
    """What the ToyyibPay sandbox adds to the shared `/__sim/` routes."""

    records = "bills"
    not_found = "no such bill"
    create_paths = (f"{wire.API_PREFIX}createBill",)

    def refused_create(self) -> StarletteResponse:
        return _error("Bill creation is not available at the moment")

    def find(self, key: str) -> Bill | None:
        return self.sandbox.bills.get(key)

    def describe(self, record: Bill) -> Any:
        return record.as_dict()

    def drive(self, key: str, body: simkit.JsonBody) -> Any:
        bill: Bill = self.record(key)
        bank = str(body.get("bank") or OUTCOME_TO_BANK.get(str(body.get("outcome")), ""))
        try:
            txn = self.sandbox.pay(bill, bank.upper())
        except Refused as exc:
            raise simkit.ControlError(409, str(exc)) from None
        except ValueError as exc:
            raise simkit.ControlError(400, str(exc)) from None
        return {
            "bill_code": bill.code,
            "transaction": txn.as_row(bill),
            "return_url": self.sandbox.return_redirect(bill, txn),
        }

    def faults_answer(self) -> Any:
        return {"pending_faults": self.notifier.pending_faults()}

    def flush_answer(self) -> Any:
        return {"ok": True, "deliveries": len(self.notifier.deliveries)}

    def routes(self) -> list[Route]:
        return [
            simkit.control_route("config", self.config, ("GET", "POST")),
            simkit.control_route("clock", self.clock, ("GET", "POST")),
            simkit.control_route("settle/{key}", self.settle),
        ]

    def config(self, request: Request, body: simkit.JsonBody) -> Any:
        config = self.sandbox.config
        try:
            if "callback_amount_unit" in body:
                unit = str(body["callback_amount_unit"])
                if unit not in {"ringgit", "sen"}:
                    raise ValueError("callback_amount_unit must be ringgit or sen")
                config.callback_amount_unit = unit
            if "bank_c_delay" in body:
                config.bank_c_delay = float(body["bank_c_delay"])
            if "strict_amount" in body:
                config.strict_amount = bool(body["strict_amount"])
        except (ValueError, TypeError) as exc:
            raise simkit.ControlError(400, str(exc)) from None
        return config.as_dict()

    def clock(self, request: Request, body: simkit.JsonBody) -> Any:
        try:
            advance = float(body.get("advance_seconds", 0))
        except (ValueError, TypeError) as exc:
            raise simkit.ControlError(400, str(exc)) from None
        self.sandbox.clock_offset += timedelta(seconds=advance)
        return {"now": self.sandbox.now().isoformat()}

    def settle(self, request: Request, body: simkit.JsonBody) -> Any:
        bill: Bill = self.record(request.path_params["key"])
        status = "3" if body.get("outcome") in {"fail", "failed"} else "1"
        pending = [t for t in bill.transactions if t.status == "2"]
        for txn in pending:
            self.sandbox.settle(bill, txn, status)
        return {"settled": len(pending), "bill": bill.as_dict()}


def create_simulator(options: SimulatorOptions) -> Starlette:
    """The ASGI app of the ToyyibPay sandbox."""
    sandbox = ToyyibPaySandbox(options)

    def key_ok(value: str | None) -> bool:
        return bool(value) and secrets.compare_digest(
            (value or "").encode(), sandbox.secret_key.encode()
        )

    # ------------------------------------------------------------------ API

    async def create_category(request: Request) -> StarletteResponse:
        form = await _form(request)
        if not key_ok(form.get("userSecretKey")):
            return _bracketed("KEY-DID-NOT-EXIST")
        name, description = form.get("catname", ""), form.get("catdescription", "")
        if not name or not description:
            return _error("catname and catdescription are required")
        code = random_code()
        sandbox.categories[code] = {"name": name, "description": description}
        return _json([{"CategoryCode": code}])

    async def get_category_details(request: Request) -> StarletteResponse:
        form = await _form(request)
        if not key_ok(form.get("userSecretKey")):
            return _bracketed("KEY-DID-NOT-EXIST")
        category = sandbox.categories.get(form.get("categoryCode", ""))
        if category is None:
            return _bracketed("CATEGORY-DOES-NOT-EXIST")
        return _json(
            [
                {
                    "categoryName": category["name"],
                    "categoryDescription": category["description"],
                    "categoryStatus": "1",
                }
            ]
        )

    async def create_bill(request: Request) -> StarletteResponse:
        form = await _form(request)
        if not key_ok(form.get("userSecretKey")):
            return _bracketed("KEY-DID-NOT-EXIST")
        if form.get("categoryCode", "") not in sandbox.categories:
            return _bracketed("CATEGORY-DOES-NOT-EXIST")
        result = sandbox.create_bill(form)
        if isinstance(result, str):
            return _error(result)
        return _json([{"BillCode": result.code}])

    async def get_bill_transactions(request: Request) -> StarletteResponse:
        form = await _form(request)
        bill = sandbox.bills.get(form.get("billCode", ""))
        if bill is None:
            return _json([])
        wanted = form.get("billpaymentStatus", "")
        rows = [t.as_row(bill) for t in bill.transactions if not wanted or t.status == wanted]
        return _json(rows)

    async def inactive_bill(request: Request) -> StarletteResponse:
        form = await _form(request)
        if not key_ok(form.get("secretKey")):
            return _bracketed("KEY-DID-NOT-EXIST")
        bill = sandbox.bills.get(form.get("billCode", ""))
        if bill is None:
            return _json({"status": "failed", "result": "Bill not found"})
        if any(t.status == "2" for t in bill.transactions):
            return _json({"status": "failed", "result": "Bill has pending transaction process"})
        if not bill.active:
            return _json({"status": "failed", "result": "Bill is inactive"})
        bill.active = False
        return _json({"status": "success", "result": "Bill status changed to inactive"})

    async def check_duitnow(request: Request) -> StarletteResponse:
        form = await _form(request)
        if not key_ok(form.get("userSecretKey")):
            return _json({"status": "error", "message": "Invalid userSecretKey"})
        return _json({"status": "success", "duitnowqr_activated": False})

    async def get_banks(request: Request) -> StarletteResponse:
        return _json(
            [{"CODE": f"SBI0{i}", "NAME": label} for i, (label, _, _) in enumerate(BANKS.values())]
        )

    # ------------------------------------------------------------------ pages

    # ------------------------------------------------------------------ pages

    async def bill_page(request: Request) -> StarletteResponse:
        bill = sandbox.bills.get(request.path_params["bill_code"])
        if bill is None:
            return HTMLResponse(sim_pages.not_found_page(), status_code=404)
        return HTMLResponse(sim_pages.bill_page(bill, sandbox.now()))

    async def bill_pay(request: Request) -> StarletteResponse:
        bill = sandbox.bills.get(request.path_params["bill_code"])
        if bill is None:
            return HTMLResponse(sim_pages.not_found_page(), status_code=404)
        form = await _form(request)
        try:
            txn = sandbox.pay(bill, form.get("bank", "").upper())
        except Refused as exc:
            return HTMLResponse(sim_pages.bill_page(bill, sandbox.now(), str(exc)), 409)
        except ValueError as exc:
            return HTMLResponse(sim_pages.bill_page(bill, sandbox.now(), str(exc)), 400)
        target = sandbox.return_redirect(bill, txn)
        if target is None:
            notice = f"Payment status {txn.status}."
            return HTMLResponse(sim_pages.bill_page(bill, sandbox.now(), notice))
        return RedirectResponse(target, status_code=302)

    api = wire.API_PREFIX
    routes = [
        Route(f"{api}createCategory", create_category, methods=["POST"]),
        Route(f"{api}getCategoryDetails", get_category_details, methods=["POST"]),
        Route(f"{api}createBill", create_bill, methods=["POST"]),
        Route(f"{api}getBillTransactions", get_bill_transactions, methods=["POST"]),
        Route(f"{api}inactiveBill", inactive_bill, methods=["POST"]),
        Route(f"{api}checkDuitNowQRStatus", check_duitnow, methods=["POST"]),
        Route(f"{api}getBankFPX", get_banks, methods=["GET"]),
        Route(f"{api}getBank", get_banks, methods=["GET"]),
        # Last: a bill's page is at the origin root (the /__sim/ routes come first).
        Route("/{bill_code:str}/pay", bill_pay, methods=["POST"]),
        Route("/{bill_code:str}", bill_page, methods=["GET"]),
    ]
    app = simkit.sandbox_app(routes, ToyyibPayControl(sandbox), on_close=sandbox.cancel_timers)
    app.state.sandbox = sandbox
    return app


__all__ = [
    "DEFAULT_CATEGORY_CODE",
    "DEFAULT_PORT",
    "DEFAULT_USER_SECRET_KEY",
    "ToyyibPaySandbox",
    "create_simulator",
    "sandbox_profile",
]

"""ToyyibPay: MYR bills paid on the sandbox's bank page (A pays, B fails, C stays pending),
a form callback answered `200 OK` (text/plain) whose md5 `hash` does not cover the amount,
so every settling callback is confirmed by getBillTransactions; bills can be inactivated;
no refund API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx

from payhub.gateways.registry import entry
from payhub.gateways.toyyibpay import signing
from tests.support.conformance import Ack, BaseDriver, Env, SignedCallback

_OK = Ack(200, "OK")


def bill_code(payment: dict[str, Any]) -> str:
    return str(payment["checkout_url"]).rstrip("/").rsplit("/", 1)[-1]


class ToyyibPayDriver(BaseDriver):
    name = "toyyibpay"
    wrong_secret = ("user_secret_key", "KEY-DID-NOT-EXIST")  # the gateway's answer to a wrong one
    currency = "MYR"
    sku = "pack-my"
    amount = 1_050  # RM10.50 in sen
    customer = {
        "external_id": "aisyah",
        "name": "Aisyah Rahman",
        "email": "aisyah@example.my",
        "phone": "+60 12-345 6789",
    }
    stock_price = 2_500
    ack_ok = _OK
    ack_duplicate = _OK
    ack_amount_mismatch = _OK
    ack_rejected = Ack(400, "INVALID HASH")
    ack_malformed = Ack(400, "MALFORMED")
    wrong_amount = 525  # what the sandbox's callback claims; the query says 1,050
    create_path = "/index.php/api/createBill"
    lost_create_resolves_to = "unknown"
    # Bank B (a failure), tampered into a success after signing.
    tamper_outcome = "B"
    closed_link_refusal = "inactive"
    notified_wrong_amount = "5.25"  # RM under a valid hash; getBillTransactions says 10.50
    pay_outcomes = {"paid": {"bank": "A"}}

    def simulator_extra(self, hub_url: str, account_id: str) -> dict[str, str]:
        return {"bank_c_delay": "0.3"}

    def sim_id(self, payment: dict[str, Any]) -> str:
        return bill_code(payment)

    def _pay_body(self, outcome: str) -> dict[str, Any]:
        return self.pay_outcomes.get(outcome, {"bank": outcome})

    def check_checkout(self, env: Env, payment: dict[str, Any]) -> None:
        super().check_checkout(env, payment)
        bill = env.sim.get(f"/__sim/bills/{bill_code(payment)}").json()
        category = entry("toyyibpay").sandbox_profile().settings.get("category_code")
        assert bill["category_code"] == category
        assert bill["active"] is True and bill["transactions"] == []

    def link_is_open(self, env: Env, payment: dict[str, Any]) -> bool:
        return bool(env.sim.get(f"/__sim/bills/{bill_code(payment)}").json()["active"])

    def forged_return(self, env: Env, payment: dict[str, Any]) -> str:
        return (
            f"{env.return_path(payment['id'])}?status_id=1&billcode={bill_code(payment)}"
            f"&order_id={payment['gateway_reference']}&msg=ok&transaction_id=TP2601010000000009"
        )

    def forged_notification(self, env: Env, payment: dict[str, Any]) -> httpx.Response:
        fields = {
            "refno": "TP2601010000000002",
            "status": "1",
            "order_id": payment["gateway_reference"],
            "billcode": bill_code(payment),
            "amount": "10.50",
            "hash": "0" * 32,
        }
        return httpx.post(
            env.callback_url,
            content=urlencode(fields).encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
            timeout=10,
        )

    def signed_callback(
        self, env: Env, payment: dict[str, Any], secret: str | None = None
    ) -> SignedCallback:
        key = secret or entry("toyyibpay").sandbox_profile().credentials["user_secret_key"]
        refno = "TP2611220000000001"
        fields = {
            "refno": refno,
            "status": "1",
            "reason": "Approved",
            "billcode": bill_code(payment),
            "order_id": payment["gateway_reference"],
            "amount": "10.50",
            "transaction_time": "2026-11-22 11:00:00",
            "hash": signing.callback_hash(key, "1", payment["gateway_reference"], refno),
        }
        return SignedCallback(
            encoding="form",
            fields=fields,
            # The md5 covers these three only: amount and bill code are confirmed by a query.
            signed=("status", "order_id", "refno"),
            signature="hash",
            amount="amount",
            order="order_id",
            status="status",
        )

    def on_paid(
        self, env: Env, order: dict[str, Any], payment: dict[str, Any], paid: dict[str, Any]
    ) -> None:
        assert paid["transaction"]["billpaymentStatus"] == "1"
        assert payment["gateway_reference"].startswith("PH")
        bill = env.sim.get(f"/__sim/bills/{bill_code(payment)}").json()
        # The hub hands ToyyibPay its own callback URL and the attempt reference on every bill.
        assert bill["callback_url"] == env.callback_url
        assert bill["return_url"] == f"{env.hub_url}{env.return_path(payment['id'])}"
        assert bill["external_reference"] == payment["gateway_reference"]
        assert bill["amount_sen"] == self.amount
        assert bill["active"] is True
        # The bill is paid: ToyyibPay's page refuses a second payment.
        assert self.try_pay(env, payment).status_code == 409
        assert env.credits()["balance"] == 100


DRIVER = ToyyibPayDriver()

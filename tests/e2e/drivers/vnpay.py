"""VNPay: a signed pay URL built locally (no create call), the IPN a signed GET answered
`{"RspCode","Message"}` (00, 02 duplicate, 04 wrong amount, 97 bad signature), querydr for
status, refunds (partial too), no cancel."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from payhub.gateways.registry import entry
from payhub.gateways.vnpay import signing
from tests.support.conformance import Ack, BaseDriver, Env, SignedCallback

PAY_PATH = "/paymentv2/vpcpay.html"
CHECKOUT_PATH = "/paymentv2/Transaction/PaymentMethod.html"


def _rsp(code: str, message: str) -> Ack:
    return Ack(200, f'{{"RspCode":"{code}","Message":"{message}"}}')


class VNPayDriver(BaseDriver):
    name = "vnpay"
    wrong_secret = ("hash_secret", "97")  # the gateway's answer to a wrong one
    customer = {"external_id": "binh", "email": "binh@example.com"}
    ack_ok = _rsp("00", "Confirm Success")
    ack_duplicate = _rsp("02", "Order already confirmed")
    ack_amount_mismatch = _rsp("04", "invalid amount")
    ack_rejected = _rsp("97", "Invalid signature")
    ack_malformed = _rsp("99", "Invalid request")
    wrong_amount = 21_000  # the signed IPN says 1,000 đ more
    refund_gateway_code = "05"  # VNPay accepted it and is processing it
    refund_status = "pending"  # so it is pending until VNPay says otherwise
    signed_return = True
    create_path = None  # the pay URL is signed locally
    pay_outcomes = {"paid": {"outcome": "success"}}

    def simulator_extra(self, hub_url: str, account_id: str) -> dict[str, str]:
        # VNPay keeps the IPN URL on its side, registered per terminal.
        return {"ipn_url": f"{hub_url}/callbacks/vnpay/{account_id}"}

    def check_checkout(self, env: Env, payment: dict[str, Any]) -> None:
        """Open the pay URL like the buyer's browser: a 302 to the checkout page."""
        # Built from the account's base URL (the simulator, or a proxy in front of it).
        assert payment["checkout_url"].startswith(env.gateway_base + PAY_PATH + "?")
        env.opened.setdefault("vnpay", set()).add(payment["id"])
        opened = httpx.get(payment["checkout_url"], follow_redirects=False, timeout=10)
        assert opened.status_code == 302, opened.text
        assert opened.headers["location"].startswith(CHECKOUT_PATH + "?token="), opened.headers

    def _open(self, env: Env, payment: dict[str, Any]) -> None:
        # The sandbox knows a TxnRef once the buyer's browser has opened its pay URL.
        opened = env.opened.setdefault("vnpay", set())
        if payment["id"] not in opened:
            self.check_checkout(env, payment)
            opened.add(payment["id"])

    def pay(
        self, env: Env, payment: dict[str, Any], outcome: str = "paid", **extra: Any
    ) -> dict[str, Any]:
        self._open(env, payment)
        return super().pay(env, payment, outcome, **extra)

    def try_pay(self, env: Env, payment: dict[str, Any], outcome: str = "paid") -> httpx.Response:
        self._open(env, payment)
        return super().try_pay(env, payment, outcome)

    def link_is_open(self, env: Env, payment: dict[str, Any]) -> bool:
        return True  # a signed pay URL: VNPay has no call to close it before vnp_ExpireDate

    def sim_refunded(self, env: Env, payment: dict[str, Any]) -> int:
        (txn,) = env.sim.get("/__sim/transactions").json()  # one per test
        return int(txn["refunded"])

    def forged_return(self, env: Env, payment: dict[str, Any]) -> str:
        forged = {**self._paid_params(payment), "vnp_SecureHash": "ab" * 64}
        return f"{env.return_path(payment['id'])}?{urlencode(forged)}"

    def forged_notification(self, env: Env, payment: dict[str, Any]) -> httpx.Response:
        # Without any hash at all, sent to the callback URL.
        return httpx.get(env.callback_url, params=self._paid_params(payment), timeout=10)

    def signed_callback(
        self, env: Env, payment: dict[str, Any], secret: str | None = None
    ) -> SignedCallback:
        profile = entry("vnpay").sandbox_profile().credentials
        params = {
            **self._paid_params(payment),
            "vnp_BankTranNo": "VNP14422574",
            "vnp_CardType": "ATM",
            "vnp_TmnCode": profile["tmn_code"],
        }
        ordered = sorted(params.items())
        signature = signing.sign_query(secret or profile["hash_secret"], ordered)
        return SignedCallback(
            encoding="query",
            fields={**dict(ordered), "vnp_SecureHash": signature},
            signed=tuple(k for k, _ in ordered),  # every vnp_ parameter but the hash
            signature="vnp_SecureHash",
            amount="vnp_Amount",
            order="vnp_TxnRef",
            status="vnp_ResponseCode",
            return_too=True,
        )

    @staticmethod
    def _paid_params(payment: dict[str, Any]) -> dict[str, str]:
        return {
            "vnp_Amount": "2000000",
            "vnp_BankCode": "NCB",
            "vnp_OrderInfo": "x",
            "vnp_PayDate": "20240101120000",
            "vnp_ResponseCode": "00",
            "vnp_TmnCode": "PAYHUBV1",
            "vnp_TransactionNo": "14422574",
            "vnp_TransactionStatus": "00",
            "vnp_TxnRef": payment["gateway_reference"],
        }

    def on_paid(
        self, env: Env, order: dict[str, Any], payment: dict[str, Any], paid: dict[str, Any]
    ) -> None:
        query = parse_qs(urlsplit(payment["checkout_url"]).query)
        assert query["vnp_TxnRef"] == [payment["gateway_reference"]]
        assert query["vnp_Amount"] == ["2000000"]  # 20,000 VND x 100
        assert query["vnp_ReturnUrl"] == [f"{env.hub_url}{env.return_path(payment['id'])}"]
        assert paid["params"]["vnp_ResponseCode"] == "00"


DRIVER = VNPayDriver()

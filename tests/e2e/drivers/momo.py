"""MoMo: the hub sends its callback URL as `ipnUrl` in every create; the IPN is signed JSON
answered 204 (400 when refused); query, refunds (partial too), no cancel. The sandbox can
fail the create itself (`create_500`: MoMo never stored the order)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from payhub.gateways.momo import signing
from payhub.gateways.registry import entry
from tests.support.conformance import Ack, BaseDriver, Env, SignedCallback

_NO_CONTENT = Ack(204, "")


class MoMoDriver(BaseDriver):
    name = "momo"
    wrong_secret = ("secret_key", "20")  # the gateway's answer to a wrong one
    customer = {
        "external_id": "bao",
        "name": "Nguyễn Văn Bảo",
        "email": "bao@example.vn",
    }
    ack_ok = _NO_CONTENT
    ack_duplicate = _NO_CONTENT
    ack_amount_mismatch = _NO_CONTENT  # validly signed: acknowledged the MoMo way
    ack_rejected = Ack(400, json.dumps({"message": "rejected: invalid_signature"}))
    ack_malformed = Ack(400, json.dumps({"message": "rejected: malformed"}))
    wrong_amount = 21_000
    refund_gateway_code = "0"
    signed_return = True
    create_path = "/v2/gateway/api/create"
    lost_create_resolves_to = "failed"  # MoMo never stored that order (42)

    def check_checkout(self, env: Env, payment: dict[str, Any]) -> None:
        assert payment["checkout_url"].startswith(env.sim_url + "/v2/gateway/pay?t=")
        assert payment["qr_content"] and payment["deeplink"].startswith("momo://")
        assert payment["gateway_reference"].startswith("PH")

    def deliveries(self, env: Env, payment: dict[str, Any]) -> list[dict[str, Any]]:
        reference = payment["gateway_reference"]
        return [d for d in super().deliveries(env, payment) if f"ipn {reference} " in d["label"]]

    def replay(self, env: Env, payment: dict[str, Any]) -> Ack:
        """MoMo's own resend of the same IPN."""
        assert env.sim.post(f"/__sim/resend/{payment['gateway_reference']}").status_code == 200
        env.flush()
        (ack,) = env.acks(self.deliveries(env, payment)[-1])
        return ack

    def lose_next_create(self, env: Env) -> None:
        env.fault("create_500")  # the sandbox's own fault: a 500, nothing stored

    def link_is_open(self, env: Env, payment: dict[str, Any]) -> bool:
        return True  # MoMo cannot cancel a payUrl

    def sim_refunded(self, env: Env, payment: dict[str, Any]) -> int:
        return int(env.sim.get(f"/__sim/orders/{payment['gateway_reference']}").json()["refunded"])

    def forged_return(self, env: Env, payment: dict[str, Any]) -> str:
        # MoMo's parameters with a made-up signature.
        return (
            f"{env.return_path(payment['id'])}?partnerCode=MOMO"
            f"&orderId={payment['gateway_reference']}&requestId=x&amount=20000&orderInfo=x"
            "&orderType=momo_wallet&transId=4123456789&resultCode=0&message=Successful."
            "&payType=qr&responseTime=1700000000000&extraData=&signature=" + "ab" * 32
        )

    def forged_notification(self, env: Env, payment: dict[str, Any]) -> httpx.Response:
        body = {
            "partnerCode": "MOMO",
            "orderId": payment["gateway_reference"],
            "requestId": payment["gateway_reference"],
            "amount": self.amount,
            "orderInfo": "x",
            "orderType": "momo_wallet",
            "transId": 4123456789,
            "resultCode": 0,
            "message": "Successful.",
            "payType": "qr",
            "responseTime": 1700000000000,
            "extraData": "",
            "signature": "ab" * 32,
        }
        return httpx.post(env.callback_url, json=body, timeout=10)

    def signed_callback(
        self, env: Env, payment: dict[str, Any], secret: str | None = None
    ) -> SignedCallback:
        profile = entry("momo").sandbox_profile().credentials
        body: dict[str, Any] = {
            "partnerCode": profile["partner_code"],
            "orderId": payment["gateway_reference"],
            "requestId": payment["gateway_reference"],
            "amount": self.amount,
            "orderInfo": "Thanh toán đơn hàng",
            "orderType": "momo_wallet",
            "transId": 4123456789,
            "resultCode": 0,
            "message": "Successful.",
            "payType": "qr",
            "responseTime": 1_764_000_000_000,
            # Not empty: a missing signed field reads as "", so removing an empty one would
            # leave the signed text as it was.
            "extraData": "eyJzb3VyY2UiOiJwYXlodWIifQ==",
        }
        values = {k: str(body[k]) for k in signing.RESULT_FIELDS if k in body}
        values["accessKey"] = profile["access_key"]
        raw = signing.raw_signature(signing.RESULT_FIELDS, values)
        body["signature"] = signing.sign(secret or profile["secret_key"], raw)
        return SignedCallback(
            encoding="json",
            fields=body,
            signed=tuple(k for k in signing.RESULT_FIELDS if k != "accessKey"),
            signature="signature",
            amount="amount",
            order="orderId",
            status="resultCode",
        )

    def on_paid(
        self, env: Env, order: dict[str, Any], payment: dict[str, Any], paid: dict[str, Any]
    ) -> None:
        # The simulator got the hub's callback URL as ipnUrl and the order's amount.
        sim_order = env.sim.get(f"/__sim/orders/{payment['gateway_reference']}").json()
        assert sim_order["ipn_url"] == env.callback_url
        assert sim_order["amount"] == self.amount
        txn_id = env.column("select gateway_txn_id from payments where id = :p", p=payment["id"])
        assert txn_id == [str(paid["transId"])]


DRIVER = MoMoDriver()

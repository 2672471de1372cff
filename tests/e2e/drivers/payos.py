"""PayOS: payment links (`/web/<id>`), a signed JSON webhook answered `{"success":true}`
for everything it verified, a link the hub can cancel, no refund API."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from payhub.gateways.payos import signing
from payhub.gateways.payos.simulator import paid_webhook_data
from payhub.gateways.registry import entry
from tests.support.conformance import Ack, BaseDriver, Env, SignedCallback

_ACK = Ack(200, '{"success":true}')


class PayOSDriver(BaseDriver):
    name = "payos"
    wrong_secret = ("api_key", "401")  # the gateway's answer to a wrong one
    ack_ok = _ACK
    ack_duplicate = _ACK
    ack_amount_mismatch = _ACK  # recorded, so PayOS must not retry
    ack_rejected = Ack(400, '{"success":false,"error":"invalid signature"}')
    ack_malformed = Ack(400, '{"success":false,"error":"malformed webhook"}')
    wrong_amount = 21_000  # the sandbox signs 1,000 đ more
    create_path = "/v2/payment-requests"
    closed_link_refusal = "CANCELLED"  # "link is CANCELLED, it cannot be paid"
    lost_create_resolves_to = "pending"  # the link exists at PayOS: the query finds it

    def simulator_extra(self, hub_url: str, account_id: str) -> dict[str, str]:
        return {"webhook_url": f"{hub_url}/callbacks/payos/{account_id}"}

    def check_checkout(self, env: Env, payment: dict[str, Any]) -> None:
        assert payment["checkout_url"].startswith(env.sim_url + "/web/")

    def link_is_open(self, env: Env, payment: dict[str, Any]) -> bool:
        link = env.sim.get(f"/__sim/links/{payment['gateway_reference']}").json()
        return "CANCELLED" not in str(link)

    def forged_return(self, env: Env, payment: dict[str, Any]) -> str:
        return (
            f"{env.return_path(payment['id'])}?code=00&id=x&cancel=false&status=PAID"
            f"&orderCode={payment['gateway_reference']}"
        )

    def forged_notification(self, env: Env, payment: dict[str, Any]) -> httpx.Response:
        # The sandbox's own paid-webhook data, under a signature nobody made.
        data = paid_webhook_data(
            order_code=int(payment["gateway_reference"]),
            amount=self.amount,
            description="forged",
            reference="FT0000000001",
            paid_at=datetime(2026, 1, 1, 3, 0, tzinfo=UTC),
            link_id="x" * 32,
            account_number="12345678",
        )
        body = {"code": "00", "desc": "success", "success": True, "data": data}
        body["signature"] = "ab" * 32
        return httpx.post(
            env.callback_url,
            content=json.dumps(body).encode(),
            headers={"content-type": "application/json"},
            timeout=10,
        )

    def signed_callback(
        self, env: Env, payment: dict[str, Any], secret: str | None = None
    ) -> SignedCallback:
        gateway_data = env.row("select gateway_data from payments where id = :p", p=payment["id"])[
            0
        ]
        if isinstance(gateway_data, str):
            gateway_data = json.loads(gateway_data)
        data = paid_webhook_data(
            order_code=int(payment["gateway_reference"]),
            amount=self.amount,
            description=f"PH {payment['gateway_reference']}",
            reference="FT2611220000001",
            paid_at=datetime(2026, 11, 22, 3, 0, tzinfo=UTC),
            link_id=gateway_data["paymentLinkId"],
        )
        key = secret or entry("payos").sandbox_profile().credentials["checksum_key"]
        signature = signing.sign_data(data, key)
        body = {"code": "00", "desc": "success", "success": True, "data": data}
        return SignedCallback(
            encoding="json",
            fields={**body, "signature": signature},
            signed=tuple(f"data.{k}" for k in data),  # PayOS signs every key of `data`
            signature="signature",
            amount="data.amount",
            order="data.orderCode",
            status="data.code",
        )


DRIVER = PayOSDriver()

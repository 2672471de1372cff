"""Gateway callbacks (`/callbacks/{gateway}/{account}`) and browser returns
(`/return/{gateway}/{payment}`). Callbacks are answered in each gateway's own format."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from payhub.api.security import HubDep
from payhub.gateways.base import InboundRequest
from payhub.services.inbound import receive_notification, receive_return

router = APIRouter(include_in_schema=False)


class BodyTooLarge(Exception):
    pass


async def read_inbound(request: Request, limit: int) -> InboundRequest:
    """The request exactly as received, body size-capped."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return InboundRequest(
        method=request.method,
        path=request.url.path,
        query_string=request.scope.get("query_string", b""),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=b"".join(chunks),
        remote_addr=request.client.host if request.client else None,
    )


@router.api_route("/callbacks/{gateway}/{account_id}", methods=["GET", "POST"])
async def gateway_callback(
    gateway: str, account_id: str, request: Request, hub: HubDep
) -> Response:
    try:
        raw = await read_inbound(request, hub.settings.max_callback_bytes)
    except BodyTooLarge:
        return Response(status_code=413)
    reply = await receive_notification(hub, gateway, account_id, raw)
    return Response(content=reply.body, status_code=reply.status_code, media_type=reply.media_type)


@router.api_route("/return/{gateway}/{payment_id}", methods=["GET", "POST"])
async def browser_return(gateway: str, payment_id: str, request: Request, hub: HubDep) -> Response:
    try:
        raw = await read_inbound(request, hub.settings.max_callback_bytes)
    except BodyTooLarge:
        return Response(status_code=413)
    view = await receive_return(hub, gateway, payment_id, raw)
    if view is None:
        return HTMLResponse("<h1>Unknown payment</h1>", status_code=404)
    if view.merchant_return_url:
        sep = "&" if "?" in view.merchant_return_url else "?"
        query = urlencode(
            {"order_id": view.order_id, "payment_id": view.payment_id, "status": view.order_status}
        )
        return RedirectResponse(f"{view.merchant_return_url}{sep}{query}", status_code=303)
    return RedirectResponse(f"/pay/result/{view.payment_id}", status_code=303)

"""Gateway callbacks (`/callbacks/{gateway}/{account}`) and browser returns
(`/return/{gateway}/{payment}/{token}`). Callbacks are answered in each gateway's own
format. The return URL the hub gave the gateway carries the result page's token; a return
without it (a payment started before tokens existed) is logged and answered with a page
that shows nothing of the payment.

These are plain Starlette routes, placed before the API's: they take no dependencies
and no typed parameters, and FastAPI's per-request dependency solving would cost a
webhook about a tenth of its CPU."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from payhub.api.problems import rate_limited
from payhub.api.rate_limits import rate_limits_of
from payhub.api.security import hub_of
from payhub.errors import RateLimited
from payhub.gateways.base import InboundRequest
from payhub.services import hosted
from payhub.services.inbound import receive_notification, receive_return

_NO_TOKEN_PAGE = (
    "<!doctype html><title>Payment</title><h1>Thank you</h1>"
    "<p>Your payment is being confirmed. Go back to the shop to see its status.</p>"
)


class BodyTooLarge(Exception):
    pass


async def read_inbound(request: Request, limit: int) -> InboundRequest:
    """The request exactly as received, body size-capped; `remote_addr` is the client's
    address (api.rate_limits: the peer, or what a trusted proxy says)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return InboundRequest(
        method=request.method,
        path=request.scope["path"],
        query_string=request.scope.get("query_string", b""),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=b"".join(chunks),
        remote_addr=rate_limits_of(request).client_ip(request.scope),
    )


async def gateway_callback(request: Request) -> Response:
    hub = hub_of(request)
    gateway, account_id = request.path_params["gateway"], request.path_params["account_id"]
    try:
        raw = await read_inbound(request, hub.settings.max_callback_bytes)
    except BodyTooLarge:
        return Response(status_code=413)
    try:
        reply = await receive_notification(
            hub,
            gateway,
            account_id,
            raw,
            admit_unverified=rate_limits_of(request).admit_unverified_callback,
        )
    except RateLimited as exc:
        return rate_limited(exc)
    return Response(content=reply.body, status_code=reply.status_code, media_type=reply.media_type)


async def browser_return(request: Request) -> Response:
    hub = hub_of(request)
    gateway, payment_id = request.path_params["gateway"], request.path_params["payment_id"]
    token = request.path_params.get("token")
    if token is not None and not hosted.result_token_is_valid(hub, payment_id, token):
        return HTMLResponse("<h1>Link invalid</h1>", status_code=403)
    try:
        raw = await read_inbound(request, hub.settings.max_callback_bytes)
    except BodyTooLarge:
        return Response(status_code=413)
    view = await receive_return(
        hub, gateway, payment_id, raw, may_query=rate_limits_of(request).allow_return_query
    )
    if view is None:
        return HTMLResponse("<h1>Unknown payment</h1>", status_code=404)
    if view.merchant_return_url:
        sep = "&" if "?" in view.merchant_return_url else "?"
        query = urlencode(
            {"order_id": view.order_id, "payment_id": view.payment_id, "status": view.order_status}
        )
        return RedirectResponse(f"{view.merchant_return_url}{sep}{query}", status_code=303)
    if token is None:
        return HTMLResponse(_NO_TOKEN_PAGE)
    return RedirectResponse(hosted.result_path(hub, view.payment_id), status_code=303)


routes = [
    Route("/callbacks/{gateway}/{account_id}", gateway_callback, methods=["GET", "POST"]),
    Route("/return/{gateway}/{payment_id}/{token}", browser_return, methods=["GET", "POST"]),
    Route("/return/{gateway}/{payment_id}", browser_return, methods=["GET", "POST"]),
]

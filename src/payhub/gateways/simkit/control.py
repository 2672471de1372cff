"""The `/__sim/` test control API, written once for every sandbox.

Tests and the demo drive a sandbox without a browser through these routes:

| route | what it does |
|---|---|
| `POST /__sim/pay/{key}` | drive an outcome for one payment (`{"outcome": ..., ...}`) |
| `GET /__sim/{records}/{key}` | show one payment as the sandbox holds it |
| `POST /__sim/faults` | queue `{"fault": name, "count": n}` for the next notice(s) or create(s) |
| `GET /__sim/faults` | the queued faults |
| `GET /__sim/deliveries` | the delivery log |
| `POST /__sim/flush` | wait until every scheduled delivery has finished |
| `POST /__sim/reset` | forget every payment, fault and delivery |

A gateway's sandbox supplies only what differs, by subclassing `SandboxControl`: how an
outcome is driven (`drive`), how one payment is found and shown (`find`, `describe`, under
`records`), the faults it knows beyond the shared `Fault`s (`extra_faults`), and its own
control routes (`routes`).
Create faults are the same for every sandbox (`CREATE_FAULTS`): the next create call(s) on
one of the sandbox's `create_paths` answer HTTP 500 without creating anything
(`create_500`), answer the gateway's documented refusal (`create_refused`, from
`refused_create`), or create the payment and then stall `{"stall": s}` seconds (default
5) before answering (`create_timeout`: the hub's read timeout fires while the link exists).
A refused connection needs no fault: point the account at a closed port.

The answer shapes have defaults; a sandbox whose existing clients read another shape
overrides the `*_answer` method, so no client sees a change.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payhub.gateways.simkit.notifier import Fault, Notifier
from payhub.gateways.simkit.pages import SandboxPageHeaders

JsonBody = dict[str, Any]
Handler = Callable[[Request, JsonBody], Any]  # returns a JSON-able answer, maybe awaitable


CREATE_FAULTS = ("create_500", "create_refused", "create_timeout")


class ControlError(Exception):
    """A control request that cannot be done; answered as `{"error": message, **extra}`."""

    def __init__(self, status_code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.extra = extra

    def response(self) -> Response:
        return JSONResponse({"error": self.message, **self.extra}, status_code=self.status_code)


async def read_body(request: Request) -> JsonBody:
    """The request's JSON object; an empty body is `{}`."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ControlError(400, "body must be a JSON object") from None
    if not isinstance(data, dict):
        raise ControlError(400, "body must be a JSON object")
    return data


def whole_number(body: Mapping[str, Any], name: str, default: int) -> int:
    """`body[name]` as an int (a JSON number or digits), else a 400."""
    value = body.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ControlError(400, f"{name} must be a whole number") from None


def control_route(path: str, handler: Handler, methods: tuple[str, ...] = ("POST",)) -> Route:
    """A route under `/__sim/` whose handler gets the parsed body and returns JSON-able data."""

    async def endpoint(request: Request) -> Response:
        try:
            body = {} if request.method == "GET" else await read_body(request)
            answer = handler(request, body)
            if inspect.isawaitable(answer):
                answer = await answer
        except ControlError as exc:
            return exc.response()
        return answer if isinstance(answer, Response) else JSONResponse(answer)

    return Route(f"/__sim/{path}", endpoint, methods=list(methods))


class Sandbox(Protocol):
    """A sandbox's state, as the control API needs it."""

    notifier: Notifier

    def reset(self) -> None: ...


S = TypeVar("S", bound=Sandbox)


class SandboxControl(Generic[S]):
    """What one sandbox gives the shared `/__sim/` routes. Subclass it; override what differs.

    `drive` is required; the rest have defaults.
    """

    # `GET /__sim/{records}/{key}` shows one payment (`find`, then `describe`); None: no route.
    records: str | None = None
    not_found = "no such payment"  # the 404 when `find` finds nothing
    # How long `POST /__sim/flush` waits by default (the body may say `{"timeout": s}`).
    flush_timeout: float = 10.0
    # The paths of the gateway's create call(s), which the create faults apply to.
    create_paths: tuple[str, ...] = ()

    def __init__(self, sandbox: S) -> None:
        self.sandbox = sandbox
        self.notifier = sandbox.notifier
        self.create_faults: list[tuple[str, float]] = []  # (fault, stall seconds), in order

    def refused_create(self) -> Response:
        """The gateway's documented answer refusing a create call (nothing created)."""
        return JSONResponse({"error": "refused"}, status_code=400)

    def take_create_fault(self) -> tuple[str, float] | None:
        return self.create_faults.pop(0) if self.create_faults else None

    # -- what every sandbox supplies ------------------------------------------------------

    def drive(self, key: str, body: JsonBody) -> Any:
        """Drive the outcome `body` names for payment `key`; raise `ControlError` if not."""
        raise NotImplementedError

    # -- optional -------------------------------------------------------------------------

    def find(self, key: str) -> Any | None:
        """The payment `key` names (a link, order or bill...), or None."""
        return None

    def describe(self, record: Any) -> Any:
        """One payment as `GET /__sim/{records}/{key}` shows it."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget every payment, fault and delivery: the state of a fresh start."""
        self.sandbox.reset()

    def extra_faults(self) -> Mapping[str, Callable[[int], None]]:
        """Faults of this sandbox beyond `Fault` (name -> queue `count` of them)."""
        return {}

    def routes(self) -> list[Route]:
        """This sandbox's own control routes (build them with `control_route`)."""
        return []

    def record(self, key: str) -> Any:
        """`find(key)`, or a 404 saying `not_found`."""
        found = self.find(key)
        if found is None:
            raise ControlError(404, self.not_found)
        return found

    # -- answer shapes --------------------------------------------------------------------

    def faults_answer(self) -> Any:
        return {"pending": self.notifier.pending_faults()}

    def faults_with_create(self) -> Any:
        """`faults_answer()`, plus `create_faults` while any is queued (so the answer every
        existing client reads is unchanged)."""
        answer = self.faults_answer()
        if self.create_faults and isinstance(answer, dict):
            return {**answer, "create_faults": [name for name, _ in self.create_faults]}
        return answer

    def deliveries_answer(self) -> Any:
        return {"deliveries": self.delivery_log()}

    def flush_answer(self) -> Any:
        return {"deliveries": self.delivery_log()}

    def reset_answer(self) -> Any:
        return {"ok": True}

    def delivery_log(self) -> list[dict[str, Any]]:
        return [d.as_dict() for d in self.notifier.deliveries]

    # -- the shared handlers --------------------------------------------------------------

    def inject(self, body: JsonBody) -> Any:
        name = str(body.get("fault", ""))
        count = whole_number(body, "count", 1)
        extra = self.extra_faults()
        if name in CREATE_FAULTS and name not in extra:
            try:
                stall = float(body.get("stall", 5.0))
            except (TypeError, ValueError):
                raise ControlError(400, "stall must be a number of seconds") from None
            self.create_faults.extend([(name, stall)] * count)
            return self.faults_with_create()
        if name in extra:
            extra[name](count)
        else:
            try:
                fault = Fault(name)
            except ValueError:
                known = [f.value for f in Fault] + list(extra) + list(CREATE_FAULTS)
                raise ControlError(400, f"unknown fault {name!r}", known=known) from None
            self.notifier.inject(fault, count)
        return self.faults_answer()

    async def flush(self, body: JsonBody) -> Any:
        try:
            timeout = float(body.get("timeout", self.flush_timeout))
        except (TypeError, ValueError):
            raise ControlError(400, "timeout must be a number of seconds") from None
        await self.notifier.wait_idle(timeout=timeout)
        return self.flush_answer()

    def do_reset(self) -> Any:
        self.create_faults.clear()
        self.reset()
        return self.reset_answer()


def control_routes(control: SandboxControl[Any]) -> list[Route]:
    """Every `/__sim/` route of one sandbox: the shared ones, then the sandbox's own."""

    def faults(request: Request, body: JsonBody) -> Any:
        return control.faults_with_create() if request.method == "GET" else control.inject(body)

    routes = [
        control_route(
            "pay/{key}", lambda request, body: control.drive(request.path_params["key"], body)
        ),
        control_route("faults", faults, ("GET", "POST")),
        control_route("deliveries", lambda request, body: control.deliveries_answer(), ("GET",)),
        control_route("flush", lambda request, body: control.flush(body)),
        control_route("reset", lambda request, body: control.do_reset()),
    ]
    if control.records:
        routes.append(
            control_route(
                control.records + "/{key}",
                lambda request, body: control.describe(control.record(request.path_params["key"])),
                ("GET",),
            )
        )
    return routes + control.routes()


class CreateFaults:
    """ASGI middleware playing the queued create faults on the sandbox's create paths."""

    def __init__(self, app: ASGIApp, control: SandboxControl[Any]) -> None:
        self.app = app
        self.control = control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") not in self.control.create_paths:
            await self.app(scope, receive, send)
            return
        fault = self.control.take_create_fault()
        if fault is None:
            await self.app(scope, receive, send)
            return
        name, stall = fault
        if name == "create_500":
            response: Response = JSONResponse({"error": "internal error"}, status_code=500)
            await response(scope, receive, send)
        elif name == "create_refused":
            await self.control.refused_create()(scope, receive, send)
        else:  # create_timeout: create, then answer too late
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await self.app(scope, receive, hold)
            await asyncio.sleep(stall)
            with contextlib.suppress(Exception):
                for message in held:
                    await send(message)


def sandbox_app(
    routes: Sequence[BaseRoute],
    control: SandboxControl[Any],
    *,
    on_close: Callable[[], None] | None = None,
) -> Starlette:
    """A sandbox's ASGI app: its `/__sim/` routes, then its gateway routes (which may end in
    catch-alls such as `/{code}`); on shutdown `on_close`, then the notifier is closed."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if on_close is not None:
            on_close()
        await control.notifier.aclose()

    return Starlette(
        routes=[*control_routes(control), *routes],
        lifespan=lifespan,
        middleware=[Middleware(SandboxPageHeaders), Middleware(CreateFaults, control=control)],
    )

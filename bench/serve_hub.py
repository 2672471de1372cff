"""Serve the hub for the benchmark: one uvicorn worker process (uvloop + httptools).

The hub is built from the PAYHUB_* environment (`payhub.asgi.app_from_env`), exactly as
`uvicorn --factory payhub.asgi:app_from_env` would serve it, with the server settings of
`payhub serve` (payhub.serving), plus the bench's own baseline route `POST /__noop`. Access
logging is off.

    python -m bench.serve_hub --port 8123
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from payhub.asgi import app_from_env
from payhub.serving import server_config
from payhub.settings import get_settings


async def noop(request: Request) -> Response:
    """The bench's baseline: same app, same middleware, no work. Only this bench app has
    it; the hub itself serves no unauthenticated route that accepts a body for nothing."""
    await request.body()
    return JSONResponse({"ok": True})


def bench_app() -> FastAPI:
    app = app_from_env()
    app.add_api_route("/__noop", noop, methods=["POST"], include_in_schema=False)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    config = server_config(
        "bench.serve_hub:bench_app",
        get_settings(),
        host=args.host,
        port=args.port,
        factory=True,
        loop="uvloop",
        lifespan="on",
        log_level="warning",
        access_log=False,
        backlog=2048,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()

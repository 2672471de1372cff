"""Serve the hub for the benchmark: one uvicorn worker process (uvloop + httptools).

The hub is built from the PAYHUB_* environment (`payhub.asgi.app_from_env`), exactly as
`uvicorn --factory payhub.asgi:app_from_env` would serve it. Access logging is off.

    python -m bench.serve_hub --port 8123
"""

from __future__ import annotations

import argparse

import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        "payhub.asgi:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_level="warning",
        access_log=False,
        backlog=2048,
    )


if __name__ == "__main__":
    main()

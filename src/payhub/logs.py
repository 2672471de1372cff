"""Logging: stdlib `logging` everywhere, rendered by structlog as console lines or JSON.

Secrets never reach a log line: credentials travel as `payhub.secret.Secret`, whose repr
and str are masked, and no code logs request bodies or credential mappings.
"""

from __future__ import annotations

import logging

import structlog


def configure_logging(level: str = "info", *, json: bool = False) -> None:
    """Route every stdlib logger (payhub, uvicorn, sqlalchemy) through one renderer."""
    shared: list[structlog.types.Processor] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Library chatter (each request, each migration step, server start-up) only on debug.
    for noisy in ("uvicorn.access", "uvicorn.error", "httpx", "httpcore", "alembic", "mail.log"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))

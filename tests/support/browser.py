"""Chromium for the browser tests.

Playwright never downloads its own browser here; the tests drive Debian's Chromium
(``scripts/bootstrap.sh --chromium`` installs it)::

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)

`CHROMIUM_ARGS` keep Chromium headless and quiet: no sandbox (we may run as root), and
no background traffic to Google's hosts, which this machine's closed network refuses.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM_ARGS: list[str] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    """Path of a Chromium executable (``PAYHUB_CHROMIUM`` overrides), or None if absent."""
    override = os.environ.get("PAYHUB_CHROMIUM", "").strip()
    if override:
        return override
    for candidate in _CANDIDATES:
        if os.sep in candidate:
            if Path(candidate).is_file() and os.access(candidate, os.X_OK):
                return candidate
        else:
            found = shutil.which(candidate)
            if found:
                return found
    return None

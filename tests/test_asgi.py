"""payhub.asgi: a server process freezes its startup heap for the garbage collector; an app
embedded elsewhere leaves the collector alone. Each case runs in a fresh interpreter, so
the test process's own collector is never touched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.hub import MASTER_KEY

_PROBE = """
import gc, json, sys
from fastapi.testclient import TestClient
from payhub.asgi import create_app
from payhub.services.context import build_hub
from payhub.settings import Settings
from payhub.store.migrate import upgrade

url, key, own = sys.argv[1], sys.argv[2], sys.argv[3] == "own"
upgrade(url)
before = gc.get_threshold()
app = create_app(build_hub(Settings(database_url=url, master_key=key)), own_process=own)
with TestClient(app) as client:
    assert client.get("/healthz").status_code == 200
    print(json.dumps({"frozen": gc.get_freeze_count(), "before": before,
                      "after": gc.get_threshold()}))
"""


def _probe(tmp_path: Path, mode: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, f"sqlite:///{tmp_path / 'hub.db'}", MASTER_KEY, mode],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("mode", ["own", "embedded"])
def test_only_a_server_process_freezes_its_startup_heap(tmp_path: Path, mode: str) -> None:
    result = _probe(tmp_path, mode)
    if mode == "own":
        assert isinstance(result["frozen"], int) and result["frozen"] > 10_000
        assert result["after"] == [50_000, 20, 20]
    else:
        assert result["frozen"] == 0
        assert result["after"] == result["before"]

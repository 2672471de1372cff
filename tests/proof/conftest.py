"""Sizes for the proof suite, one switch for all of it.

`make test` runs every proof at CI size; `make proof` sets ``PAYHUB_PROOF=1`` and the same
files run at full size, plus the long proofs that only exist at full size. A proof file
picks its counts with `proof_size(ci=…, full=…)` and marks a full-only proof with
`full_proof_only`; other files may read ``PAYHUB_PROOF`` themselves, it means the same.

Every proof prints one line starting with ``PROOF`` with its figures (run pytest with
``-s``, or read the captured output): ``make proof`` collects them into its summary.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.hub import HubUnderTest
from tests.support.templates import seeded_hub

PROOF_ENV = "PAYHUB_PROOF"


def full_proof() -> bool:
    """True under `make proof` (PAYHUB_PROOF=1): the long, full-size run."""
    return os.environ.get(PROOF_ENV, "").strip().lower() in {"1", "true", "yes"}


def proof_size(*, ci: int, full: int) -> int:
    """`full` under PAYHUB_PROOF=1, else `ci`."""
    return full if full_proof() else ci


full_proof_only = pytest.mark.skipif(
    not full_proof(), reason="a long proof: runs under `make proof` (PAYHUB_PROOF=1)"
)


def report(name: str, **figures: object) -> None:
    """One summary line a proof's figures go in, collected by `make proof`."""
    text = " ".join(f"{k}={v}" for k, v in figures.items())
    print(f"\nPROOF {name}: {text}", flush=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/proof/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.proof)


@pytest.fixture(params=["sqlite", "postgres"])
def seeded(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], HubUnderTest]:
    """As in tests/e2e: a copy of a seeded template database, on both engines."""
    return functools.partial(seeded_hub, request.param, tmp_path)

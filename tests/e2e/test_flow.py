"""The conformance contract (tests/support/conformance.py), end to end for every gateway in
the registry, on SQLite and PostgreSQL: hub and simulator as real servers over loopback.
Gateway-specific behaviour is in tests/e2e/test_<gateway>_quirks.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.conformance import CASES, Case, load_driver, registered_gateways, running
from tests.support.hub import HubUnderTest

pytestmark = pytest.mark.e2e


def _cases() -> list[object]:
    return [
        pytest.param(case, id=case.name, marks=[pytest.mark.tz] if case.tz else [])
        for case in CASES
    ]


@pytest.mark.parametrize("case", _cases())
@pytest.mark.parametrize("gateway", registered_gateways())
def test_contract(gateway: str, case: Case, seeded: Callable[[str], HubUnderTest]) -> None:
    driver = load_driver(gateway)  # a gateway without a driver fails here, never skips
    with running(driver, seeded, proxy=case.proxy) as env:
        case.run(env)


def test_every_registered_gateway_has_a_driver() -> None:
    missing = []
    for gateway in registered_gateways():
        try:
            load_driver(gateway)
        except pytest.fail.Exception:
            missing.append(gateway)
    assert missing == [], f"registered gateways without a conformance driver: {missing}"


def test_a_gateway_without_a_driver_fails_rather_than_skips() -> None:
    with pytest.raises(pytest.fail.Exception, match="has no conformance driver"):
        load_driver("nosuchgateway")

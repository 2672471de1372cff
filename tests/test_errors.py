"""payhub.errors: one root, and every class says whether a retry is safe and whether the
outcome is known, with a stable code and a public message."""

from __future__ import annotations

import re

import pytest

import payhub.domain.errors as domain_errors
import payhub.errors as errors
import payhub.gateways.base as base
import payhub.services.checkout as checkout
import payhub.services.idempotency as idempotency
import payhub.services.refunds as refunds
import payhub.services.vault as vault
from payhub.errors import (
    AttemptInFlight,
    DomainError,
    GatewayCallFailed,
    GatewayCallLost,
    GatewayCallRefused,
    GatewayError,
    GatewayMisconfigured,
    GatewayRejected,
    GatewayUnavailable,
    HubError,
    InvalidSignature,
    NotFound,
    VaultError,
)


def all_subclasses(cls: type[HubError]) -> list[type[HubError]]:
    found: list[type[HubError]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(all_subclasses(sub))
    return found


TREE = [HubError, *all_subclasses(HubError)]


def test_every_error_payhub_defines_has_the_one_root() -> None:
    roots = {domain_errors.DomainError, base.GatewayError, checkout.GatewayCallFailed}
    roots |= {vault.VaultError, refunds.RefundsNotSupported, idempotency.IdempotencyInFlight}
    assert all(issubclass(cls, HubError) for cls in roots)


def test_old_import_paths_name_the_same_classes() -> None:
    assert domain_errors.NotFound is errors.NotFound
    assert domain_errors.AttemptInFlight is errors.AttemptInFlight
    assert base.GatewayUnavailable is errors.GatewayUnavailable
    assert base.InvalidSignature is errors.InvalidSignature
    assert checkout.GatewayCallFailed is errors.GatewayCallFailed
    assert vault.VaultError is errors.VaultError


@pytest.mark.parametrize("cls", TREE, ids=lambda c: c.__name__)
def test_each_class_answers_both_questions_with_a_code_and_a_public_message(
    cls: type[HubError],
) -> None:
    assert isinstance(cls.retry_safe, bool)
    assert isinstance(cls.outcome_known, bool)
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", cls.code), cls.code
    assert cls.public_message and cls.public_message == cls.public_message.strip()


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in TREE]
    assert len(codes) == len(set(codes))


def test_the_module_docstring_draws_every_class() -> None:
    doc = errors.__doc__ or ""
    for cls in TREE:
        assert cls.__name__ in doc, cls.__name__
        assert cls.code in doc, cls.code


def test_no_class_carries_an_http_status() -> None:
    for cls in TREE:
        assert not hasattr(cls, "status"), cls.__name__


def test_domain_refusals_are_known_and_not_retry_safe_except_in_flight() -> None:
    assert NotFound("x").outcome_known and not NotFound("x").retry_safe
    assert AttemptInFlight("busy").retry_safe and AttemptInFlight("busy").outcome_known
    assert idempotency.IdempotencyInFlight("busy").retry_safe
    refusal = DomainError("no", refundable=5)
    assert (refusal.detail, refusal.extra) == ("no", {"refundable": 5})


def test_gateway_errors_keep_the_gateway_code_apart_from_the_problem_code() -> None:
    exc = GatewayRejected("PayOS said 231", gateway_code="231")
    assert (exc.code, exc.gateway_code, exc.message) == ("gateway-rejected", "231", exc.message)
    assert exc.retry_safe and exc.outcome_known
    assert not GatewayMisconfigured("401").retry_safe
    assert InvalidSignature("bad").outcome_known  # nothing was changed


def test_gateway_unavailable_says_per_raise_whether_the_request_may_have_taken_effect() -> None:
    lost = GatewayUnavailable("read timeout", gateway_code="timeout")
    assert lost.outcome_unknown and not lost.outcome_known and not lost.retry_safe
    busy = GatewayUnavailable("429", gateway_code="http_429", outcome_unknown=False, retry_after=3)
    assert busy.outcome_known and busy.retry_safe and busy.retry_after == 3
    assert lost.retry_after is None


def test_a_failed_create_is_lost_or_refused_as_the_adapter_said() -> None:
    lost = GatewayCallFailed.from_gateway("m", GatewayUnavailable("t", gateway_code="timeout"))
    assert isinstance(lost, GatewayCallLost)
    assert (lost.code, lost.outcome_unknown, lost.retry_safe) == (
        "gateway-outcome-unknown",
        True,
        False,
    )
    assert lost.gateway_code == "timeout"
    for cause, retry_safe in (
        (GatewayUnavailable("429", outcome_unknown=False), True),
        (GatewayRejected("no", gateway_code="22"), True),
        (GatewayMisconfigured("401"), False),
    ):
        refused = GatewayCallFailed.from_gateway("m", cause)
        assert isinstance(refused, GatewayCallRefused)
        assert refused.code == "gateway-refused" and not refused.outcome_unknown
        assert refused.retry_safe is retry_safe


def test_public_messages_never_carry_the_internal_text() -> None:
    exc = GatewayError("MoMo create refused: secret=abc", gateway_code="20")
    assert "secret" not in exc.public_message and "MoMo" not in exc.public_message
    assert "PAYHUB_MASTER_KEY" not in VaultError("PAYHUB_MASTER_KEY is not set").public_message

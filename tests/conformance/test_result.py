"""CheckResult and the session defaults the plugin sets."""

from __future__ import annotations

import json

import pytest

from toytheory.conformance import CheckResult, check_pass_at_k, configure
from toytheory.conformance._defaults import default_level, default_seed


def test_a_result_is_its_verdict_and_reports_its_evidence():
    ok = CheckResult("check_x", "f", True, evidence=["a = 1 [ok]"], level=1e-6, power="p")
    bad = CheckResult("check_x", "f", False, evidence=["a = 1 [ok]", "b = 2 [FAIL]"])
    assert ok and not bad and ok.assert_ok() is ok
    assert repr(bad) == "check_x(f): FAIL -- b = 2 [FAIL]"
    with pytest.raises(AssertionError) as info:
        bad.assert_ok()
    assert str(info.value).splitlines() == ["check_x(f): FAIL", "  a = 1 [ok]", "  b = 2 [FAIL]",
                                            "  exact check (no randomness in the verdict)"]
    assert "level: a correct implementation fails with probability <= 1e-06" in str(ok)


def test_as_dict_is_json():
    from toytheory.decoding.repeated_sampling import pass_at_k_unbiased

    d = check_pass_at_k(pass_at_k_unbiased, nk=[(5, 2)]).as_dict()
    assert json.loads(json.dumps(d))["verdict"] == "pass"


def test_configure_sets_and_restores_the_session_defaults():
    previous = configure(level=0.01, seed=5, context="node")
    try:
        assert default_level() == 0.01
        s = default_seed("check")
        configure(seed=6)
        assert default_seed("check") != s
    finally:
        configure(**previous)
    assert default_level() == previous["level"]
    with pytest.raises(ValueError, match="^level:"):
        configure(level=1.0)
    with pytest.raises(ValueError, match="^seed:"):
        configure(seed=-1)

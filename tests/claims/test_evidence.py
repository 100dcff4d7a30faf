"""Evidence: the verdict follows from the numbers; nothing sets it by hand."""

from __future__ import annotations

import math

import pytest

from toytheory import stats
from toytheory.claims import Evidence


def ev():
    return Evidence("a.b.c", 0, ("exact",))


def test_all_passing_numbers_hold():
    e = ev()
    e.close("x", 1.0, 1.0 + 1e-12, rtol=1e-10)
    e.at_most("y", 0.5, 1.0, role="statement")
    assert e.verdict == "holds"


def test_a_failing_statement_number_refutes():
    e = ev()
    e.close("x", 1.0, 1.0, atol=0.0)
    e.at_least("rate", 0.1, 0.5, role="statement")
    assert e.verdict == "refuted"
    assert "rate" in e.message


def test_a_failing_witness_fails_even_when_the_statement_fails_too():
    e = ev()
    e.close("x", 1.0, 2.0, atol=0.5)
    e.at_least("rate", 0.1, 0.5, role="statement")
    assert e.verdict == "fails"
    assert e.message.startswith("witnesses disagree")


def test_evidence_without_a_held_number_is_an_error():
    e = ev()
    e.record("just a number", 3.0)
    assert e.verdict == "error"


def test_statistical_numbers_follow_the_expected_verdict():
    rej = stats.TestResult("t", 9.0, 1e-9, 1e-6, True)
    e = ev()
    e.test("wrong field is detected", rej, expect="reject")
    assert e.verdict == "holds"
    e2 = ev()
    e2.test("simulation matches", rej, expect="accept")
    assert e2.verdict == "fails"


def test_nan_measurements_are_refused():
    with pytest.raises(ValueError, match="measured value is NaN"):
        ev().at_most("x", math.nan, 1.0)


def test_duplicate_names_are_refused():
    e = ev()
    e.equal("x", 1, 1)
    with pytest.raises(ValueError, match="already recorded"):
        e.equal("x", 1, 1)


def test_headline_defaults_to_the_first_statement_number():
    e = ev()
    e.equal("w", 1, 1)
    e.at_most("s", 0.1, 1.0, role="statement")
    assert e.headline.name == "s"


def test_infinite_values_serialise_as_strings():
    e = ev()
    e.at_most("x", math.inf, 1.0)
    assert e.numbers[0].as_dict()["value"] == "inf"

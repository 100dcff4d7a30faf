"""The histogram audit of differential privacy, and the exact Laplace hockey stick."""

from __future__ import annotations

import math

import numpy as np
import pytest

from toytheory.adaptive import audit
from toytheory.adaptive.mechanisms import laplace_release
from tests._seeds import reseed

N = 300_000


def outputs(scale_factor, epsilon=1.0, n=100, seed=reseed(0)):
    rng = np.random.default_rng(seed)
    qa, qb = 0.3, 0.31
    a = laplace_release(qa, epsilon / scale_factor, 1 / n, rng, size=N)
    b = laplace_release(qb, epsilon / scale_factor, 1 / n, rng, size=N)
    return a, b, audit.audit_edges(qa, qb, 1 / (n * epsilon))


def test_the_audit_passes_a_correct_laplace_mechanism():
    a, b, edges = outputs(1.0)
    result = audit.audit_dp(a, b, 1.0, edges)
    assert result.passed and result.statistic < result.tolerance


@pytest.mark.parametrize("factor", [0.8, 0.5])
def test_the_audit_fails_a_mechanism_with_too_little_noise(factor):
    a, b, edges = outputs(factor)
    assert not audit.audit_dp(a, b, 1.0, edges).passed


def test_the_tolerance_is_the_mcdiarmid_bound_on_both_histograms():
    tol = audit.histogram_audit_tolerance(10_000, 40_000, 30, 0.5, 1e-6)
    dev = lambda n: math.sqrt(30 / n) + math.sqrt(2 * math.log(2e6) / n)  # noqa: E731
    assert tol == pytest.approx(max(dev(1e4) + math.exp(0.5) * dev(4e4),
                                    dev(4e4) + math.exp(0.5) * dev(1e4)))


def test_exact_binned_hockey_stick_is_zero_at_epsilon_and_positive_below():
    edges = audit.audit_edges(0.0, 0.01, 0.01)
    assert audit.laplace_binned_hockey_stick(1.0, 0.0, 0.01, 0.01, edges) <= 1e-12
    assert audit.laplace_binned_hockey_stick(0.9, 0.0, 0.01, 0.01, edges) > 1e-3
    # the continuous hockey stick of Lap(0, b) vs Lap(2b, b) at eps = 1: the x <= 0 half alone
    # contributes 1/2 - e/2 e^-2
    big = audit.laplace_binned_hockey_stick(1.0, 0.0, 0.02, 0.01, edges)
    assert big >= 0.5 - 0.5 * math.e * math.exp(-2) - 1e-12


def test_audit_edges_contain_both_centres_and_infinite_tails():
    edges = audit.audit_edges(0.31, 0.3, 0.01, bins=10)
    assert edges[0] == -np.inf and edges[-1] == np.inf
    assert 0.3 in edges and 0.31 in edges and np.all(np.diff(edges) > 0)


def test_audit_arguments_are_checked():
    with pytest.raises(ValueError, match="^edges:"):
        audit.audit_dp(np.zeros(3), np.zeros(3), 1.0, [0.0, 0.0])
    with pytest.raises(ValueError, match="^epsilon:"):
        audit.audit_dp(np.zeros(3), np.zeros(3), -1.0, [0.0, 1.0])
    with pytest.raises(ValueError, match="^samples_a:"):
        audit.audit_dp([np.nan], np.zeros(3), 1.0, [0.0, 1.0])
    with pytest.raises(ValueError, match="^scale:"):
        audit.audit_edges(0.0, 1.0, 0.0)


EDGES = np.array([-np.inf, -1.0, 0.0, 1.0, np.inf])
SAMPLES = np.array([-2.0, -0.5, 0.5, 2.0])


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
@pytest.mark.parametrize("call", [
    lambda e: audit.audit_dp(SAMPLES, SAMPLES, e, EDGES),
    lambda e: audit.histogram_dp_statistic(SAMPLES, SAMPLES, EDGES, e),
    lambda e: audit.histogram_audit_tolerance(100, 100, 4, e, 1e-6),
    lambda e: audit.laplace_binned_hockey_stick(e, 0.0, 0.01, 0.01, EDGES),
], ids=["audit_dp", "histogram_dp_statistic", "histogram_audit_tolerance",
        "laplace_binned_hockey_stick"])
def test_every_audit_function_refuses_epsilon_zero_negative_or_non_finite(call, bad):
    with pytest.raises(ValueError, match="^epsilon: must be"):
        call(bad)


@pytest.mark.parametrize("edges", [
    [0.0, 1.0, 0.5],                      # decreasing
    [0.0, 1.0, 1.0, 2.0],                 # repeated
    [-np.inf, -np.inf, 0.0, np.inf],      # a repeated infinite end
    [0.0, np.nan, 1.0],
    [0.0],
    [[0.0, 1.0]],
    ["0", "1"],
    [0.0 + 0j, 1.0 + 1j],
], ids=["decreasing", "repeated", "repeated-inf", "nan", "one-edge", "2-D", "strings", "complex"])
@pytest.mark.parametrize("call", [
    lambda e: audit.audit_dp(SAMPLES, SAMPLES, 1.0, e),
    lambda e: audit.histogram_dp_statistic(SAMPLES, SAMPLES, e, 1.0),
    lambda e: audit.laplace_binned_hockey_stick(1.0, 0.0, 0.01, 0.01, e),
], ids=["audit_dp", "histogram_dp_statistic", "laplace_binned_hockey_stick"])
def test_edges_that_are_not_strictly_increasing_real_numbers_are_refused(call, edges):
    with pytest.raises(ValueError, match="^edges:"):
        call(edges)


@pytest.mark.parametrize("delta", [1.0, 1.5, -0.1, float("nan")])
def test_audit_refuses_a_delta_outside_0_1(delta):
    with pytest.raises(ValueError, match="^delta:"):
        audit.audit_dp(SAMPLES, SAMPLES, 1.0, EDGES, delta=delta)


def test_audit_refuses_empty_samples():
    with pytest.raises(ValueError, match="^samples_b: must contain at least one sample"):
        audit.audit_dp(SAMPLES, np.array([]), 1.0, EDGES)
    with pytest.raises(ValueError, match="^samples_a: must contain at least one sample"):
        audit.histogram_dp_statistic(np.array([]), SAMPLES, EDGES, 1.0)


def test_the_exact_hockey_stick_stays_at_zero_with_very_many_bins():
    """At eps, the binned Laplace hockey stick is exactly 0; with 6e5 bins the old
    CDF-difference masses returned 1.5e-11 (cancellation near 1). Tail-wise masses
    keep it at rounding level whatever the number of bins."""
    n, epsilon = 100, 1.0
    qa, qb, scale = 0.3, 0.31, 1 / (n * epsilon)
    for bins in (40, 6_000, 600_000):
        edges = audit.audit_edges(qa, qb, scale, bins=bins)
        assert edges.size - 1 >= bins
        assert audit.laplace_binned_hockey_stick(epsilon, qa, qb, scale, edges) <= 2e-15
        # and it still sees the calibration is tight: positive at 0.9 eps
        assert audit.laplace_binned_hockey_stick(0.9 * epsilon, qa, qb, scale,
                                                 edges) > 0.04


def test_laplace_bin_masses_match_high_precision_in_both_tails():
    """Each bin mass has a small relative error, even for thin bins far in either tail,
    against mpmath at 50 digits."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    from toytheory.adaptive.audit import _laplace_bin_masses

    loc, scale = 0.3, 0.01
    edges = np.array([-np.inf, 0.2, 0.2 + 1e-7, 0.29, 0.3, 0.3 + 1e-9, 0.35, 0.4,
                      0.4 + 1e-7, 0.5, np.inf])

    def cdf(x):
        if x == -np.inf:
            return mpmath.mpf(0)
        if x == np.inf:
            return mpmath.mpf(1)
        z = (mpmath.mpf(float(x)) - mpmath.mpf(loc)) / mpmath.mpf(scale)
        return mpmath.exp(z) / 2 if z < 0 else 1 - mpmath.exp(-z) / 2

    exact = [cdf(b) - cdf(a) for a, b in zip(edges[:-1], edges[1:])]
    got = _laplace_bin_masses(edges, loc, scale)
    rel = [abs((mpmath.mpf(float(g)) - e) / e) for g, e in zip(got, exact)]
    assert max(rel) < 1e-12, rel

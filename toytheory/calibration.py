"""Auditing a statistical test: its rejection rate under the null and its power.

A test is calibrated at level alpha when, over many independent seeded
repetitions under the null, the number of rejections is Binomial(R, r) with
``r`` at most alpha (for exact tests, close to alpha). :func:`audit_rate`
holds an observed rejection count to an expected rate with an exact two-sided
binomial test, so a miscalibrated test (or a test on proportions, which never
rejects) is caught at a stated level.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._random import as_generator
from ._validation import check_int, check_level, check_real
from .stats import TestResult, binomial_test

__all__ = ["rejection_count", "audit_rate"]


def rejection_count(run_test: Callable[[np.random.Generator], TestResult], reps: int,
                    rng=None) -> int:
    """How many of ``reps`` seeded runs of ``run_test`` reject.

    Parameters
    ----------
    run_test : callable
        ``run_test(rng) -> TestResult``: draws its data from ``rng`` and tests it.
    reps : int
        Number of independent repetitions.
    rng : Generator, int or None
        Each repetition gets a child generator spawned from this one.
    """
    reps = check_int("reps", reps, low=1)
    parent = as_generator(rng)
    children = parent.spawn(reps)
    return int(sum(bool(run_test(child).reject) for child in children))


def audit_rate(count: int, reps: int, rate: float, audit_level: float = 1e-6, *,
               alternative: str = "two-sided") -> TestResult:
    """Exact binomial test that ``count`` rejections in ``reps`` runs have rate ``rate``.

    Parameters
    ----------
    count, reps : int
    rate : float
        The rejection probability the test should have (its level, or the
        exact family-wise rate for a corrected family).
    audit_level : float, default 1e-6
    alternative : {"two-sided", "greater", "less"}
        ``"greater"`` audits only for too many rejections (for conservative tests).
    """
    check_int("count", count, low=0)
    check_int("reps", reps, low=1)
    check_real("rate", rate, low=0.0, high=1.0)
    check_level("audit_level", audit_level)
    return binomial_test(count, reps, rate, audit_level, alternative=alternative)

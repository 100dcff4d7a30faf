r"""``check_dp_mechanism``: an :math:`(\varepsilon, \delta)` claim audited on neighbouring inputs.

The histogram audit of :func:`toytheory.adaptive.audit.audit_dp`: ``n`` outputs on each
of two neighbouring datasets, binned on edges fixed by an independent pilot draw (so
the level holds given the edges), and

.. math:: \hat\delta = \max_{(a,b)}\sum_{\text{bins}}\max\Big(0, \frac{c_a}{n} -
          e^\varepsilon \frac{c_b}{n}\Big) \le \delta + \tau(\alpha),

with the count tolerance :math:`\tau(\alpha)` of
:func:`~toytheory.adaptive.audit.histogram_audit_tolerance` (McDiarmid): a mechanism
that is :math:`(\varepsilon, \delta)`-DP fails with probability at most the level
:math:`\alpha`, exactly (no asymptotics).

Power: the same bound on the other side gives :math:`\hat\delta \ge \delta_{\text{bin}} -
\tau(\beta)` with probability :math:`1-\beta`, where :math:`\delta_{\text{bin}}` is the
mechanism's hockey-stick divergence at :math:`\varepsilon` on the bins; so a mechanism
with :math:`\delta_{\text{bin}} > \delta + \tau(\alpha) + \tau(\beta)` is caught with
probability at least :math:`1-\beta`. The binned divergence is at most the true one:
the audit sees only what the bins resolve.

OpenDP measurements are accepted through :func:`from_opendp` (OpenDP draws from a
secure generator that cannot be seeded: the check is then random at its level).
"""

from __future__ import annotations

import math

import numpy as np

from ._defaults import resolve_level, resolve_seed
from ._result import CheckResult, check_callable, check_level

__all__ = ["check_dp_mechanism", "from_opendp", "dp_audit_min_samples"]

_SIG = "mechanism(dataset, n, rng) -> (n,) array of scalar releases"
_ADAPTERS = "toytheory.conformance.from_opendp(measurement) for an OpenDP Measurement"


def from_opendp(measurement):
    """``mechanism(dataset, n, rng)`` from an OpenDP ``Measurement`` releasing one scalar.

    ``rng`` is ignored: OpenDP's noise comes from its own (unseedable) secure generator.
    A measurement that releases a vector of length one is read as its only entry.
    """
    if not callable(measurement) or not hasattr(measurement, "map"):
        raise ValueError("measurement: must be an OpenDP Measurement (callable, with .map)")

    def mechanism(dataset, n, rng):
        out = np.empty(n)
        for i in range(n):
            r = measurement(dataset)
            out[i] = float(np.asarray(r, dtype=float).reshape(-1)[0])
        return out

    mechanism.__name__ = f"opendp:{getattr(measurement, 'output_measure', 'measurement')}"
    return mechanism


def _tau(n: int, bins: int, epsilon: float, prob: float) -> float:
    from toytheory.adaptive.audit import histogram_audit_tolerance

    return histogram_audit_tolerance(n, n, bins, epsilon, prob)


def dp_audit_min_samples(detectable: float, epsilon: float, bins: int, level: float,
                         miss: float) -> int:
    """The smallest ``n`` per dataset with :math:`\\tau(\\alpha) + \\tau(\\beta) \\le` ``detectable``."""
    c = (1 + math.exp(epsilon)) * (2 * math.sqrt(bins) + math.sqrt(2 * math.log(2 / level))
                                   + math.sqrt(2 * math.log(2 / miss)))
    return int(math.ceil((c / detectable) ** 2))


def check_dp_mechanism(mechanism, epsilon: float, neighbours, *, delta: float = 0.0,
                       n_samples: int | None = None, bins: int = 40, n_pilot: int = 2000,
                       level: float | None = None, miss: float | None = None,
                       detectable: float | None = None, seed: int | None = None) -> CheckResult:
    """Audit a mechanism's :math:`(\\varepsilon, \\delta)`-DP claim on two neighbouring datasets.

    Parameters
    ----------
    mechanism : callable
        ``mechanism(dataset, n, rng)`` -> ``n`` independent scalar releases on
        ``dataset`` drawing from the numpy Generator ``rng``
        (:func:`from_opendp` wraps an OpenDP measurement).
    epsilon : float
        The claimed epsilon (> 0, finite).
    neighbours : (dataset, dataset)
        Two neighbouring datasets (the check cannot know your neighbouring relation:
        choose a pair at the query's full sensitivity).
    delta : float
        The claimed delta, in [0, 1).
    n_samples : int, optional
        Releases per dataset; default 100 000, or the minimum for ``detectable``.
    bins : int
        Histogram cells (quantiles of the pooled pilot draw; two infinite tails).
    n_pilot : int
        Releases per dataset of the independent pilot that fixes the edges.
    level, miss, detectable, seed
        As in :func:`~toytheory.conformance.check_sampler_law`; ``detectable`` is the
        excess :math:`\\delta_{\\text{bin}} - \\delta` to detect.

    Returns
    -------
    CheckResult

    Raises
    ------
    ValueError
        Wrong signature (the OpenDP adapter is named), epsilon <= 0, delta outside
        [0, 1), level outside (0, 1), too few samples for ``detectable`` (the minimum
        is named).
    """
    from toytheory.adaptive.audit import audit_dp

    check_callable("mechanism", mechanism, 3, _SIG, _ADAPTERS)
    try:
        epsilon = float(epsilon)
    except (TypeError, ValueError):
        raise ValueError(f"epsilon: must be a finite number > 0 (got {epsilon!r})") from None
    if not (epsilon > 0 and math.isfinite(epsilon)):
        raise ValueError(f"epsilon: must be a finite number > 0 (got {epsilon!r})")
    if not 0.0 <= float(delta) < 1.0:
        raise ValueError(f"delta: must be in [0, 1) (got {delta!r})")
    try:
        d_a, d_b = neighbours
    except (TypeError, ValueError):
        raise ValueError("neighbours: must be a pair of datasets") from None
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ValueError(f"bins: must be an int >= 2 (got {bins!r})")
    level = resolve_level(level)
    miss = level if miss is None else check_level("miss", miss)
    k = bins + 2  # the two infinite tail cells
    minimum = None
    if detectable is not None:
        if not detectable > 0:
            raise ValueError(f"detectable: must be > 0 (got {detectable!r})")
        minimum = dp_audit_min_samples(float(detectable), epsilon, k, level, miss)
    if n_samples is None:
        n = 100_000 if minimum is None else minimum
    else:
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples: must be an int >= 1 (got {n_samples!r})")
        if minimum is not None and n_samples < minimum:
            raise ValueError(f"n_samples: {n_samples} is too small to detect a delta excess of "
                             f"{detectable:g} at this level and power; the minimum is {minimum}")
        n = n_samples
    seed = resolve_seed(seed, "check_dp_mechanism")
    ss = np.random.SeedSequence(seed)
    r_pa, r_pb, r_a, r_b = (np.random.default_rng(s) for s in ss.spawn(4))

    def draw(data, m, rng, what):
        x = np.asarray(mechanism(data, m, rng), dtype=float).reshape(-1)
        if x.size != m or not np.all(np.isfinite(x)):
            raise ValueError(f"mechanism: must return {m} finite scalar releases ({what}; "
                             f"got {x.size} values)")
        return x

    pilot = np.concatenate([draw(d_a, n_pilot, r_pa, "pilot"), draw(d_b, n_pilot, r_pb, "pilot")])
    inner = np.unique(np.quantile(pilot, np.linspace(0, 1, bins + 1)[1:-1]))
    edges = np.concatenate([[-np.inf], inner, [np.inf]])
    res = audit_dp(draw(d_a, n, r_a, "audit"), draw(d_b, n, r_b, "audit"), epsilon, edges,
                   delta=float(delta), level=level)
    beta_tau = _tau(n, edges.size - 1, epsilon, miss)
    name = getattr(mechanism, "__name__", type(mechanism).__name__)
    ev = [f"{n} releases on each neighbour, {edges.size - 1} cells (pilot quantiles of "
          f"{n_pilot} + {n_pilot} independent releases)",
          f"binned hockey-stick estimate {res.statistic:.4g} vs delta + tolerance = "
          f"{res.delta:g} + {res.tolerance:.4g} at epsilon {epsilon:g} "
          f"[{'ok' if res.passed else 'FAIL: the claim is violated'}]"]
    return CheckResult(
        "check_dp_mechanism", name, res.passed,
        measured={"delta_hat": res.statistic, "n_samples": n, "cells": edges.size - 1,
                  "edges": edges},
        bounds={"delta_plus_tolerance": res.delta + res.tolerance, "tolerance": res.tolerance},
        level=level,
        power=(f"a mechanism whose binned hockey-stick divergence at epsilon {epsilon:g} exceeds "
               f"delta + {res.tolerance + beta_tau:.3g} is caught with probability >= 1 - "
               f"{miss:g} (McDiarmid, n = {n} per neighbour)"),
        evidence=ev)

"""How many breakpoints (and ReLU neurons) it takes to fit values on an integer grid.

Let ``v_0, ..., v_n`` be values at the integers ``0, ..., n`` and
``D_k = v_{k+1} - 2 v_k + v_{k-1}`` their second differences (``1 <= k <= n-1``).
For any continuous piecewise-linear ``f`` with breakpoints ``x_j`` and slope jumps
``gamma_j``,

.. math::

    f(k+1) - 2 f(k) + f(k-1) = \\sum_j \\gamma_j\\, \\Lambda(x_j - k), \\qquad
    \\Lambda(t) = \\max(0, 1 - |t|).

So if ``f`` interpolates the values, each ``k`` with ``D_k != 0`` needs a
*witness*: a breakpoint in ``(k-1, k+1)`` whose jump has the sign of ``D_k``.
One breakpoint lies within distance ``< 1`` of at most two integers, which are
adjacent, and it can witness both only if their ``D`` have the same sign.
Hence, with the non-zero ``D_k`` split into maximal runs of adjacent indices of
equal sign,

.. math::

    \\#\\text{breakpoints}(f) \\;\\ge\\; m^* = \\sum_{\\text{runs } R} \\lceil |R| / 2 \\rceil
    \\;\\ge\\; \\lceil m / 2 \\rceil, \\qquad m = \\#\\{k : D_k \\ne 0\\}.

The bound is attained: :func:`sparsest_interpolant` joins the data lines,
replacing the two kinks of each same-sign adjacent pair ``(k, k+1)`` by one at
``k + D_{k+1} / (D_k + D_{k+1})`` (strictly inside ``(k, k+1)``). A two-layer
ReLU network of width ``w`` has at most ``w`` breakpoints, so fitting the values
needs ``w >= m*``; :func:`interpolating_network` builds one of width ``m*``
(or ``m* + 1`` when no choice of neuron orientations yields the slope left of
the data). This is the counting behind Theorem 1 of "Free from Bellman
Completeness: Trajectory Stitching via Model-based Return-conditioned
Supervised Learning".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from .exact import as_fraction
from .piecewise import PiecewiseLinear, TwoLayerReLU

__all__ = ["second_differences", "sign_runs", "breakpoint_lower_bound",
           "naive_breakpoint_lower_bound", "sparsest_interpolant", "interpolating_network",
           "InterpolationWidth", "interpolation_width"]


def _values(values) -> list[Fraction]:
    vals = [as_fraction(f"values[{i}]", v) for i, v in enumerate(values)]
    if len(vals) < 2:
        raise ValueError(f"values: must hold at least two values (got {len(vals)})")
    return vals


def second_differences(values) -> list[Fraction]:
    """``D_k = v_{k+1} - 2 v_k + v_{k-1}`` for ``k = 1, ..., n-1`` (length ``n - 1``).

    Parameters
    ----------
    values : sequence of rationals, length ``n + 1 >= 2``
    """
    v = _values(values)
    return [v[k + 1] - 2 * v[k] + v[k - 1] for k in range(1, len(v) - 1)]


def sign_runs(values) -> list[list[int]]:
    """Maximal runs of adjacent grid points ``k`` whose ``D_k`` are non-zero and of one sign."""
    d = second_differences(values)
    runs: list[list[int]] = []
    prev_sign = 0
    for i, x in enumerate(d):
        k = i + 1
        sign = (x > 0) - (x < 0)
        if sign == 0:
            prev_sign = 0
            continue
        if sign == prev_sign:
            runs[-1].append(k)
        else:
            runs.append([k])
        prev_sign = sign
    return runs


def breakpoint_lower_bound(values) -> int:
    """``m* = sum over sign runs of ceil(|run| / 2)``: no interpolant has fewer breakpoints."""
    return sum((len(run) + 1) // 2 for run in sign_runs(values))


def naive_breakpoint_lower_bound(values) -> int:
    """``ceil(m / 2)``, ``m`` the number of non-zero second differences (ignores signs)."""
    m = sum(1 for x in second_differences(values) if x != 0)
    return (m + 1) // 2


def sparsest_interpolant(values) -> PiecewiseLinear:
    """A continuous piecewise-linear interpolant of the values with exactly ``m*`` breakpoints.

    Parameters
    ----------
    values : sequence of rationals
        Values at ``x = 0, 1, ..., n``.

    Returns
    -------
    PiecewiseLinear
        ``f(k) = values[k]`` for every ``k``; ``f`` is the line through the
        first two points left of ``x = 1``.
    """
    v = _values(values)
    d = second_differences(v)
    alpha, beta = v[0], v[1] - v[0]
    terms = []
    for run in sign_runs(v):
        i = 0
        while i < len(run):
            k = run[i]
            if i + 1 < len(run):
                dk, dk1 = d[k - 1], d[k]  # D_k, D_{k+1}
                terms.append((k + dk1 / (dk + dk1), dk + dk1))
                i += 2
            else:
                terms.append((Fraction(k), d[k - 1]))
                i += 1
    return PiecewiseLinear.from_terms(alpha, beta, terms)


def _subset_with_sum(items: list[Fraction], target: Fraction) -> list[int] | None:
    """Indices of a subset of ``items`` summing exactly to ``target`` (None if none does)."""
    if target == 0:
        return []
    scale = math.lcm(target.denominator, *(x.denominator for x in items))
    ints = [int(x * scale) for x in items]
    goal = int(target * scale)
    parent: dict[int, tuple[int, int] | None] = {0: None}
    for i, x in enumerate(ints):
        for s in list(parent):
            t = s + x
            if t not in parent:
                parent[t] = (i, s)
                if t == goal:
                    chosen, cur = [], t
                    while parent[cur] is not None:
                        j, prev = parent[cur]
                        chosen.append(j)
                        cur = prev
                    return sorted(chosen)
    return None


def interpolating_network(values) -> TwoLayerReLU:
    """A two-layer ReLU network that interpolates the values exactly, with few neurons.

    One neuron per breakpoint of :func:`sparsest_interpolant`; each faces right
    (``ReLU(x - x_j)``) or left (``ReLU(x_j - x)``). A left-facing neuron adds
    ``-gamma_j`` to the slope at ``-infinity``, so if a subset ``L`` of jumps
    has ``sum_L gamma_j = -beta`` (beta the slope left of the data), the width
    is ``m*`` and the network equals the interpolant on the whole line.
    Otherwise one more neuron ``beta ReLU(x + 1)`` carries the slope, and the
    network equals the interpolant on ``[-1, infinity)``.

    Parameters
    ----------
    values : sequence of rationals at ``x = 0, ..., n``

    Returns
    -------
    TwoLayerReLU
    """
    f = sparsest_interpolant(values)
    left = _subset_with_sum(list(f.jumps), -f.beta)
    w, b, a = [], [], []
    c = f.alpha
    if left is None:
        w.append(Fraction(1))
        b.append(Fraction(1))
        a.append(f.beta)
        c -= f.beta
        left_set: set[int] = set()
    else:
        left_set = set(left)
    for j, (knot, gamma) in enumerate(zip(f.knots, f.jumps)):
        if j in left_set:
            w.append(Fraction(-1))
            b.append(knot)
            c -= gamma * knot
        else:
            w.append(Fraction(1))
            b.append(-knot)
        a.append(gamma)
    return TwoLayerReLU(tuple(w), tuple(b), tuple(a), c)


@dataclass(frozen=True)
class InterpolationWidth:
    """Bounds on the least width of a two-layer ReLU network fitting values on a grid.

    Attributes
    ----------
    nonzero_second_differences : int
        ``m``.
    naive_lower : int
        ``ceil(m / 2)``.
    lower : int
        ``m*`` (sign-refined; the least number of breakpoints of any interpolant).
    upper : int
        Width of the network built by :func:`interpolating_network`.
    """

    nonzero_second_differences: int
    naive_lower: int
    lower: int
    upper: int

    @property
    def exact(self) -> bool:
        """True when the bounds meet (the least width is known exactly)."""
        return self.lower == self.upper


def interpolation_width(values) -> InterpolationWidth:
    """Lower and upper bounds on the width needed to fit ``values`` (see the module docstring)."""
    v = _values(values)
    m = sum(1 for x in second_differences(v) if x != 0)
    return InterpolationWidth(m, (m + 1) // 2, breakpoint_lower_bound(v),
                              interpolating_network(v).width)

"""Exact continuous piecewise-linear functions of one variable, and two-layer ReLU networks.

Every continuous piecewise-linear function on the real line has the canonical form

.. math::

    f(x) = \\alpha + \\beta x + \\sum_{j=1}^{m} \\gamma_j\\, \\mathrm{ReLU}(x - x_j),
    \\qquad x_1 < \\dots < x_m, \\quad \\gamma_j \\ne 0,

whose breakpoints are the ``x_j`` (the slope jumps by ``gamma_j`` there). A
two-layer ReLU network of width ``w`` on a scalar input,

.. math::

    g(x) = c + \\sum_{i=1}^{w} a_i\\, \\mathrm{ReLU}(w_i x + b_i),

is such a function with at most ``w`` breakpoints (one per neuron with
``w_i != 0``; kinks at the same place merge, and may cancel). Everything here
is over the rationals (:class:`fractions.Fraction`), so breakpoints are counted
exactly. This is the object of Theorem 1 of "Free from Bellman Completeness:
Trajectory Stitching via Model-based Return-conditioned Supervised Learning".
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .._validation import check_int
from .exact import as_fraction

__all__ = ["PiecewiseLinear", "TwoLayerReLU", "relu"]


def relu(x: Fraction) -> Fraction:
    """``max(x, 0)``."""
    return x if x > 0 else Fraction(0)


def _fractions(name: str, values) -> tuple[Fraction, ...]:
    return tuple(as_fraction(f"{name}[{i}]", v) for i, v in enumerate(values))


@dataclass(frozen=True)
class PiecewiseLinear:
    """A continuous piecewise-linear function in canonical form (see the module docstring).

    Parameters
    ----------
    alpha, beta : Fraction
        Intercept and slope left of every breakpoint.
    knots : tuple of Fraction, length m
        Strictly increasing breakpoints ``x_j``.
    jumps : tuple of Fraction, length m
        Non-zero slope jumps ``gamma_j``.

    Raises
    ------
    ValueError
        ``knots`` not strictly increasing, a zero jump, lengths that differ.
    """

    alpha: Fraction
    beta: Fraction
    knots: tuple = ()
    jumps: tuple = ()

    def __post_init__(self):
        knots = _fractions("knots", self.knots)
        jumps = _fractions("jumps", self.jumps)
        if len(knots) != len(jumps):
            raise ValueError(f"jumps: must have one entry per knot ({len(knots)}; got "
                             f"{len(jumps)})")
        if any(b <= a for a, b in zip(knots, knots[1:])):
            raise ValueError("knots: must be strictly increasing")
        if any(g == 0 for g in jumps):
            raise ValueError("jumps: must be non-zero (drop a knot whose slope does not change)")
        object.__setattr__(self, "alpha", as_fraction("alpha", self.alpha))
        object.__setattr__(self, "beta", as_fraction("beta", self.beta))
        object.__setattr__(self, "knots", knots)
        object.__setattr__(self, "jumps", jumps)

    @classmethod
    def from_terms(cls, alpha, beta, terms) -> "PiecewiseLinear":
        """Canonical form of ``alpha + beta x + sum gamma ReLU(x - knot)`` for any terms.

        Terms at the same knot are merged; those whose jumps cancel are dropped.
        """
        merged: dict[Fraction, Fraction] = {}
        for knot, jump in terms:
            knot = as_fraction("knot", knot)
            merged[knot] = merged.get(knot, Fraction(0)) + as_fraction("jump", jump)
        items = sorted((k, g) for k, g in merged.items() if g != 0)
        return cls(alpha, beta, tuple(k for k, _ in items), tuple(g for _, g in items))

    @property
    def n_breakpoints(self) -> int:
        """The number of points where the slope changes."""
        return len(self.knots)

    def __call__(self, x) -> Fraction:
        x = as_fraction("x", x)
        return self.alpha + self.beta * x + sum(
            (g * relu(x - k) for k, g in zip(self.knots, self.jumps)), Fraction(0))

    def values_on_grid(self, n: int) -> list[Fraction]:
        """``[f(0), f(1), ..., f(n-1)]`` exactly, in one sweep over the knots.

        ``f(k+1) = f(k) + sigma_k + sum_{x_j in (k, k+1]} gamma_j (k + 1 - x_j)``, with
        ``sigma_k`` the slope just right of ``k``: ``O(n + m)`` rational operations
        instead of ``O(n m)``.

        Parameters
        ----------
        n : int
            Number of grid points, ``n >= 1``.

        Returns
        -------
        list of Fraction

        Raises
        ------
        ValueError
            ``n: must be an integer`` or ``n: must be >= 1``.
        """
        n = check_int("n", n, low=1)
        value = self(0)
        slope = self.beta + sum((g for k, g in zip(self.knots, self.jumps) if k <= 0),
                                Fraction(0))
        j = 0
        while j < len(self.knots) and self.knots[j] <= 0:
            j += 1
        out = [value]
        for x in range(1, n):
            value += slope
            while j < len(self.knots) and self.knots[j] <= x:
                value += self.jumps[j] * (x - self.knots[j])
                slope += self.jumps[j]
                j += 1
            out.append(value)
        return out

    def slope_right_of_all(self) -> Fraction:
        """The slope right of the last breakpoint, ``beta + sum gamma_j``."""
        return self.beta + sum(self.jumps, Fraction(0))


@dataclass(frozen=True)
class TwoLayerReLU:
    """``g(x) = c + sum_i a_i ReLU(w_i x + b_i)`` with rational weights.

    Parameters
    ----------
    w, b, a : sequences of rationals, length ``width``
        Input weights, hidden biases, output weights.
    c : rational
        Output bias.
    """

    w: tuple
    b: tuple
    a: tuple
    c: Fraction = Fraction(0)

    def __post_init__(self):
        w, b, a = _fractions("w", self.w), _fractions("b", self.b), _fractions("a", self.a)
        if not len(w) == len(b) == len(a):
            raise ValueError(f"w, b, a: must have equal lengths (got {len(w)}, {len(b)}, "
                             f"{len(a)})")
        object.__setattr__(self, "w", w)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "c", as_fraction("c", self.c))

    @property
    def width(self) -> int:
        return len(self.w)

    def __call__(self, x) -> Fraction:
        x = as_fraction("x", x)
        return self.c + sum((ai * relu(wi * x + bi) for wi, bi, ai in zip(self.w, self.b, self.a)),
                            Fraction(0))

    def to_piecewise(self) -> PiecewiseLinear:
        """The canonical piecewise-linear form of the network.

        A neuron with ``w_i > 0`` is ``a_i w_i ReLU(x - x_i)``, ``x_i = -b_i / w_i``;
        one with ``w_i < 0`` is ``a_i |w_i| (ReLU(x - x_i) - (x - x_i))``; one with
        ``w_i = 0`` is the constant ``a_i ReLU(b_i)``.
        """
        alpha, beta, terms = self.c, Fraction(0), []
        for wi, bi, ai in zip(self.w, self.b, self.a):
            if wi == 0:
                alpha += ai * relu(bi)
                continue
            knot = -bi / wi
            gamma = ai * abs(wi)
            terms.append((knot, gamma))
            if wi < 0:
                beta -= gamma
                alpha += gamma * knot
        return PiecewiseLinear.from_terms(alpha, beta, terms)

    @property
    def n_breakpoints(self) -> int:
        """Breakpoints of the function the network computes (at most ``width``)."""
        return self.to_piecewise().n_breakpoints

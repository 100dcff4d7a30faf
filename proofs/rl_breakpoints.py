"""Linearq(u) for general u: the optimal value, and the breakpoints its rewards force.

Everything is derived here from the *definition* of Linearq (REFERENCE.md
section 5: the transition rule and ``Q*(s, 0) = 2 ReLU(2u+1-s)``,
``Q*(s, 1) = ReLU(3u+3/2-s)``, ``r(s, a) = Q*(s, a) - max_a' Q*(next(s, a), a')``),
with sympy, for a symbolic ``u`` of either parity (``u = 2t + p``, ``t`` a
symbolic integer above a small threshold); the few smaller ``u`` are counted
directly. Nothing is imported from :mod:`toytheory.rl`.

Method. The state line is cut into intervals on which every piece of the
definition (the ReLUs, the transition cases, which action attains ``V*``) is
fixed; each piece condition is checked on the interval's end points, which
are linear in ``t``, for every ``t >= t0`` (a linear function ``a t + b`` is
``>= 0`` for all ``t >= t0`` iff ``a >= 0`` and ``a t0 + b >= 0``). Inside an
interval a generic state ``k`` of known parity has a closed-form reward, so the
second difference ``D_k = r(k+1) - 2 r(k) + r(k-1)`` of interior points is a
closed form per parity; the end points are evaluated one by one. The sign
sequence of ``D`` is then a few explicit signs and a few alternating blocks of
symbolic length ``L >= 3``. In an alternating block every point is its own
sign run, except that its first and last point may join a neighbour; so

.. math::

    m^* = \\sum_{\\text{runs}} \\lceil |R|/2 \\rceil
        = \\sum_{\\text{alternating blocks}} (L - 2) + (\\text{runs of the finite skeleton}),

an exact closed form in ``t``. ``m*`` is the least number of breakpoints of any
continuous piecewise-linear function through the rewards (see
``toytheory/rl/interpolation.py`` for the witness argument), hence the least
width of a two-layer ReLU network fitting ``r(., a)``, hence of a
Bellman-complete class.

Result (``u >= 2``): for ``a = 0``, ``m = u + 3`` and ``m* = u + 3`` (odd ``u``),
``u + 2`` (even ``u``); for ``a = 1``, ``m = u + 2`` and ``m* = u + 2`` (even),
``u + 1`` (odd). So ``max_a m* = 2 ceil(u/2) + 2 >= u + 2`` (and ``3 = u + 2`` at
``u = 1``): ``c = 1``, i.e. width ``>= u + 2 = |S|/3 + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from ._result import ProofResult

__all__ = ["prove_linearq_optimal_value", "prove_breakpoint_count",
           "prove_rcsl_threshold_network", "expected_min_breakpoints"]

t = sp.Symbol("t", integer=True, positive=True)
k = sp.Symbol("k", integer=True)
HALF = sp.Rational(1, 2)


def expected_min_breakpoints(u: int, action: int) -> int:
    """The closed forms proved here (``u >= 2``; ``u = 1`` gives 3 for both actions)."""
    if u == 1:
        return 3
    if action == 0:
        return u + 3 if u % 2 else u + 2
    return u + 1 if u % 2 else u + 2


# --------------------------------------------------------------------------- positions

@dataclass(frozen=True)
class Pos:
    """A state ``expr`` (in ``t``, maybe ``k``), known to lie in ``[lo, hi]``, parity ``par``."""

    expr: sp.Expr
    lo: sp.Expr
    hi: sp.Expr
    par: int

    def shift(self, d: int) -> "Pos":
        return Pos(self.expr + d, self.lo + d, self.hi + d, (self.par + d) % 2)


class Case:
    """One parity class ``u = 2t + p`` with ``t >= t0``."""

    def __init__(self, p: int, t0: int):
        self.p, self.t0 = p, t0
        self.u = 2 * t + p
        self.last = 3 * self.u + 2

    def at(self, expr) -> Pos:
        expr = sp.expand(expr)
        return Pos(expr, expr, expr, self.parity(expr))

    def parity(self, expr) -> int:
        poly = sp.Poly(sp.expand(expr), t)
        coeffs = poly.all_coeffs()
        if any(c % 2 for c in coeffs[:-1]):
            raise ValueError(f"parity of {expr} is not determined")
        return int(coeffs[-1] % 2)

    def nonneg(self, expr) -> bool:
        """``expr >= 0`` for every integer ``t >= t0`` (``expr`` linear in ``t``)."""
        expr = sp.expand(expr)
        if expr.free_symbols - {t}:
            raise ValueError(f"{expr}: must depend on t only")
        a = expr.coeff(t, 1)
        if sp.expand(expr - a * t).free_symbols:
            raise ValueError(f"{expr}: must be linear in t")
        return bool(a >= 0 and expr.subs(t, self.t0) >= 0)

    def le(self, pos: Pos, bound) -> bool:
        """Every state of ``pos`` is ``<= bound``."""
        return self.nonneg(bound - pos.hi)

    def ge(self, pos: Pos, bound) -> bool:
        return self.nonneg(pos.lo - bound)

    # ----------------------------------------------------------- the definition
    def q0(self, s: Pos):
        if self.le(s, 2 * self.u + 1):
            return 2 * (2 * self.u + 1 - s.expr)
        if self.ge(s, 2 * self.u + 1):
            return sp.Integer(0)
        raise ValueError(f"Q*(., 0): {s} straddles 2u+1")

    def q1(self, s: Pos):
        if self.le(s, 3 * self.u + 1):
            return 3 * self.u + sp.Rational(3, 2) - s.expr
        if self.ge(s, 3 * self.u + 2):
            return sp.Integer(0)
        raise ValueError(f"Q*(., 1): {s} straddles 3u+3/2")

    def q(self, s: Pos, a: int):
        return self.q0(s) if a == 0 else self.q1(s)

    def best_action(self, s: Pos) -> int | None:
        """The action attaining V*(s) on all of ``s`` (None: a tie everywhere)."""
        diff = sp.expand(self.q0(s) - self.q1(s))
        # diff is linear in the state, so its sign on [lo, hi] is fixed by the end points
        offset = sp.expand(s.expr - k) if k in s.expr.free_symbols else None
        if offset is None:
            ends = [diff]
        else:
            ends = [sp.expand(diff.subs(k, s.lo - offset)), sp.expand(diff.subs(k, s.hi - offset))]
        if all(self.nonneg(e) and not self.nonneg(-e) for e in ends):
            return 0
        if all(self.nonneg(-e) and not self.nonneg(e) for e in ends):
            return 1
        if all(e == 0 for e in ends):
            return None
        raise ValueError(f"V*: the best action is not fixed on {s}")

    def v(self, s: Pos):
        a = self.best_action(s)
        return self.q0(s) if a in (0, None) else self.q1(s)

    def next(self, s: Pos, a: int) -> Pos:
        u, last = self.u, self.last
        jump = self.at(last if s.par == 0 else last - 1)
        if a == 0:
            if self.le(s, u):
                return s.shift(1)
            if self.ge(s, 2 * u + 1):
                return self.at(last)
            if self.ge(s, u + 1) and self.le(s, 2 * u):
                return jump
        else:
            if self.ge(s, last):
                return self.at(last)
            if self.ge(s, u + 1) and self.le(s, 3 * u + 1):
                return s.shift(1)
            if self.le(s, u):
                return jump
        raise ValueError(f"next({s}, {a}): not fixed")

    def r(self, s: Pos, a: int):
        return sp.expand(self.q(s, a) - self.v(self.next(s, a)))

    # ----------------------------------------------------------- structure
    def reward_intervals(self):
        u = self.u
        return [(sp.Integer(0), u - 1), (u, u), (u + 1, 2 * u), (2 * u + 1, 3 * u),
                (3 * u + 1, 3 * u + 1), (3 * u + 2, 3 * u + 2)]

    def generic(self, lo, hi, par: int) -> Pos:
        return Pos(k, sp.expand(lo), sp.expand(hi), par)


def _sign(case: Case, expr) -> int:
    expr = sp.expand(expr)
    if expr == 0:
        return 0
    if case.nonneg(expr) and not case.nonneg(-expr):
        return 1
    if case.nonneg(-expr) and not case.nonneg(expr):
        return -1
    raise ValueError(f"sign of {expr} is not fixed for t >= {case.t0}")


def _second_difference_structure(case: Case, a: int):
    """The sequence of D_k, k = 1..3u+1, as explicit values and generic blocks."""
    items = []  # ("point", k_expr, value) or ("block", lo, hi, {parity: value})
    last_interior = 3 * case.u + 1

    def point(x):
        x = sp.expand(x)
        vals = [case.r(case.at(x + d), a) for d in (-1, 0, 1)]
        items.append(("point", x, sp.expand(vals[2] - 2 * vals[1] + vals[0])))

    for lo, hi in case.reward_intervals():
        lo, hi = sp.expand(lo), sp.expand(hi)
        span = sp.expand(hi - lo)
        if lo != 0 and case.nonneg(last_interior - lo):
            point(lo)
        if span != 0:
            if not case.nonneg(span - 4):
                raise ValueError("interval too short for the generic argument; raise t0")
            values = {}
            for par in (0, 1):
                g = case.generic(lo + 1, hi - 1, par)
                r_m = case.r(case.generic(lo, hi - 2, (par + 1) % 2), a).subs(k, k - 1)
                r_0 = case.r(g, a)
                r_p = case.r(case.generic(lo + 2, hi, (par + 1) % 2), a).subs(k, k + 1)
                d2 = sp.expand(r_p - 2 * r_0 + r_m)
                if k in d2.free_symbols:
                    raise ValueError(f"D_k depends on k inside ({lo}, {hi})")
                values[par] = d2
            items.append(("block", sp.expand(lo + 1), sp.expand(hi - 1), values))
            if case.nonneg(last_interior - hi):
                point(hi)
    return items


def _runs(signs) -> int:
    total, run, prev = 0, 0, 0
    for sg in signs:
        if sg != 0 and sg == prev:
            run += 1
        else:
            total += (run + 1) // 2
            run = 1 if sg != 0 else 0
        prev = sg
    return total + (run + 1) // 2


def _count(case: Case, items):
    """(m, m*) as expressions in t."""
    m = sp.Integer(0)
    middle = sp.Integer(0)
    skeleton = []
    for item in items:
        if item[0] == "point":
            sg = _sign(case, item[2])
            skeleton.append(sg)
            m += abs(sg)
            continue
        _, lo, hi, values = item
        length = sp.expand(hi - lo + 1)
        signs = {par: _sign(case, v) for par, v in values.items()}
        if signs[0] == 0 and signs[1] == 0:
            skeleton.append(0)
            continue
        if signs[0] * signs[1] != -1:
            raise ValueError("a generic block is neither zero nor alternating")
        if not case.nonneg(length - 3):
            raise ValueError("alternating block shorter than 3; raise t0")
        m += length
        middle += length - 2
        skeleton += [signs[case.parity(lo)], 0, signs[case.parity(hi)]]
        # the 0 stands for the middle points: singleton runs, counted in ``middle``,
        # each flanked by opposite signs, so they separate the ends.
    return sp.expand(m), sp.expand(middle + _runs(skeleton))


# --------------------------------------------------------------------------- small u

def _numeric_rewards(u: int, a: int) -> list[Fraction]:
    last = 3 * u + 2

    def q(s, b):
        return Fraction(2 * max(0, 2 * u + 1 - s)) if b == 0 else max(
            Fraction(0), 3 * u + Fraction(3, 2) - s)

    def nxt(s, b):
        if b == 0:
            if s <= u:
                return s + 1
            if s >= 2 * u + 1:
                return last
            return last if s % 2 == 0 else last - 1
        if s == last:
            return last
        if s >= u + 1:
            return s + 1
        return last if s % 2 == 0 else last - 1

    return [q(s, a) - max(q(nxt(s, a), 0), q(nxt(s, a), 1)) for s in range(last + 1)]


def _numeric_counts(u: int, a: int) -> tuple[int, int]:
    v = _numeric_rewards(u, a)
    d = [v[i + 1] - 2 * v[i] + v[i - 1] for i in range(1, len(v) - 1)]
    signs = [(x > 0) - (x < 0) for x in d]
    return sum(1 for x in signs if x), _runs(signs)


# --------------------------------------------------------------------------- proofs

CASES = {0: 3, 1: 2}  # parity p -> t0: u >= 6 (even) and u >= 5 (odd)


def prove_breakpoint_count(small_u: int = 6) -> ProofResult:
    """``m*(r(., a))`` in closed form for general ``u`` (sympy), and directly for small ``u``.

    Returns
    -------
    ProofResult
        ``holds`` when the derived counts equal :func:`expected_min_breakpoints`
        for both parities of ``u`` and both actions, and the direct counts agree
        for ``u = 1, ..., small_u``.
    """
    residuals, details = [], {}
    for p, t0 in CASES.items():
        case = Case(p, t0)
        u = case.u
        for a in (0, 1):
            m, m_star = _count(case, _second_difference_structure(case, a))
            if a == 0:
                expected_m, expected_star = u + 3, (u + 3 if p else u + 2)
            else:
                expected_m, expected_star = u + 2, (u + 1 if p else u + 2)
            residuals.append(str(sp.simplify(m - expected_m)))
            residuals.append(str(sp.simplify(m_star - expected_star)))
            key = f"u = 2t + {p} (t >= {t0}), a = {a}"
            details[key] = {"m": str(sp.expand(m).subs(t, (sp.Symbol("u") - p) / 2).expand()),
                            "m*": str(sp.expand(m_star).subs(t, (sp.Symbol("u") - p) / 2)
                                      .expand())}
    small = {}
    for u in range(1, small_u + 1):
        for a in (0, 1):
            m, m_star = _numeric_counts(u, a)
            small[(u, a)] = (m, m_star)
            residuals.append(str(m_star - expected_min_breakpoints(u, a)))
    details["small u (u, a): (m, m*)"] = {f"{u},{a}": v for (u, a), v in small.items()}
    details["max over actions"] = "3 for u = 1; 2 ceil(u/2) + 2 >= u + 2 for u >= 2"
    holds = all(r == "0" for r in residuals)
    return ProofResult("minimal breakpoints of r(., a) on Linearq(u), general u", holds,
                       tuple(residuals), details)


def prove_linearq_optimal_value() -> ProofResult:
    """For general ``u``: the threshold policy is optimal and ``V*(0) = 4u + 2``.

    The best action is 0 on ``[0, u]`` and 1 on ``[u+1, 3u+1]`` (a tie at ``3u+2``);
    the rewards along the threshold path ``0, 1, ..., 3u+2`` sum to ``4u + 2``.
    """
    residuals, details = [], {}
    for p, t0 in CASES.items():
        case = Case(p, t0)
        u = case.u
        regions = [((sp.Integer(0), u), 0), ((u + 1, 2 * u + 1), 1), ((2 * u + 1, 3 * u + 1), 1),
                   ((3 * u + 2, 3 * u + 2), None)]
        for (lo, hi), expected in regions:
            for par in (0, 1):
                pos = case.generic(lo, hi, par) if lo != hi else case.at(lo)
                got = case.best_action(pos)
                residuals.append("0" if got == expected else f"best action {got} on [{lo}, {hi}]")
        total = sp.Integer(0)
        # a = 0 on [0, u-1] (generic), at u; a = 1 on [u+1, 3u] (generic), at 3u+1, 3u+2.
        for (lo, hi), a in (((sp.Integer(0), u - 1), 0), ((u + 1, 2 * u), 1),
                            ((2 * u + 1, 3 * u), 1)):
            per_parity = {par: case.r(case.generic(lo, hi, par), a) for par in (0, 1)}
            if any(k in e.free_symbols for e in per_parity.values()):
                raise ValueError("reward depends on k on a summed interval")
            n_states = sp.expand(hi - lo + 1)
            n_lo_parity = (n_states + 1) / 2 if case.parity(n_states) else n_states / 2
            lo_par = case.parity(lo)
            total += n_lo_parity * per_parity[lo_par] + (n_states - n_lo_parity) * per_parity[
                1 - lo_par]
        total += case.r(case.at(u), 0) + case.r(case.at(3 * u + 1), 1) + case.r(
            case.at(3 * u + 2), 1)
        residuals.append(str(sp.simplify(total - (4 * u + 2))))
        details[f"u = 2t + {p}"] = {"V*(0)": str(sp.expand(total))}
    return ProofResult("Linearq(u): threshold policy optimal and V*(0) = 4u + 2", all(
        r == "0" for r in residuals), tuple(residuals), details)


def prove_rcsl_threshold_network() -> ProofResult:
    """``ReLU(s - u) - ReLU(s - u - 1) = 1[s >= u + 1]`` at every integer ``s``, symbolic ``u``."""
    u, j = sp.symbols("u j", integer=True, positive=True)
    net = lambda s: sp.Max(s - u, 0) - sp.Max(s - u - 1, 0)  # noqa: E731
    below = sp.simplify(net(u + 1 - j))      # s = u + 1 - j <= u  (j >= 1)
    above = sp.simplify(net(u + j))          # s = u + j >= u + 1  (j >= 1)
    residuals = (str(below), str(sp.simplify(above - 1)))
    return ProofResult("RCSL width-2 network equals the threshold policy",
                       all(r == "0" for r in residuals), residuals,
                       {"below threshold": str(below), "above threshold": str(above)})

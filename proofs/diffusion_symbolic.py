"""Helpers shared by the diffusion proofs: an exact zero test with a fast numeric screen."""

from __future__ import annotations

import random

import sympy as sp

__all__ = ["simplified_residual"]


def _screen(expr, trials: int = 3) -> bool:
    """False when ``expr`` is visibly non-zero at random rational points (cheap), True
    when it vanishes numerically at all of them (then simplify decides)."""
    free = sorted(expr.free_symbols, key=str)
    gen = random.Random(12345)
    for _ in range(trials):
        subs = {}
        for sym in free:
            value = sp.Rational(gen.randint(1, 97), gen.randint(1, 13))
            if not sym.is_positive and gen.random() < 0.5:
                value = -value
            subs[sym] = value
        try:
            val = complex(sp.N(expr.subs(subs), 30))
        except (TypeError, ValueError):
            return True  # cannot evaluate (undefined functions): leave it to simplify
        if abs(val) > 1e-20:
            return False
    return True


def simplified_residual(expr):
    """The simplified residual (exactly 0 when the identity holds). Expressions that are
    numerically non-zero at random rational points are returned unsimplified."""
    if expr.free_symbols and not expr.atoms(sp.core.function.AppliedUndef) \
            and not _screen(expr):
        return expr
    return sp.simplify(expr)

r"""``check_sensitivities``: :math:`\ell_p` sensitivity or Lewis-weight estimates vs certified values.

The reference sensitivities come with a certificate
(:func:`toytheory.sampling.lp_sensitivities`): a primal lower bound attained by an
explicit ``x`` and a dual upper bound from an explicit ``y`` with :math:`A^\top y = a_i`,
so the estimate is held to an interval that provably contains the truth. Lewis weights
are held to :func:`toytheory.sampling.lewis_weights` (fixed-point residual at most
1e-13 in log scale). Three modes:

``"exact"``
    every estimate within relative ``rtol`` of the certified interval;
``"upper"``
    every estimate at least the certified lower bound (less ``rtol``): a valid
    overestimate, as importance sampling needs; the total overestimate is reported;
``"factor"``
    every estimate within a factor ``factor`` of the certified interval.

The check is exact (deterministic): the default matrices are fixed.
"""

from __future__ import annotations

import numpy as np

from ._result import CheckResult, check_callable

__all__ = ["check_sensitivities", "default_matrices"]

_SIG = "estimator(A) -> (n,) array of per-row estimates"


def default_matrices():
    """Three fixed full-rank designs: heavy-tailed row scales, one coherent row, a tall one."""
    gen = np.random.default_rng(20240607)
    a1 = gen.standard_normal((24, 3)) * (gen.pareto(2.0, (24, 1)) + 1.0)
    a2 = gen.standard_normal((16, 4))
    a2[3] *= 25.0
    a3 = gen.standard_normal((40, 2)) * np.linspace(0.2, 3.0, 40)[:, None]
    return [a1, a2, a3]


def check_sensitivities(estimator, *, p: float = 2.0, kind: str = "sensitivity",
                        matrices=None, mode: str = "exact", rtol: float = 1e-6,
                        factor: float = 2.0) -> CheckResult:
    """Hold per-row sensitivity (or Lewis-weight) estimates to certified exact values.

    Parameters
    ----------
    estimator : callable
        ``estimator(A) -> (n,)`` estimates for the rows of the (n, d) matrix ``A``.
    p : float
        ``p >= 1``.
    kind : {"sensitivity", "lewis"}
    matrices : sequence of (n, d) arrays, optional
        Default :func:`default_matrices`.
    mode : {"exact", "upper", "factor"}
    rtol : float
        Relative tolerance (> 0).
    factor : float
        For ``mode="factor"`` (>= 1).

    Returns
    -------
    CheckResult

    Raises
    ------
    ValueError
        Wrong signature, p < 1, unknown kind or mode, rtol <= 0, factor < 1, estimates of
        the wrong shape.
    """
    from toytheory.sampling import lewis_weights, lp_sensitivities

    check_callable("estimator", estimator, 1, _SIG,
                   "for an estimator with options pass lambda A: f(A, p=...)")
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise ValueError(f"p: must be a number >= 1 (got {p!r})") from None
    if not p >= 1:
        raise ValueError(f"p: must be >= 1 (got {p!r})")
    if kind not in ("sensitivity", "lewis"):
        raise ValueError(f"kind: must be 'sensitivity' or 'lewis' (got {kind!r})")
    if mode not in ("exact", "upper", "factor"):
        raise ValueError(f"mode: must be 'exact', 'upper' or 'factor' (got {mode!r})")
    if not rtol > 0:
        raise ValueError(f"rtol: must be > 0 (got {rtol!r})")
    if not factor >= 1:
        raise ValueError(f"factor: must be >= 1 (got {factor!r})")
    mats = default_matrices() if matrices is None else [np.asarray(m, float) for m in matrices]
    ev, passed, worst = [], True, []
    for j, a in enumerate(mats):
        if kind == "sensitivity":
            ref = lp_sensitivities(a, p)
            lower, upper = ref.lower, ref.upper
        else:
            w = lewis_weights(a, p)
            slack = np.expm1(2 * max(w.residual, 1e-15))
            lower, upper = w.weights / (1 + slack), w.weights * (1 + slack)
        est = np.asarray(estimator(a), dtype=float).reshape(-1)
        if est.shape != (a.shape[0],):
            raise ValueError(f"estimator: must return one estimate per row ({a.shape[0]}) "
                             f"(got shape {np.shape(est)})")
        if mode == "exact":
            lo, hi = lower * (1 - rtol), upper * (1 + rtol)
        elif mode == "upper":
            lo, hi = lower * (1 - rtol), np.full_like(upper, np.inf)
        else:
            lo, hi = lower / factor * (1 - rtol), upper * factor * (1 + rtol)
        bad = ~((est >= lo) & (est <= hi))
        rel = np.max(np.abs(est - 0.5 * (lower + upper)) / np.maximum(upper, 1e-300))
        worst.append(float(rel))
        ok = not np.any(bad)
        passed = passed and ok
        line = (f"matrix {j} {a.shape}: max relative deviation {rel:.3g} from the certified "
                f"{kind} values; total estimate {est.sum():.6g} vs exact {upper.sum():.6g}")
        if not ok:
            i = int(np.flatnonzero(bad)[0])
            line += (f"; {int(bad.sum())} row(s) outside, first row {i}: {est[i]:.6g} not in "
                     f"[{lo[i]:.6g}, {hi[i]:.6g}]")
        ev.append(line + f" [{'ok' if ok else 'FAIL'}]")
    bound = {"exact": f"within relative {rtol:g}", "upper": f"at least (1 - {rtol:g}) x exact",
             "factor": f"within a factor {factor:g}"}[mode]
    return CheckResult("check_sensitivities", getattr(estimator, "__name__", "estimator"), passed,
                       measured={"max_relative_deviation": worst},
                       bounds={"mode": mode, "rule": bound}, level=None,
                       power=f"exact: any row {bound.replace('within', 'outside')} of the "
                             "certified value fails" if mode != "upper" else
                             "exact: any row below the certified lower bound fails",
                       evidence=ev)

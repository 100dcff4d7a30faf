r"""``check_solver_order``: a diffusion ODE solver's fitted order against its declared order.

The solver runs an ``n``-step solve of the probability-flow ODE with the *exact* model
(the denoiser of the data law, no network) from fixed start points, for a doubling
sequence of ``n``; its error at the last positive noise level is measured against the
exact flow:

- on a 3-D Gaussian (eigenvalues 0.05, 0.3, 1; full covariance) the flow is in closed
  form, :math:`y_1 = \mu + U\operatorname{diag}\sqrt{(\lambda + \sigma_1^2)/(\lambda +
  \sigma_0^2)}\,U^\top(y_0 - \mu)` in VE coordinates :math:`y = x/\alpha`;
- on a 2-D two-component Gaussian mixture against a DOP853 solve at rtol 1e-12
  (:func:`toytheory.diffusion.solvers.reference_pf_ode_solution`).

The RMS error over 6 start points (drawn once, seed 1, from the exact marginal) is fitted
against the mean step in :math:`\log\sigma` (log-SNR) by least squares in log-log
(:func:`toytheory.diffusion.solvers.fit_convergence_order`), dropping errors below the
adapter's floor (1e-11; 2e-6 for diffusers, which computes in float32). The solver
passes when both slopes are at least ``order - tol`` (default ``tol = 0.25``; a solver
may converge faster than it declares: third-order data-prediction integrators
super-converge on Gaussian data, whose flow has vanishing high derivatives at both
ends). The check is exact: no randomness, so no level.

Adapters (``adapter="auto"`` reads the signature): toytheory's solver signature, a
diffusers scheduler class, a k-diffusion sampler function; see
:mod:`toytheory.conformance._solver_adapters`.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ._result import CheckResult
from . import _solver_adapters as A

__all__ = ["check_solver_order", "gaussian_problem", "gmm_problem"]

N_POINTS = 6


@lru_cache(maxsize=None)
def gaussian_problem():
    """:math:`N(\\mu, \\Sigma)` in d = 3, eigenvalues (0.05, 0.3, 1), a fixed rotation."""
    from toytheory.diffusion import Gaussian

    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    cov = (q * np.array([0.05, 0.3, 1.0])) @ q.T
    return Gaussian(np.array([0.5, -0.3, 0.2]), 0.5 * (cov + cov.T))


@lru_cache(maxsize=None)
def gmm_problem():
    """2-D mixture: weights (0.3, 0.7), means (-1, 0.5), (1, -0.2), variances 0.1, 0.2."""
    from toytheory.diffusion import GaussianMixture

    return GaussianMixture.isotropic([0.3, 0.7], [[-1.0, 0.5], [1.0, -0.2]], [0.1, 0.2])


def _start_parts(law):
    rng = np.random.default_rng(1)
    return law.sample_data(N_POINTS, rng), rng.standard_normal((N_POINTS, law.dim))


def exact_flow(law, y0, s0: float, s1: float) -> np.ndarray:
    """The exact PF-ODE flow of VE states ``y0`` from noise level ``s0`` to ``s1``."""
    from toytheory.diffusion import Gaussian
    from toytheory.diffusion.solvers import reference_pf_ode_solution

    if isinstance(law, Gaussian):
        lam, u = law.spectrum
        core = (u * np.sqrt((lam + s1 ** 2) / (lam + s0 ** 2))) @ u.T
        return law.mean_vector + (y0 - law.mean_vector) @ core.T
    return reference_pf_ode_solution(law, y0, -math.log(s0), [-math.log(s1)])[0]


def _runner(solver, adapter, options, config):
    if adapter == "toytheory":
        return A.toytheory_runner(solver, options)
    if adapter == "diffusers":
        return A.diffusers_runner(solver, config, options)
    return A.kdiffusion_runner(solver, options)


def _check_sizes(sizes):
    try:
        sizes = tuple(int(n) for n in sizes)
    except (TypeError, ValueError):
        raise ValueError(f"sizes: must be step counts (got {sizes!r})") from None
    if len(sizes) < 2 or any(n < 2 for n in sizes) or list(sizes) != sorted(set(sizes)):
        raise ValueError(f"sizes: need at least 2 increasing step counts >= 2 (got {sizes})")
    return sizes


def _check_order(order):
    if isinstance(order, bool):
        raise ValueError(f"order: must be a number >= 1 (got {order!r})")
    try:
        value = float(order)
    except (TypeError, ValueError):
        raise ValueError(f"order: must be a number >= 1 (got {order!r})") from None
    if not value >= 1 or not math.isfinite(value):
        raise ValueError(f"order: the declared order must be >= 1 (got {order!r})")
    return value


def check_solver_order(solver, order, *, adapter: str = "auto", sizes=None,
                       problems=("gaussian", "gmm"), tol: float = 0.25, options=None,
                       config=None) -> CheckResult:
    """Fit the convergence order of ``solver`` on exact problems; hold it to ``order``.

    Parameters
    ----------
    solver : callable or class
        toytheory's ``solver(model, x_T, grid, **options)``, a diffusers scheduler class,
        or a k-diffusion ``sampler(model, x, sigmas, ...)``.
    order : float
        The declared order (>= 1).
    adapter : {"auto", "toytheory", "diffusers", "k-diffusion"}
    sizes : sequence of int, optional
        Increasing step counts; default (96, 192, 384) for toytheory, (20, 40, 80) for
        diffusers (float32: larger sizes reach its rounding floor), (24, 48, 96) for
        k-diffusion.
    problems : subset of ("gaussian", "gmm")
    tol : float
        A slope below ``order - tol`` fails.
    options : dict, optional
        Keyword arguments for the solver (for diffusers: for ``step``).
    config : dict, optional
        diffusers only: the scheduler's constructor arguments (over the default
        1000-step ``scaled_linear`` configuration).

    Returns
    -------
    CheckResult
        ``measured``: errors, step sizes and slopes per problem; exact (``level`` None).

    Raises
    ------
    ValueError
        A solver that matches no signature (the message lists the signatures and
        adapters), ``order < 1``, bad sizes, problems or tol.
    """
    order = _check_order(order)
    adapter = A.resolve_adapter(solver, adapter)
    sizes = _check_sizes(A.DEFAULT_SIZES[adapter] if sizes is None else sizes)
    if not problems or any(p not in ("gaussian", "gmm") for p in problems):
        raise ValueError(f"problems: must be a non-empty subset of ('gaussian', 'gmm') "
                         f"(got {problems!r})")
    if not tol > 0:
        raise ValueError(f"tol: must be > 0 (got {tol!r})")
    sigmas, solve, nfe = _runner(solver, adapter, dict(options or {}), config)
    floor = A.FLOORS[adapter]
    from toytheory.diffusion.solvers import fit_convergence_order

    measured, ev, passed = {}, [], True
    h = []
    for n in sizes:
        s = sigmas(n)
        h.append(float(np.log(s[0] / s[-1]) / (s.size - 1)))
    h = np.array(h)
    name = getattr(solver, "__name__", type(solver).__name__)
    ev.append(f"adapter {adapter}; steps {sizes} (NFE {[nfe(n) for n in sizes]}); mean "
              f"log-sigma step {np.round(h, 4).tolist()}")
    for prob in problems:
        law = gaussian_problem() if prob == "gaussian" else gmm_problem()
        x0, z = _start_parts(law)
        errs = []
        for n in sizes:
            s = sigmas(n)
            y0 = x0 + s[0] * z
            got = np.asarray(solve(law, y0, n), float)
            if got.shape != y0.shape or not np.all(np.isfinite(got)):
                raise ValueError(f"solver: must return finite states of shape {y0.shape} "
                                 f"(got {got.shape})")
            want = exact_flow(law, y0, float(s[0]), float(s[-1]))
            errs.append(float(np.sqrt(np.mean(np.sum((got - want) ** 2, axis=1)))))
        errs = np.array(errs)
        try:
            slope, used = fit_convergence_order(h, errs, floor=floor)
        except ValueError:
            slope, used = float("nan"), errs > floor
        ok = bool(slope >= order - tol)
        passed = passed and ok
        measured[prob] = {"errors": errs, "slope": slope, "points_used": int(used.sum())}
        ev.append(f"{prob}: RMS errors {[f'{e:.3g}' for e in errs]}, fitted order "
                  f"{slope:.3f} vs declared {order:g} (>= {order - tol:g} needed) "
                  f"[{'ok' if ok else 'FAIL'}]"
                  + ("" if used.all() else f" ({int((~used).sum())} point(s) below the "
                     f"floor {floor:g} dropped)"))
    measured["step_sizes"] = h
    return CheckResult("check_solver_order", f"{name} via {adapter}", passed, measured=measured,
                       bounds={"min_slope": order - tol}, level=None,
                       power=f"exact: an order below {order - tol:g} on a tested problem fails "
                             "with certainty (no sampling)",
                       evidence=ev)

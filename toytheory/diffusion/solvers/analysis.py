r"""Exact errors of solvers: output laws on Gaussian data, flow maps, reference solves, orders.

On Gaussian data every solver here (deterministic or with explicit noise) is
an affine map of :math:`x_T` (and of the injected draws :math:`z`), read off by
:func:`~toytheory.diffusion.affine.affine_map_of`. Then, exactly:

- the output law :math:`N(Mm + c, MSM^T + NN^T)` for :math:`x_T \sim N(m, S)`
  (:func:`solver_output_law`) and its KL and :math:`W_2` to the data law
  (:func:`gaussian_errors`);
- the pathwise (strong) error against the exact probability-flow map
  :math:`x_T \mapsto M^\star x_T + c^\star` (:func:`gaussian_flow_to_grid_end`),

  .. math:: E\|(M - M^\star)x_T + c - c^\star\|^2 = \operatorname{tr}(\Delta S\Delta^T)
            + \|\Delta m + c - c^\star\|^2,\quad \Delta = M - M^\star

  (:func:`pathwise_rms_error`).

For mixtures the reference is a very fine ``solve_ivp`` (DOP853) solve of the
probability-flow ODE in VE coordinates :math:`y = x/\alpha` and log-SNR,

.. math:: \frac{dy}{d\lambda} = \hat x_0(y;\, \alpha = 1, \sigma = e^{-\lambda}) - y

whose Jacobian has eigenvalues in :math:`[-1, 0]` (not stiff), so a tolerance of
1e-12 is cheap (:func:`reference_pf_ode_solution`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..._validation import as_float_array, check_real
from ...gaussian_distances import bures_wasserstein_distance, kl_divergence_gaussians
from ..affine import AffineMap, affine_map_of, gaussian_pushforward
from ..laws import Gaussian, GaussianMixture
from .grids import TimeGrid

__all__ = [
    "start_law",
    "solver_affine_map",
    "solver_output_law",
    "gaussian_errors",
    "gaussian_flow_to_grid_end",
    "pathwise_rms_error",
    "reference_pf_ode_solution",
    "fit_convergence_order",
]


def start_law(law: Gaussian, grid: TimeGrid, start: str = "marginal"):
    """The law of :math:`x_T` at ``grid``'s first point: ``"marginal"`` (exact,
    :math:`N(\\alpha\\mu, \\alpha^2\\Sigma + \\sigma^2 I)`) or ``"prior"`` (:math:`N(0, I)`
    for variance-preserving schedules, :math:`N(0, \\sigma_T^2 I)` otherwise)."""
    if start not in ("marginal", "prior"):
        raise ValueError(f"start: must be 'marginal' or 'prior' (got {start!r})")
    a, s = float(grid.alpha[0]), float(grid.sigma[0])
    if start == "marginal":
        return law.marginal_moments(a, s)
    d = law.dim
    var = 1.0 if grid.schedule.variance_preserving else s * s
    return np.zeros(d), var * np.eye(d)


def solver_affine_map(solve: Callable, d: int, *, noise_dim: int = 0, scale: float = 1.0,
                      rtol: float = 1e-8) -> AffineMap:
    """The affine map of ``solve(x_T)`` (or ``solve(x_T, z)``), read by probing."""
    return affine_map_of(solve, d, noise_dim=noise_dim, scale=scale, rtol=rtol, rng=0)


def solver_output_law(solve: Callable, law: Gaussian, grid: TimeGrid, *, start: str = "marginal",
                      noise_dim: int = 0):
    """Exact ``(mean, cov)`` of the solver's output on Gaussian data.

    Parameters
    ----------
    solve : callable
        ``solve(x_T) -> x_0`` (numpy, (n, d) -> (n, d)), or ``solve(x_T, z)``
        with the injected standard normal draws ``z`` of shape (n, noise_dim).
    law : Gaussian
    grid : TimeGrid
    start : {"marginal", "prior"}
    noise_dim : int
    """
    m0, s0 = start_law(law, grid, start)
    aff = solver_affine_map(solve, law.dim, noise_dim=noise_dim,
                            scale=float(np.sqrt(np.max(np.diag(s0)))))
    return gaussian_pushforward(aff, m0, s0)


def gaussian_errors(mean, cov, law: Gaussian) -> dict:
    """``{"w2": W2, "kl": KL(N(mean, cov) || data)}`` against the Gaussian data law."""
    mu, sigma = law.mean_vector, law.cov
    return {"w2": float(bures_wasserstein_distance(mean, cov, mu, sigma)),
            "kl": float(kl_divergence_gaussians(mean, cov, mu, sigma))}


def gaussian_flow_to_grid_end(law: Gaussian, grid: TimeGrid):
    """The exact probability-flow map ``(M*, c*)`` from the grid's first point to its last.

    .. math:: x_N = \\alpha_N\\Big[\\mu + U\\operatorname{diag}\\sqrt{\\tfrac{\\lambda +
              \\rho_N^2}{\\lambda + \\rho_0^2}}U^T\\big(x_0/\\alpha_0 - \\mu\\big)\\Big]

    (valid into zero noise, :math:`\\rho_N = 0`, when :math:`\\Sigma` is non-singular).
    """
    lam, u = law.spectrum
    mu = law.mean_vector
    a0, r0 = float(grid.alpha[0]), float(grid.sigma_ve[0])
    a1, r1 = float(grid.alpha[-1]), float(grid.sigma_ve[-1])
    if r1 == 0 and np.any(lam <= 0):
        raise ValueError("law: the flow into zero noise needs a non-singular covariance")
    core = (u * np.sqrt((lam + r1 ** 2) / (lam + r0 ** 2))) @ u.T
    return (a1 / a0) * core, a1 * (mu - core @ mu)


def pathwise_rms_error(affine: AffineMap, exact, start) -> float:
    """:math:`\\sqrt{E\\|(M - M^\\star)x + c - c^\\star\\|^2}` for :math:`x \\sim N(m, S)`.

    Parameters
    ----------
    affine : AffineMap
        The solver's map (a noise part, if any, adds :math:`\\|N\\|_F^2`).
    exact : (M*, c*)
    start : (m, S)
    """
    m_star, c_star = exact
    m0, s0 = start
    delta = affine.matrix - m_star
    bias = delta @ m0 + affine.offset - c_star
    total = float(np.trace(delta @ s0 @ delta.T) + bias @ bias)
    total += float(np.sum(affine.noise_matrix ** 2))
    return float(np.sqrt(max(total, 0.0)))


def reference_pf_ode_solution(law: GaussianMixture, x, lam_start: float, lam_ends,
                              *, rtol: float = 1e-12, atol: float = 1e-12):
    """States of the exact probability-flow ODE in VE coordinates at the log-SNRs ``lam_ends``.

    Parameters
    ----------
    law : GaussianMixture
    x : (n, d) array
        :math:`y = x/\\alpha` at log-SNR ``lam_start``.
    lam_start : float
    lam_ends : sequence of float
        Increasing finite log-SNRs >= ``lam_start``.

    Returns
    -------
    (len(lam_ends), n, d) array
        :math:`y` at each ``lam_ends`` (multiply by :math:`\\alpha` for the
        schedule's coordinates).
    """
    from scipy.integrate import solve_ivp

    y0 = as_float_array("x", x, ndim=2)
    lam_start = check_real("lam_start", lam_start)
    ends = as_float_array("lam_ends", lam_ends, ndim=1)
    if np.any(np.diff(ends) < 0) or ends[0] < lam_start:
        raise ValueError("lam_ends: must be increasing and >= lam_start")
    shape = y0.shape

    def rhs(lam, y):
        yy = y.reshape(shape)
        return (law.denoise(yy, 1.0, float(np.exp(-lam))) - yy).ravel()

    if ends[-1] == lam_start:
        return np.repeat(y0[None], ends.size, axis=0)
    sol = solve_ivp(rhs, (lam_start, float(ends[-1])), y0.ravel(), method="DOP853",
                    t_eval=ends, rtol=rtol, atol=atol)
    if not sol.success:  # pragma: no cover - DOP853 on a non-stiff smooth field
        raise RuntimeError(f"reference solve failed: {sol.message}")
    return sol.y.T.reshape((ends.size,) + shape)


def fit_convergence_order(step_sizes, errors, *, floor: float = 0.0):
    """Least-squares slope of :math:`\\log(\\text{error})` against :math:`\\log(\\text{step})`.

    Points with error at or below ``floor`` (float noise) are dropped first.

    Returns
    -------
    slope : float
    used : (k,) bool array
        Which points entered the fit.

    Raises
    ------
    ValueError
        Fewer than 2 points above the floor.
    """
    h = as_float_array("step_sizes", step_sizes, ndim=1)
    e = as_float_array("errors", errors, ndim=1)
    if h.shape != e.shape:
        raise ValueError("errors: must have one entry per step size")
    used = e > floor
    if used.sum() < 2:
        raise ValueError(f"errors: need at least 2 points above the floor {floor:g} "
                         f"(got {int(used.sum())})")
    slope = np.polyfit(np.log(h[used]), np.log(e[used]), 1)[0]
    return float(slope), used

r"""DPM-Solver-v3 with empirical model statistics (EMS) computed exactly for Gaussian data.

Zheng, Lu, Bao and Zhu, "DPM-Solver-v3: Improved Diffusion ODE Solver with
Empirical Model Statistics", sections 3.1-3.3, and the authors'
``dpm_solver_v3.py``. With :math:`y = x/\alpha` the probability-flow ODE in
:math:`\lambda` is :math:`dy/d\lambda = -\sigma\hat\varepsilon/\alpha`. Writing
:math:`\sigma\hat\varepsilon = l_\lambda\odot x + N_\theta` and

.. math:: f_\lambda = \frac{\sigma\hat\varepsilon - l_\lambda\odot x}{\alpha},\qquad
          g_\lambda = e^{S_s - S_\lambda} f_\lambda - e^{S_s}(B_\lambda - B_s)

(:math:`L = \int l`, :math:`S = \int s`, :math:`B = \int e^{-S}b`,
:math:`I = \int e^{L+S}`, :math:`C = \int e^{L+S}B`, all from :math:`\lambda_T`),
the exact solution is

.. math:: x_t = \frac{\alpha_t}{\alpha_s}e^{L_s - L_t}x_s
          - \alpha_t e^{-L_t - S_s}\!\int_{\lambda_s}^{\lambda_t}\! e^{L+S} g\,d\lambda
          - \alpha_t e^{-L_t}\big(C_t - C_s - B_s(I_t - I_s)\big)

and the order-:math:`p` solver replaces :math:`g` by its Taylor polynomial at
:math:`\lambda_s` (derivatives from the previous points). The statistics are

.. math:: l = \operatorname{diag}E[\nabla_x(\sigma\hat\varepsilon)],\quad
          s = \frac{\mathrm{Cov}(f', f)}{\mathrm{Var}(f)},\quad b = E f' - s\,E f

elementwise, with :math:`f' = df/d\lambda` along the ODE and expectations over the
exact marginal. For Gaussian data :math:`N(\mu, \Sigma)` everything is affine in
:math:`y \sim N(\mu, \Sigma + \rho^2 I)` and the statistics are exact
(:func:`exact_model_statistics`); for *diagonal* :math:`\Sigma`,
:math:`l_i = 1/(1 + e^{2\lambda}v_i)`, :math:`f = -l\odot\mu` is deterministic
(:math:`\mathrm{Var}\,f = 0`, :math:`s := 0`, :math:`b = df/d\lambda`), :math:`g` is
constant, and the first-order solver is exact up to the quadrature of
:math:`L, S, B, I, C` on ``refine`` sub-steps per step (the reference code
integrates with the trapezoid rule on its statistics grid; Simpson's rule is
the default here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..._validation import check_int, check_real
from ..laws import Gaussian
from ._base import SolverContext, check_order
from .dpm_solver import _check_enough_steps, _finish, multistep_orders
from .grids import TimeGrid

__all__ = ["ModelStatistics", "exact_model_statistics", "sample_dpm_solver_v3"]


def _cumtrapz(values, x):
    out = np.zeros_like(values)
    dx = np.diff(x)[:, None]
    out[1:] = np.cumsum(0.5 * dx * (values[1:] + values[:-1]), axis=0)
    return out


def _cumsimpson(values, x):
    from scipy.integrate import cumulative_simpson

    if values.shape[0] < 3:
        return _cumtrapz(values, x)
    return cumulative_simpson(values, x=x, axis=0, initial=0.0)


QUADRATURES = ("simpson", "trapezoid")


@dataclass(frozen=True)
class ModelStatistics:
    """Empirical model statistics on a fine log-SNR grid that contains a sampling grid.

    Attributes
    ----------
    lambdas : (M + 1,) array
        Fine nodes, increasing.
    l, s, b : (M + 1, d) arrays
    grid_lambdas : (K,) array
        The sampling grid's finite log-SNRs (its points with noise).
    grid_index : (K,) int array
        Their positions in ``lambdas``.
    L, S, B, I, C : (M + 1, d) arrays
        Cumulative integrals (see the module docstring).
    quadrature : {"simpson", "trapezoid"}
        Cumulative Simpson (:math:`O(\\Delta^4)`) or the reference code's
        trapezoid (:math:`O(\\Delta^2)`, which caps the solver's order at 2
        unless the sub-steps shrink with the steps).
    """

    lambdas: np.ndarray
    l: np.ndarray
    s: np.ndarray
    b: np.ndarray
    grid_lambdas: np.ndarray
    grid_index: np.ndarray
    L: np.ndarray
    S: np.ndarray
    B: np.ndarray
    I: np.ndarray  # noqa: E741
    C: np.ndarray
    quadrature: str = "simpson"

    @classmethod
    def from_arrays(cls, lambdas, l, s, b, grid_lambdas, grid_index, quadrature="simpson"):
        if quadrature not in QUADRATURES:
            raise ValueError(f"quadrature: must be one of {QUADRATURES} (got {quadrature!r})")
        cum = _cumsimpson if quadrature == "simpson" else _cumtrapz
        lam = np.asarray(lambdas, float)
        l, s, b = (np.asarray(v, float) for v in (l, s, b))
        big_l = cum(l, lam)
        big_s = cum(s, lam)
        big_b = cum(np.exp(-big_s) * b, lam)
        big_i = cum(np.exp(big_l + big_s), lam)
        big_c = cum(np.exp(big_l + big_s) * big_b, lam)
        return cls(lam, l, s, b, np.asarray(grid_lambdas, float),
                   np.asarray(grid_index, int), big_l, big_s, big_b, big_i, big_c, quadrature)

    def exp_coefficient(self, i_s: int, i_t: int, k: int):
        """The high-order weight, shape (d,).

        .. math:: \\int_{\\lambda_s}^{\\lambda_t} e^{L+S-L_s-S_s}
                  (\\lambda-\\lambda_s)^k/k!\\,d\\lambda
        """
        lam = self.lambdas[i_s:i_t + 1]
        a = (self.L[i_s:i_t + 1] + self.S[i_s:i_t + 1] - self.L[i_s] - self.S[i_s])
        w = ((lam - lam[0]) ** k / math.factorial(k))[:, None] * np.exp(a)
        m = lam.size - 1
        dx = np.diff(lam)
        if self.quadrature == "simpson" and m % 2 == 0 and np.allclose(dx, dx[0], rtol=1e-9):
            weights = np.ones(m + 1)
            weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
            return (dx[0] / 3.0) * (weights @ w)
        cum = _cumsimpson if self.quadrature == "simpson" else _cumtrapz
        return cum(w, lam)[-1]


def _fine_nodes(grid: TimeGrid, refine: int):
    lam = grid.log_snr
    k_end = grid.n_steps - (1 if grid.ends_at_zero else 0)
    nodes, index = [], []
    for i in range(k_end):
        index.append(len(nodes))
        nodes.extend(lam[i] + (lam[i + 1] - lam[i]) * np.arange(refine) / refine)
    index.append(len(nodes))
    nodes.append(lam[k_end])
    return np.array(nodes), np.array(index), lam[:k_end + 1].copy()


def exact_model_statistics(law: Gaussian, grid: TimeGrid, *, refine: int = 8,
                           quadrature: str = "simpson",
                           var_rtol: float = 1e-12) -> ModelStatistics:
    """The exact EMS :math:`l, s, b` of the exact model of Gaussian data, on ``grid`` refined.

    Parameters
    ----------
    law : Gaussian
        :math:`N(\\mu, \\Sigma)`; :math:`\\Sigma` full or diagonal.
    grid : TimeGrid
        The sampling grid; the statistics live on ``refine`` equal sub-steps in
        :math:`\\lambda` of each of its steps (the step into zero noise, if any,
        needs none: it is the denoising step).
    refine : int
        Sub-steps per step for the quadrature (even for Simpson's rule).
    quadrature : {"simpson", "trapezoid"}
        How :math:`L, S, B, I, C` are integrated (trapezoid: the reference code).
    var_rtol : float
        :math:`s_i := 0` where :math:`\\mathrm{Var}(f_i) \\le` ``var_rtol`` times
        :math:`E f_i'^2 + \\mathrm{Var} f_i'` (the regression is then undetermined
        and any :math:`s` leaves :math:`g` constant).

    Returns
    -------
    ModelStatistics
    """
    if not isinstance(law, Gaussian):
        raise ValueError(f"law: must be a Gaussian (got {type(law).__name__}); the statistics "
                         "of a mixture have no closed form")
    if not isinstance(grid, TimeGrid):
        raise ValueError(f"grid: must be a TimeGrid (got {type(grid).__name__})")
    refine = check_int("refine", refine, low=1)
    if quadrature not in QUADRATURES:
        raise ValueError(f"quadrature: must be one of {QUADRATURES} (got {quadrature!r})")
    var_rtol = check_real("var_rtol", var_rtol, low=0.0)
    lambdas, index, grid_lams = _fine_nodes(grid, refine)
    v, u = law.spectrum
    mu = law.mean_vector
    d = mu.size
    r2 = np.exp(-2.0 * lambdas)[:, None]                       # (M, 1)
    a_diag = r2 / (v[None, :] + r2)                             # (M, d) eigen-coordinates
    da_diag = -2.0 * r2 * v[None, :] / (v[None, :] + r2) ** 2
    a_mat = np.einsum("ij,mj,kj->mik", u, a_diag, u)            # (M, d, d)
    da_mat = np.einsum("ij,mj,kj->mik", u, da_diag, u)
    cov_y = np.einsum("ij,mj,kj->mik", u, v[None, :] + r2, u)
    l_arr = np.einsum("mii->mi", a_mat).copy()
    dl_arr = np.einsum("mii->mi", da_mat).copy()
    eye = np.eye(d)[None]
    f_mat = a_mat - eye * l_arr[:, None, :]
    g_mat = da_mat - eye * dl_arr[:, None, :] - f_mat @ a_mat
    mean_f = -l_arr * mu[None, :]
    mean_df = -dl_arr * mu[None, :]
    var_f = np.einsum("mij,mjk,mik->mi", f_mat, cov_y, f_mat)
    cov_df_f = np.einsum("mij,mjk,mik->mi", g_mat, cov_y, f_mat)
    var_df = np.einsum("mij,mjk,mik->mi", g_mat, cov_y, g_mat)
    scale = mean_df ** 2 + var_df + np.finfo(float).tiny
    ok = var_f > var_rtol * scale
    s_arr = np.where(ok, cov_df_f / np.where(ok, var_f, 1.0), 0.0)
    b_arr = mean_df - s_arr * mean_f
    return ModelStatistics.from_arrays(lambdas, l_arr, s_arr, b_arr, grid_lams, index, quadrature)


def _taylor_derivatives(xp_lincomb, lams, gs, n):
    """:math:`g^{(1..n)}(\\lambda_0)` from values at ``lams[0..n]`` (exact Taylor interpolation)."""
    dl = np.array([lams[j] - lams[0] for j in range(1, n + 1)])
    r = np.array([[dl[j] ** k for k in range(1, n + 1)] for j in range(n)])
    inv = np.linalg.inv(r)
    out = []
    for k in range(n):
        terms = []
        for j in range(n):
            c = inv[k, j] * math.factorial(k + 1)
            terms += [(c, gs[j + 1]), (-c, gs[0])]
        out.append(xp_lincomb(terms))
    return out


def sample_dpm_solver_v3(model, x_T, grid, *, statistics: ModelStatistics, prediction=None,
                         generator=None, order: int = 1, corrector: bool = False,
                         lower_order_final: bool = True, callback=None,
                         denoise_to_zero: bool = False):
    """DPM-Solver-v3 multistep predictor (orders 1-3) with optional corrector.

    Parameters
    ----------
    statistics : ModelStatistics
        EMS built for this ``grid`` (e.g. :func:`exact_model_statistics`).
    order : {1, 2, 3}
    corrector : bool
        The paper's multistep corrector: recompute :math:`x_{t}` from
        :math:`x_s` with the new evaluation as one more node (order + 1), and keep
        :math:`N_\\theta` of the evaluation (:math:`\\hat\\varepsilon \\leftarrow
        (N + l\\odot x_{new})/\\sigma`), as the reference code does.

    Raises
    ------
    ValueError
        ``statistics`` built for another grid, too few steps for ``order``.
    """
    order = check_order("order", order, low=1, high=3)
    if not isinstance(statistics, ModelStatistics):
        raise ValueError("statistics: must be a ModelStatistics (see exact_model_statistics)")
    ctx = SolverContext(model, x_T, grid, prediction, callback)
    k_end = grid.n_steps - (1 if grid.ends_at_zero else 0)
    if (statistics.grid_lambdas.size != k_end + 1
            or not np.allclose(statistics.grid_lambdas, grid.log_snr[:k_end + 1],
                               rtol=0, atol=1e-12)):
        raise ValueError("statistics: were computed for another grid (their log-SNR nodes do not "
                         "contain this grid's points)")
    _check_enough_steps(grid, order)
    orders = multistep_orders(grid.n_steps, order, bool(lower_order_final), grid.ends_at_zero)
    st = statistics
    x = ctx.x_T
    if ctx.torch:
        import torch

        def vec(a):
            return torch.as_tensor(np.asarray(a, float), dtype=x.dtype, device=x.device)
    else:
        def vec(a):
            return np.asarray(a, float)

    from ._base import lincomb

    def g_of(f, i_s, i_j):
        shift = vec(np.exp(st.S[i_s]) * (st.B[i_j] - st.B[i_s]))
        return vec(np.exp(st.S[i_s] - st.S[i_j])) * f - shift

    def update(x_s, i_s, i_t, a_s, a_t, nodes):
        """``nodes``: list of (fine index, lambda, f) with the start s first."""
        g = [g_of(f, i_s, i_j) for (i_j, _, f) in nodes]
        x_t = (vec(a_t / a_s * np.exp(st.L[i_s] - st.L[i_t])) * x_s
               - vec(a_t * np.exp(-st.L[i_t] - st.S[i_s]) * (st.I[i_t] - st.I[i_s])) * g[0]
               - vec(a_t * np.exp(-st.L[i_t]) * (st.C[i_t] - st.C[i_s]
                                                 - st.B[i_s] * (st.I[i_t] - st.I[i_s]))))
        n = len(nodes) - 1
        if n:
            derivs = _taylor_derivatives(lincomb, [lam for (_, lam, _) in nodes], g, n)
            for k, gd in enumerate(derivs, start=1):
                gd = ctx.m(gd)
                x_t = x_t - vec(a_t * np.exp(st.L[i_s] - st.L[i_t])
                                * st.exp_coefficient(i_s, i_t, k)) * gd
        return x_t

    xs: list = []
    fs: list = []     # f at each visited point
    idx: list = []
    lams: list = []
    sig: list = []
    last_order = None
    for i in range(grid.n_steps):
        x = ctx.m(x)  # concrete state (fused mode keeps combinations lazy)
        t_s, a_s, s_s, lam_s = ctx.point(i)
        t_t, a_t, _, lam_t = ctx.point(i + 1)
        raw = ctx.raw(x, t_s)
        eps = ctx.m(ctx.to_noise(raw, x, a_s, s_s))
        d0 = ctx.m(ctx.to_data(raw, x, a_s, s_s))
        i_s = int(st.grid_index[i])
        l_s = vec(st.l[i_s])
        f = (s_s * eps - l_s * x) / a_s
        if corrector and i > 0 and last_order is not None:
            c_order = last_order + 1
            i_prev = idx[-1]
            a_prev = ctx.point(i - 1)[1]
            nodes = [(i_prev, lams[-1], fs[-1]), (i_s, lam_s, f)]
            nodes += [(idx[-1 - j], lams[-1 - j], fs[-1 - j]) for j in range(1, c_order - 1)]
            x_new = update(xs[-1], i_prev, i_s, a_prev, a_s, nodes)
            n_old = s_s * eps - l_s * x
            x = x_new
            eps = (n_old + l_s * x) / s_s
            f = (s_s * eps - l_s * x) / a_s
            d0 = (x - s_s * eps) / a_s
        xs = (xs + [x])[-3:]
        fs = (fs + [f])[-3:]
        idx = (idx + [i_s])[-3:]
        lams = (lams + [lam_s])[-3:]
        sig = (sig + [s_s])[-3:]
        p = orders[i]
        last_order = p
        if grid.step_into_zero(i):
            x_next = d0
        else:
            i_t = int(st.grid_index[i + 1])
            nodes = [(idx[-1 - j], lams[-1 - j], fs[-1 - j]) for j in range(p)]
            x_next = update(x, i_s, i_t, a_s, a_t, nodes)
        ctx.report(i, x, x_next, d0, order=p)
        x = x_next
    return _finish(ctx, x, denoise_to_zero)

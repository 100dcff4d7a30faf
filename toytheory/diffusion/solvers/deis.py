r"""DEIS: the diffusion exponential integrator sampler, tAB, :math:`\rho`AB and log-:math:`\rho` AB.

Zhang and Chen, "Fast Sampling of Diffusion Models with Exponential
Integrator", section 4 (eqs. 14-16, "tAB-DEIS" and ":math:`\rho`AB-DEIS"). In
VE coordinates :math:`\hat x = x/\alpha`, :math:`\rho = \sigma/\alpha`, the
probability-flow ODE is :math:`d\hat x/d\rho = \hat\varepsilon(x, t)`, so the
exponential integrator with the noise prediction extrapolated by a
polynomial through the last :math:`p` evaluations is

.. math:: \hat x_{i+1} = \hat x_i + \sum_{j=0}^{p-1} C_{ij}\,\hat\varepsilon_{i-j},\qquad
          C_{ij} = \int_{\rho_i}^{\rho_{i+1}} \ell_j\big(\tau(\rho)\big)\,d\rho

with :math:`\ell_j` the Lagrange basis on the nodes :math:`\tau_{i}, \dots,
\tau_{i-p+1}` of the interpolation variable :math:`\tau`:

- ``"tab"``: :math:`\tau = t` (the schedule's time; the paper's tAB, its best);
- ``"rhoab"``: :math:`\tau = \rho` (exact polynomial integral);
- ``"logrho"``: :math:`\tau = \log\rho` (diffusers' ``DEISMultistepScheduler``,
  ``solver_type="logrho"``, whose closed forms for orders 2 and 3 this matches).

The integrals are taken by Gauss-Legendre quadrature: 8 nodes for
:math:`\rho`AB (exact), 32 nodes in :math:`\log\rho` for log-:math:`\rho`, and for
tAB by parts, :math:`C = [\ell_j\rho] - \int\rho\,\ell_j'\,dt`, with 32 nodes in
:math:`\log t` (the VP :math:`\rho(t) \sim \sqrt{t}` is smooth there) or, for a
:class:`~toytheory.diffusion.schedules.DiscreteVP` (piecewise linear
:math:`\rho`), 8 nodes on every piece between training steps (exact).
Order :math:`p` extrapolation gives order :math:`p` (one evaluation per step).
"""

from __future__ import annotations

import numpy as np

from ..schedules import DiscreteVP
from ._base import SolverContext, check_choice, check_order, lincomb
from .dpm_solver import _check_enough_steps, _finish, multistep_orders

__all__ = ["sample_deis", "deis_coefficients"]

VARIANTS = ("tab", "rhoab", "logrho")

_GL_CACHE: dict = {}


def _gauss(n):
    if n not in _GL_CACHE:
        _GL_CACHE[n] = np.polynomial.legendre.leggauss(n)
    return _GL_CACHE[n]


def _integrate(f, a, b, n):
    """:math:`\\int_a^b f` by n-point Gauss-Legendre (``f`` vectorised)."""
    x, w = _gauss(n)
    mid, half = 0.5 * (a + b), 0.5 * (b - a)
    return half * float(np.dot(w, f(mid + half * x)))


def _lagrange(nodes, j):
    """The Lagrange basis polynomial :math:`\\ell_j` on ``nodes`` (numpy Polynomial)."""
    p = np.polynomial.Polynomial([1.0])
    for k, node in enumerate(nodes):
        if k != j:
            p = p * np.polynomial.Polynomial([-node, 1.0]) / (nodes[j] - node)
    return p


def _rho_of_t(schedule, t):
    return np.asarray(schedule.sigma_ve(np.asarray(t, float)), float)


def deis_coefficients(schedule, t_nodes, rho_nodes, t_next: float, rho_next: float,
                      variant: str = "tab"):
    """The DEIS weights of one step, for the nodes newest first.

    .. math:: C_j = \\int_{\\rho_0}^{\\rho_{next}} \\ell_j(\\tau(\\rho))\\,d\\rho

    Parameters
    ----------
    schedule : NoiseSchedule
    t_nodes, rho_nodes : sequences of float
        Times and VE noise levels of the nodes, ``[t_i, t_{i-1}, ...]``.
    t_next, rho_next : float
        The step's end.
    variant : {"tab", "rhoab", "logrho"}

    Returns
    -------
    (p,) array
    """
    variant = check_choice("variant", variant, VARIANTS)
    key = (id(schedule), tuple(float(v) for v in t_nodes), tuple(float(v) for v in rho_nodes),
           float(t_next), float(rho_next), variant)
    hit = _COEF_CACHE.get(key)
    if hit is not None and hit[0] is schedule:
        return hit[1].copy()
    out = _deis_coefficients(schedule, [float(v) for v in t_nodes],
                             [float(v) for v in rho_nodes], float(t_next), float(rho_next),
                             variant)
    if len(_COEF_CACHE) > 4096:
        _COEF_CACHE.clear()
    _COEF_CACHE[key] = (schedule, out)
    return out.copy()


_COEF_CACHE: dict = {}


def _gl_nodes_on(a, b, n):
    x, w = _gauss(n)
    mid, half = 0.5 * (a + b), 0.5 * (b - a)
    return mid + half * x, half * w


def _deis_coefficients(schedule, t_nodes, rho_nodes, t_next, rho_next, variant):
    p = len(t_nodes)
    rho0 = rho_nodes[0]
    if p == 1:
        return np.array([rho_next - rho0])
    if variant == "rhoab":
        nodes, weights = _gl_nodes_on(rho0, rho_next, 8)
        return np.array([float(np.dot(weights, _lagrange(rho_nodes, j)(nodes)))
                         for j in range(p)])
    if variant == "logrho":
        u_nodes = list(np.log(rho_nodes))
        nodes, weights = _gl_nodes_on(u_nodes[0], np.log(rho_next), 32)
        ew = weights * np.exp(nodes)
        return np.array([float(np.dot(ew, _lagrange(u_nodes, j)(nodes))) for j in range(p)])
    # tAB, by parts: int l_j drho = [l_j rho] - int rho(t) l_j'(t) dt
    t0 = t_nodes[0]
    if isinstance(schedule, DiscreteVP):
        lo, hi = sorted((t0, t_next))
        knots = np.concatenate([[lo], np.arange(np.floor(lo) + 1, np.ceil(hi)), [hi]])
        pieces = [_gl_nodes_on(a, b, 8) for a, b in zip(knots[:-1], knots[1:]) if b > a]
        tt = np.concatenate([q[0] for q in pieces])
        ww = np.concatenate([q[1] for q in pieces]) * (1.0 if t_next > t0 else -1.0)
    elif min(t0, t_next) > 0:
        uu, wu = _gl_nodes_on(np.log(t0), np.log(t_next), 32)
        tt = np.exp(uu)
        ww = wu * tt
    else:
        tt, ww = _gl_nodes_on(t0, t_next, 32)
    rho_w = ww * _rho_of_t(schedule, tt)
    out = np.empty(p)
    for j in range(p):
        ell = _lagrange(t_nodes, j)
        out[j] = (ell(t_next) * rho_next - ell(t0) * rho0) - float(np.dot(rho_w, ell.deriv()(tt)))
    return out


def sample_deis(model, x_T, grid, *, prediction=None, generator=None,
                order: int = 3, variant: str = "tab",
                lower_order_final: bool = True, callback=None, denoise_to_zero: bool = False):
    """DEIS multistep sampler (tAB, :math:`\\rho`AB or log-:math:`\\rho`), orders 1 and up.

    Parameters
    ----------
    order : int >= 1
        Number of evaluations the polynomial passes through (1 = DDIM).
    variant : {"tab", "rhoab", "logrho"}
    lower_order_final : bool
        Orders :math:`\\min(p, N - i)` (diffusers: below 15 steps).

    Raises
    ------
    ValueError
        Fewer steps than ``order``, unknown ``variant`` or prediction.
    """
    order = check_order("order", order, low=1)
    variant = check_choice("variant", variant, VARIANTS)
    ctx = SolverContext(model, x_T, grid, prediction, callback)
    _check_enough_steps(grid, order)
    orders = multistep_orders(grid.n_steps, order, bool(lower_order_final), grid.ends_at_zero)
    rho = grid.sigma_ve
    x = ctx.x_T
    eps_hist: list = []
    idx_hist: list = []
    for i in range(grid.n_steps):
        x = ctx.m(x)  # concrete state (fused mode keeps combinations lazy)
        t_s, a_s, s_s, _ = ctx.point(i)
        t_t, a_t, _, _ = ctx.point(i + 1)
        raw = ctx.raw(x, t_s)
        e0 = ctx.to_noise(raw, x, a_s, s_s)
        d0 = ctx.to_data(raw, x, a_s, s_s)
        eps_hist = (eps_hist + [e0])[-order:]
        idx_hist = (idx_hist + [i])[-order:]
        p = orders[i]
        if grid.step_into_zero(i):
            x_next = d0
        else:
            nodes = idx_hist[::-1][:p]
            coef = deis_coefficients(grid.schedule, [grid.t[k] for k in nodes],
                                     [rho[k] for k in nodes], float(grid.t[i + 1]),
                                     float(rho[i + 1]), variant)
            terms = [(a_t / a_s, x)]
            terms += [(a_t * float(c), eps_hist[-1 - j]) for j, c in enumerate(coef)]
            x_next = lincomb(terms)
        ctx.report(i, x, x_next, d0, order=p)
        x = x_next
    return _finish(ctx, x, denoise_to_zero)

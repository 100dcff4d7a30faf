r"""Heavy-ball (HB) and generalized heavy-ball (GHVB) momentum for diffusion samplers.

Wizadwongsa, Chinchuthakun, Khungurn, Raj and Suwajanakorn, "Diffusion
Sampling with Momentum for Mitigating Divergence Artifacts", sections 4-5 and
the authors' ``PLMSWithHBScheduler`` / ``GHVBScheduler`` /
``MomentumDPMSolverMultistepScheduler``. In VE coordinates
:math:`\hat x = x/\alpha`, :math:`\rho = \sigma/\alpha`, with
:math:`\Delta\rho_n = \rho_{n+1} - \rho_n`:

.. math:: x_{n+1} = \alpha_{n+1}\Big[\frac{x_n}{\alpha_n} + \Delta\rho_n\,u_n\Big]

- **PLMS** (:math:`\beta = 1`): :math:`u_n = \mathrm{AB}_k(\varepsilon_n, \dots)`, the
  constant-coefficient Adams-Bashforth combination of order
  :math:`k' = \min(k, n + 1)` (pseudo linear multistep, as PNDM);
- **HB**: :math:`v_n = (1-\beta)v_{n-1} + \beta\,\mathrm{AB}_k(\varepsilon)`,
  :math:`u_n = v_n` (:math:`v_{-1} = \varepsilon_0`); first order for
  :math:`\beta < 1` (the paper's theorem);
- **GHVB**: :math:`v_n = (1-\beta)v_{n-1} + \beta\varepsilon_n`,
  :math:`u_n = \mathrm{AB}^{\beta}_k(v_n, v_{n-1}, \dots)/\beta` with the
  coefficients :math:`((2+\beta), -(2-\beta))/2` (:math:`k = 2`),
  :math:`(18 + 5\beta, -(24 - 8\beta), 6 - \beta)/12` (:math:`k = 3`), ...; it
  is AB-k at :math:`\beta = 1`.

``sample_dpmpp_2m_hb`` is DPM-Solver++(2M) with HB on the bracket
:math:`D_0 + \tfrac12 D^{(1)}` (``MomentumDPMSolverMultistepScheduler``).
"""

from __future__ import annotations

import math

from ..._validation import check_real
from ._base import SolverContext, check_choice, check_order, lincomb
from .dpm_solver import _check_enough_steps, _finish, _first_order, multistep_orders

__all__ = ["sample_plms", "sample_hb", "sample_ghvb", "sample_dpmpp_2m_hb",
           "adams_bashforth_coefficients"]

METHODS = ("plms", "hb", "ghvb")


def adams_bashforth_coefficients(order: int, beta: float = 1.0):
    """The generalized Adams-Bashforth weights :math:`c_j(\\beta)`, newest first, divided by
    :math:`\\beta` (the authors' ``AdamBmixer``); :math:`\\beta = 1` gives AB-k."""
    b = beta
    table = {
        1: [b],
        2: [(2 + b) / 2, -(2 - b) / 2],
        3: [(18 + 5 * b) / 12, -(24 - 8 * b) / 12, (6 - b) / 12],
        4: [(46 + 9 * b) / 24, -(78 - 19 * b) / 24, (42 - 5 * b) / 24, -(10 - b) / 24],
        5: [(1650 + 251 * b) / 720, -(3420 - 646 * b) / 720, (2880 - 264 * b) / 720,
            -(1380 - 106 * b) / 720, (270 - 19 * b) / 720],
    }
    if order not in table:
        raise ValueError(f"order: must be 1..5 (got {order})")
    return [c / b for c in table[order]]


def _momentum_loop(ctx, grid, order, beta, method, denoise_to_zero):
    rho = [float(v) for v in grid.sigma_ve]
    x = ctx.x_T
    hist: list = []
    vel = None
    for i in range(grid.n_steps):
        x = ctx.m(x)  # concrete state (fused mode keeps combinations lazy)
        t_s, a_s, s_s, _ = ctx.point(i)
        _, a_t, _, _ = ctx.point(i + 1)
        raw = ctx.raw(x, t_s)
        eps = ctx.to_noise(raw, x, a_s, s_s)
        d0 = ctx.to_data(raw, x, a_s, s_s)
        if vel is None:
            vel = eps
        # the velocity is carried from step to step: concrete (ctx.m), so that a fused
        # combination does not grow with every step it has averaged
        if method == "ghvb":
            vel = ctx.m(lincomb([(1.0 - beta, vel), (beta, eps)])) if beta != 1.0 else eps
            hist = (hist + [vel])[-order:]
            coef = adams_bashforth_coefficients(len(hist), beta)
            update = lincomb([(c, hist[-1 - j]) for j, c in enumerate(coef)])
        else:
            hist = (hist + [eps])[-order:]
            coef = adams_bashforth_coefficients(len(hist), 1.0)
            prime = lincomb([(c, hist[-1 - j]) for j, c in enumerate(coef)])
            vel = ctx.m(lincomb([(1.0 - beta, vel), (beta, prime)])) if beta != 1.0 else prime
            update = vel
        if grid.step_into_zero(i):
            x_next = d0
        else:
            x_next = lincomb([(a_t / a_s, x), (a_t * (rho[i + 1] - rho[i]), update)])
        ctx.report(i, x, x_next, d0, order=len(hist))
        x = x_next
    return _finish(ctx, x, denoise_to_zero)


def sample_plms(model, x_T, grid, *, prediction=None, generator=None, order: int = 4, callback=None,
                denoise_to_zero: bool = False):
    """PLMS / Adams-Bashforth-k in :math:`\\rho` with constant coefficients (PNDM's pseudo
    linear multistep; the high-order baseline of the momentum paper)."""
    order = check_order("order", order, low=1, high=5)
    ctx = SolverContext(model, x_T, grid, prediction, callback)
    _check_enough_steps(grid, order)
    return _momentum_loop(ctx, grid, order, 1.0, "plms", denoise_to_zero)


def sample_hb(model, x_T, grid, *, prediction=None, generator=None,
              order: int = 4, beta: float = 0.8,
              callback=None, denoise_to_zero: bool = False):
    """PLMS-k with Polyak's heavy-ball momentum :math:`\\beta \\in (0, 1]` (HB; first order
    for :math:`\\beta < 1`)."""
    order = check_order("order", order, low=1, high=5)
    beta = check_real("beta", beta, low=0.0, high=1.0, low_open=True)
    ctx = SolverContext(model, x_T, grid, prediction, callback)
    _check_enough_steps(grid, order)
    return _momentum_loop(ctx, grid, order, beta, "hb", denoise_to_zero)


def sample_ghvb(model, x_T, grid, *, prediction=None, generator=None,
                order: int = 4, beta: float = 0.8,
                callback=None, denoise_to_zero: bool = False):
    """Generalized heavy ball (GHVB) of order k and momentum :math:`\\beta \\in (0, 1]`
    (the authors call it "GHVB (k - 1 + beta)")."""
    order = check_order("order", order, low=1, high=5)
    beta = check_real("beta", beta, low=0.0, high=1.0, low_open=True)
    ctx = SolverContext(model, x_T, grid, prediction, callback)
    _check_enough_steps(grid, order)
    return _momentum_loop(ctx, grid, order, beta, "ghvb", denoise_to_zero)


def sample_dpmpp_2m_hb(model, x_T, grid, *, prediction=None, generator=None, beta: float = 0.8,
                       lower_order_final: bool = True, callback=None,
                       denoise_to_zero: bool = False):
    """DPM-Solver++(2M) with heavy-ball momentum on :math:`D_0 + \\tfrac12 D^{(1)}`.

    .. math:: v_n = (1 - \\beta)v_{n-1} + \\beta\\big(D_0 + \\tfrac12 D^{(1)}\\big),\\quad
              x_{n+1} = \\frac{\\sigma_{n+1}}{\\sigma_n}x_n - \\alpha_{n+1}(e^{-h} - 1)\\,v_n

    (the first second-order step sets :math:`v`; first-order steps are unchanged).
    """
    beta = check_real("beta", beta, low=0.0, high=1.0, low_open=True)
    ctx = SolverContext(model, x_T, grid, prediction, callback)
    _check_enough_steps(grid, 2)
    orders = multistep_orders(grid.n_steps, 2, bool(lower_order_final), grid.ends_at_zero)
    x = ctx.x_T
    hist: list = []
    lams: list = []
    vel = None
    for i in range(grid.n_steps):
        x = ctx.m(x)  # concrete state (fused mode keeps combinations lazy)
        s_pt, t_pt = ctx.point(i), ctx.point(i + 1)
        m0 = ctx.data(x, s_pt[0], s_pt[1], s_pt[2])
        hist = (hist + [m0])[-2:]
        lams = (lams + [s_pt[3]])[-2:]
        if grid.step_into_zero(i):
            x_next = m0
        elif orders[i] == 1:
            x_next = _first_order(ctx, x, m0, s_pt, t_pt, True)
        else:
            h = t_pt[3] - s_pt[3]
            r0 = (lams[-1] - lams[-2]) / h
            diff = lincomb([(1.0 + 0.5 / r0, hist[-1]), (-0.5 / r0, hist[-2])])
            vel = diff if vel is None else ctx.m(lincomb([(1.0 - beta, vel), (beta, diff)]))
            x_next = lincomb([(t_pt[2] / s_pt[2], x), (-t_pt[1] * math.expm1(-h), vel)])
        ctx.report(i, x, x_next, m0, order=orders[i])
        x = x_next
    return _finish(ctx, x, denoise_to_zero)


def sample_momentum(model, x_T, grid, *, method: str = "hb", **options):
    """Dispatch to :func:`sample_plms`, :func:`sample_hb` or :func:`sample_ghvb` by ``method``."""
    method = check_choice("method", method, METHODS)
    fn = {"plms": sample_plms, "hb": sample_hb, "ghvb": sample_ghvb}[method]
    return fn(model, x_T, grid, **options)

r"""UniPC: the unified predictor (UniP-p) and corrector (UniC-p), B(h) variants bh1 and bh2.

Zhao, Bai, Rao, Zhou and Lu, "UniPC: A Unified Predictor-Corrector Framework
for Fast Sampling of Diffusion Models", Algorithms 1-3 (B(h) forms), as in
diffusers' ``UniPCMultistepScheduler`` and the authors' ``uni_pc.py``.

In data prediction (:math:`\hat h = -h`; noise prediction: :math:`\hat h = h`,
:math:`\sigma_t \leftrightarrow \alpha_t`), with the previous points
:math:`r_k = (\lambda_{s_k} - \lambda_{s_0})/h` and :math:`D_k = (m_{s_k} - m_{s_0})/r_k`:

.. math::

    x_t = \frac{\sigma_t}{\sigma_{s_0}}x_{s_0} - \alpha_t(e^{\hat h} - 1)m_{s_0}
          - \alpha_t B(h)\sum_k \rho_k D_k,\qquad
    R\rho = b,\; R_{ik} = r_k^{\,i-1},\; b_i = \hat h\,\varphi_{i+1}(\hat h)\,i!/B(h)

with :math:`B(h) = \hat h` (bh1) or :math:`e^{\hat h} - 1` (bh2). The predictor
of order :math:`p` uses :math:`p - 1` previous points (and :math:`\rho = 1/2` at
:math:`p = 2`, the reference's simplification); the corrector of order
:math:`p` adds the new point :math:`r_p = 1` with :math:`D_p = m_t - m_{s_0}` and
reuses the model evaluation at the *predicted* point (no extra evaluation;
:math:`\rho = 1/2` at :math:`p = 1`). The corrected state continues the
trajectory; the last step is predictor only. UniP-p has order p, UniPC-p
order p + 1.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import SolverContext, check_choice, check_order, lincomb, phi
from .dpm_solver import _check_enough_steps, _finish, _first_order, multistep_orders

__all__ = ["sample_unipc", "unipc_coefficients"]

VARIANTS = ("bh1", "bh2")


def unipc_coefficients(rks, h: float, order: int, variant: str = "bh2", data: bool = True,
                       corrector: bool = False):
    """The weights :math:`\\rho` and :math:`B(h)` of one UniP (``corrector=False``) or UniC step.

    Parameters
    ----------
    rks : sequence of float
        :math:`r_1..r_{p-1}` (previous points, negative) for the predictor of
        order :math:`p = ` ``order``; the corrector of order ``order`` uses
        the same previous points and appends :math:`r = 1`.
    h : float
        :math:`\\lambda_t - \\lambda_{s_0} > 0`.

    Returns
    -------
    rho : (p - 1,) or (p,) array
    B : float
    """
    hh = -h if data else h
    big_b = hh if variant == "bh1" else math.expm1(hh)
    rks = list(rks) + [1.0]
    b = np.array([hh * phi(hh, i + 1) * math.factorial(i) / big_b for i in range(1, order + 1)])
    r = np.array([[rk ** (i - 1) for rk in rks] for i in range(1, order + 1)])
    if not corrector:
        if order == 1:
            return np.zeros(0), big_b
        if order == 2:
            return np.array([0.5]), big_b
        return np.linalg.solve(r[:-1, :-1], b[:-1]), big_b
    if order == 1:
        return np.array([0.5]), big_b
    return np.linalg.solve(r, b), big_b


def _unipc_update(x_s, m_hist, lams, pt_s, pt_t, order, variant, data, model_t=None):
    """Predictor (``model_t`` None) or corrector update from ``pt_s`` to ``pt_t``.

    ``m_hist`` and ``lams`` end with the point :math:`s_0` (newest last).
    """
    _, a_s, sig_s, lam_s = pt_s
    _, a_t, sig_t, lam_t = pt_t
    h = lam_t - lam_s
    m0 = m_hist[-1]
    k_prev = order - 1
    rks = [(lams[-1 - k] - lam_s) / h for k in range(1, k_prev + 1)]
    d1s = [lincomb([(1.0 / rk, m_hist[-1 - k]), (-1.0 / rk, m0)])
           for k, rk in zip(range(1, k_prev + 1), rks)]
    rho, big_b = unipc_coefficients(rks, h, order, variant, data, corrector=model_t is not None)
    if data:
        hh, lead, scale = -h, sig_t / sig_s, a_t
    else:
        hh, lead, scale = h, a_t / a_s, sig_t
    terms = [(lead, x_s), (-scale * math.expm1(hh), m0)]
    for r_k, d_k in zip(rho[:len(d1s)], d1s):
        terms.append((-scale * big_b * float(r_k), d_k))
    if model_t is not None:
        c = -scale * big_b * float(rho[-1])
        terms += [(c, model_t), (-c, m0)]
    return lincomb(terms)


def sample_unipc(model, x_T, grid, *, prediction=None, generator=None,
                 order: int = 2, variant: str = "bh2",
                 corrector: bool = True, disable_corrector=(), predict_x0: bool = True,
                 lower_order_final: bool = True, callback=None,
                 denoise_to_zero: bool = False):
    """UniPC (UniP-p with UniC-p), any order, bh1 or bh2, corrector on or off.

    Parameters
    ----------
    order : int >= 1
        Predictor order :math:`p` (diffusers' ``solver_order``).
    variant : {"bh1", "bh2"}
        :math:`B(h) = \\hat h` or :math:`e^{\\hat h} - 1`.
    corrector : bool
        UniC after every step but the last (False: UniP alone).
    disable_corrector : sequence of int
        Step indices whose result is not corrected (diffusers' ``disable_corrector``).
    predict_x0 : bool
        Data prediction (True) or noise prediction.
    lower_order_final : bool
        Orders :math:`\\min(p, N - i)` (UniPC and diffusers do this at any number of steps).

    Raises
    ------
    ValueError
        Fewer steps than ``order``, unknown ``variant`` or prediction.
    """
    order = check_order("order", order, low=1)
    variant = check_choice("variant", variant, VARIANTS)
    disabled = {int(i) for i in disable_corrector}
    ctx = SolverContext(model, x_T, grid, prediction, callback)
    _check_enough_steps(grid, order)
    data = bool(predict_x0)
    orders = multistep_orders(grid.n_steps, order, bool(lower_order_final), grid.ends_at_zero)
    x = ctx.x_T
    m_hist: list = []
    lams: list = []
    last_x, last_order = None, None
    for i in range(grid.n_steps):
        x = ctx.m(x)  # concrete state (fused mode keeps combinations lazy)
        pt_s, pt_t = ctx.point(i), ctx.point(i + 1)
        raw = ctx.raw(x, pt_s[0])
        m = (ctx.to_data if data else ctx.to_noise)(raw, x, pt_s[1], pt_s[2])
        d_here = m if data else ctx.to_data(raw, x, pt_s[1], pt_s[2])
        x_pred = x
        if corrector and i > 0 and (i - 1) not in disabled:
            # concrete: the corrected state is the base of the next steps (kept lazy, every
            # later combination would carry all earlier ones: 2i terms at step i)
            x = ctx.m(_unipc_update(last_x, m_hist, lams, ctx.point(i - 1), pt_s, last_order,
                                    variant, data, model_t=m))
        m_hist = (m_hist + [m])[-order:]
        lams = (lams + [pt_s[3]])[-order:]
        p = orders[i]
        last_x, last_order = x, p
        if grid.step_into_zero(i):
            # the limit h -> inf of the first-order update (from the corrected state)
            x_next = _first_order(ctx, x, m, pt_s, pt_t, data)
        else:
            x_next = _unipc_update(x, m_hist, lams, pt_s, pt_t, p, variant, data)
        ctx.report(i, x, x_next, d_here, order=p, x_predicted=x_pred)
        x = x_next
    return _finish(ctx, x, denoise_to_zero)

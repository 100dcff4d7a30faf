r"""DDIM, DPM-Solver-1/2/3 (single-step), DPM-Solver(++) multistep 2M/3M, SDE-DPM-Solver++.

All are exponential integrators of the probability-flow ODE written in the
log-SNR :math:`\lambda = \log(\alpha/\sigma)`, step :math:`h = \lambda_t - \lambda_s`,
with :math:`\varphi_1(h) = (e^h - 1)/h`, :math:`\varphi_{k+1}(h) = (\varphi_k(h) - 1/k!)/h`.

Data prediction ("DPM-Solver++", :math:`D = \hat x_0`):

.. math:: x_t = \frac{\sigma_t}{\sigma_s}x_s + \alpha_t h\big[\varphi_1(-h)D_0
          + \varphi_2(-h)D^{(1)} + \varphi_3(-h)D^{(2)}\big]

Noise prediction ("DPM-Solver", :math:`\hat\varepsilon`):

.. math:: x_t = \frac{\alpha_t}{\alpha_s}x_s - \sigma_t h\big[\varphi_1(h)\varepsilon_0
          + \varphi_2(h)\varepsilon^{(1)} + \varphi_3(h)\varepsilon^{(2)}\big]

with :math:`D^{(1)} \approx h\,m'` and :math:`D^{(2)} \approx h^2 m''` built from
divided differences of the stored predictions (the "heun"/Taylor form); the
"midpoint" form of second order uses :math:`\tfrac12\varphi_1` in place of
:math:`\varphi_2`. The published multistep third-order update computes
:math:`D^{(2)} \approx \tfrac12 h^2 m''` and pairs it with :math:`\varphi_3`, which
makes it second order; ``third_order="taylor"`` (default) uses
:math:`2\varphi_3` and is third order, ``"reference"`` reproduces the libraries
(see :func:`sample_dpm_solver_multistep`) (Lu et al., "DPM-Solver",
Algorithms 1-2 and eq. 3.6; "DPM-Solver++", Algorithms 1-2 and eqs. 8-9;
diffusers' ``DPMSolverMultistepScheduler`` and ``DPMSolverSinglestepScheduler``).
The coefficients use a series for small :math:`|h|` (no cancellation), so they
agree with the libraries' ``exp(-h) - 1`` forms to rounding and are more
accurate on fine grids.

A step into zero noise is the denoising step :math:`x_N = \hat x_0(x_{N-1})`
(first order; it is the limit :math:`h \to \infty` of the first-order step).
"""

from __future__ import annotations

import math

from ..._validation import check_real
from ._base import SolverContext, check_choice, check_order, lincomb, phi

__all__ = [
    "sample_ddim",
    "sample_dpm_solver",
    "sample_dpm_solver_singlestep",
    "sample_dpmpp_2s",
    "sample_dpm_solver_multistep",
    "sample_dpmpp_2m",
    "sample_dpmpp_3m",
    "sample_sde_dpmpp",
    "dpm_solver_fast_orders",
    "multistep_orders",
]

ALGORITHMS = ("dpmsolver++", "dpmsolver")
SOLVER_TYPES = ("midpoint", "heun")


# ---------------------------------------------------------------------- shared pieces
def _first_order(ctx, x, m0, s_pt, t_pt, data: bool):
    """One first-order step from point ``s_pt`` to ``t_pt`` (tuples (t, a, s, lam))."""
    _, a_s, sig_s, lam_s = s_pt
    _, a_t, sig_t, lam_t = t_pt
    h = lam_t - lam_s
    if data:
        return lincomb([(sig_t / sig_s, x), (-a_t * math.expm1(-h), m0)])
    # sigma_t (e^h - 1) = alpha_t rho_s (1 - e^{-h}): finite as h -> inf
    return lincomb([(a_t / a_s, x), (a_t * (sig_s / a_s) * math.expm1(-h), m0)])


def _higher_terms(x, m0, d1, d2, s_pt, t_pt, data: bool, c1: str, d2_factor: float = 1.0):
    """:math:`x_t` with first and second divided differences ``d1``, ``d2`` (``d2`` may be None).

    ``c1`` chooses the coefficient of ``d1``: ``"midpoint"`` (:math:`\\tfrac12\\varphi_1`)
    or ``"heun"`` (:math:`\\varphi_2`).
    """
    _, a_s, sig_s, lam_s = s_pt
    _, a_t, sig_t, lam_t = t_pt
    h = lam_t - lam_s
    if data:
        scale, hh, ratio = a_t * h, -h, sig_t / sig_s
    else:
        scale, hh, ratio = -sig_t * h, h, a_t / a_s
    p1 = phi(hh, 1)
    k1 = 0.5 * p1 if c1 == "midpoint" else phi(hh, 2)
    terms = [(ratio, x), (scale * p1, m0), (scale * k1, d1)]
    if d2 is not None:
        terms.append((scale * d2_factor * phi(hh, 3), d2))
    return lincomb(terms)


def _denoise_to_zero(ctx, x, i):
    """The step from grid point ``i`` into zero noise: :math:`x_N = \\alpha_N\\hat x_0(x_i)`."""
    t, a, s, _ = ctx.point(i)
    d = ctx.data(x, t, a, s)
    return d, d  # alpha_N = 1 at zero noise


def _finish(ctx, x, denoise_to_zero: bool):
    if denoise_to_zero and not ctx.grid.ends_at_zero:
        t, a, s, _ = ctx.point(ctx.grid.n_steps)
        x = ctx.data(x, t, a, s)
    return ctx.finish(x)


def multistep_orders(n_steps: int, order: int, lower_order_final: bool = True,
                     ends_at_zero: bool = False) -> list[int]:
    """The order of every step of a multistep solver.

    .. math:: p_i = \\min(p,\\; i + 1,\\; N - i \\text{ if lower\\_order\\_final})

    (warm-up with lower orders while the history fills; the original
    DPM-Solver and UniPC rule for the final steps), and :math:`p_{N-1} = 1`
    when the last step goes into zero noise.
    """
    orders = []
    for i in range(n_steps):
        p = min(order, i + 1)
        if lower_order_final:
            p = min(p, n_steps - i)
        orders.append(p)
    if ends_at_zero and orders:
        orders[-1] = 1
    return orders


def _check_enough_steps(grid, order, name="grid"):
    if grid.n_steps < order:
        raise ValueError(f"{name}: order {order} needs at least {order} steps (NFE >= {order}); "
                         f"got {grid.n_steps} step(s)")


# ---------------------------------------------------------------------- DDIM
def sample_ddim(model, x_T, grid, *, prediction=None, eta: float = 0.0, generator=None,
                noise=None, callback=None, denoise_to_zero: bool = False):
    """DDIM (Song, Meng and Ermon, "Denoising Diffusion Implicit Models", eq. 12).

    .. math:: x_t = \\alpha_t\\hat x_0 + \\sqrt{\\sigma_t^2 - c^2}\\,\\hat\\varepsilon + c z,
              \\quad c = \\eta\\,\\sigma_t\\sqrt{1 - e^{-2h}}

    (for VP schedules :math:`c^2 = \\eta^2\\frac{\\sigma_t^2}{\\sigma_s^2}(1 -
    \\frac{\\alpha_s^2}{\\alpha_t^2})`, DDIM's :math:`\\sigma_t(\\eta)`). With
    :math:`\\eta = 0` it is DPM-Solver-1 = DPM-Solver++(1) = Euler in the VE noise level.

    Parameters
    ----------
    model, x_T, grid, prediction, callback
        See :mod:`toytheory.diffusion.solvers`.
    eta : float in [0, 1]
    generator : numpy Generator / seed, or torch.Generator
        For :math:`z` when ``eta > 0``.
    noise : array, optional
        The draws :math:`z` explicitly, (N, n, d) or (n, N d) (for
        :func:`~toytheory.diffusion.affine.affine_map_of`).
    denoise_to_zero : bool
        After the last grid point (if it has noise), return :math:`\\hat x_0` (one more NFE).

    Returns
    -------
    (n, d) array or tensor
    """
    eta = check_real("eta", eta, low=0.0, high=1.0)
    ctx = SolverContext(model, x_T, grid, prediction, callback)
    draws = ctx.noise_source(generator, noise, grid.n_steps) if eta > 0 else None
    x = ctx.x_T
    for i in range(grid.n_steps):
        x = ctx.m(x)  # concrete state (fused mode keeps combinations lazy)
        t_s, a_s, s_s, lam_s = ctx.point(i)
        _, a_t, s_t, lam_t = ctx.point(i + 1)
        raw = ctx.raw(x, t_s)
        d0 = ctx.to_data(raw, x, a_s, s_s)
        if grid.step_into_zero(i):
            x_next = d0
        else:
            e0 = ctx.to_noise(raw, x, a_s, s_s)
            c = eta * s_t * math.sqrt(-math.expm1(-2.0 * (lam_t - lam_s)))
            terms = [(a_t, d0), (math.sqrt(max(s_t * s_t - c * c, 0.0)), e0)]
            if c > 0:
                terms.append((c, draws(i)))
            x_next = lincomb(terms)
        ctx.report(i, x, x_next, d0)
        x = x_next
    return _finish(ctx, x, denoise_to_zero)


# ---------------------------------------------------------------------- single step
def dpm_solver_fast_orders(nfe: int, order: int = 3, final_zero: bool = False) -> list[int]:
    """The orders of DPM-Solver-fast's single steps for a budget of ``nfe`` evaluations.

    "DPM-Solver", Appendix D.1: with :math:`K = \\lfloor NFE/3\\rfloor + 1`,
    orders :math:`[3]\\times(K-2) + [2, 1]` when NFE is a multiple of 3,
    :math:`[3]\\times(K-1) + [1]` when NFE = 3n + 1 and :math:`[3]\\times(K-1) + [2]`
    when NFE = 3n - 1 (order 2: :math:`[2]\\times K` or :math:`[2]\\times(K-1) + [1]`).
    With ``final_zero`` the last step (into zero noise) must be first order:
    a final order-2 step is split into ``[1, 1]`` (this is the case diffusers'
    ``DPMSolverSinglestepScheduler`` got wrong for 3n - 1 steps, issue #9007:
    a second-order update into :math:`\\sigma = 0` gives NaN).

    The grid for ``sample_dpm_solver_singlestep(..., orders=...)`` then has
    ``sum(orders) = nfe`` steps.
    """
    nfe = check_order("nfe", nfe, low=1)
    order = check_order("order", order, low=1, high=3)
    if order == 3:
        if nfe < 3:
            raise ValueError(f"nfe: order 3 needs at least 3 evaluations (got {nfe})")
        k = nfe // 3 + 1
        if nfe % 3 == 0:
            orders = [3] * (k - 2) + [2, 1]
        elif nfe % 3 == 1:
            orders = [3] * (k - 1) + [1]
        else:
            orders = [3] * (k - 1) + [2]
    elif order == 2:
        if nfe < 2:
            raise ValueError(f"nfe: order 2 needs at least 2 evaluations (got {nfe})")
        orders = [2] * (nfe // 2) + ([1] if nfe % 2 else [])
    else:
        orders = [1] * nfe
    if final_zero and orders[-1] > 1:
        last = orders.pop()
        orders += [last - 1, 1] if last == 2 else [2, 1]
    return orders


def _single_step(ctx, x, i0, order, data, solver_type, stage_type):
    """One single-step of ``order`` from grid point ``i0`` to ``i0 + order``.

    The stages sit at the grid points in between (the reference libraries'
    convention: :math:`r_j = (\\lambda_{i_0 + j} - \\lambda_{i_0})/h`).
    """
    pts = [ctx.point(i0 + j) for j in range(order + 1)]
    s_pt, t_pt = pts[0], pts[-1]
    raw0 = ctx.raw(x, s_pt[0])
    convert = ctx.to_data if data else ctx.to_noise
    m0 = convert(raw0, x, s_pt[1], s_pt[2])
    d0 = m0 if data else ctx.to_data(raw0, x, s_pt[1], s_pt[2])
    if order == 1:
        return _first_order(ctx, x, m0, s_pt, t_pt, data), d0
    lam0 = s_pt[3]
    h = t_pt[3] - lam0
    x1 = _first_order(ctx, x, m0, s_pt, pts[1], data)
    m1 = convert(ctx.raw(x1, pts[1][0]), x1, pts[1][1], pts[1][2])
    r1 = (pts[1][3] - lam0) / h
    if order == 2:
        d1 = lincomb([(1.0 / r1, m1), (-1.0 / r1, m0)])
        return _higher_terms(x, m0, d1, None, s_pt, t_pt, data, solver_type), d0
    # order 3: second-order stage to the second intermediate point
    h2 = pts[2][3] - lam0
    r1_in_2 = (pts[1][3] - lam0) / h2
    d1_stage = lincomb([(1.0 / r1_in_2, m1), (-1.0 / r1_in_2, m0)])
    x2 = _higher_terms(x, m0, d1_stage, None, s_pt, pts[2], data, stage_type)
    m2 = convert(ctx.raw(x2, pts[2][0]), x2, pts[2][1], pts[2][2])
    r2 = (pts[2][3] - lam0) / h
    d1_0 = lincomb([(1.0 / r1, m1), (-1.0 / r1, m0)])
    d1_1 = lincomb([(1.0 / r2, m2), (-1.0 / r2, m0)])
    if solver_type == "midpoint":
        # the paper's DPM-Solver-3 final step: phi_2 times (m2 - m0)/r2
        return _higher_terms(x, m0, d1_1, None, s_pt, t_pt, data, "heun"), d0
    d1 = lincomb([(r2 / (r2 - r1), d1_0), (-r1 / (r2 - r1), d1_1)])
    d2 = lincomb([(2.0 / (r2 - r1), d1_1), (-2.0 / (r2 - r1), d1_0)])
    return _higher_terms(x, m0, d1, d2, s_pt, t_pt, data, "heun"), d0


def sample_dpm_solver_singlestep(model, x_T, grid, *, prediction=None, generator=None,
                                 order: int = 2,
                                 orders=None, algorithm: str = "dpmsolver++",
                                 solver_type: str = "midpoint", stage_solver_type=None,
                                 callback=None, denoise_to_zero: bool = False):
    """Single-step DPM-Solver / DPM-Solver++ of orders 1-3.

    The grid holds one point per model evaluation; consecutive groups of
    ``orders[k]`` steps form one single step of that order, whose stages sit at
    the grid points inside the group (so a uniform log-SNR grid gives the
    paper's :math:`r_1 = 1/2` and :math:`r_1, r_2 = 1/3, 2/3`). NFE = number of
    grid steps (plus one with ``denoise_to_zero``).

    Parameters
    ----------
    order : {1, 2, 3}
        Used when ``orders`` is None: every group has this order, and the number
        of steps must be a multiple of it (else pass ``orders``, e.g. from
        :func:`dpm_solver_fast_orders`).
    orders : sequence of int, optional
        Per-group orders; they must sum to the number of grid steps, and a
        group that ends at zero noise must be first order.
    algorithm : {"dpmsolver++", "dpmsolver"}
        Data prediction (DPM-Solver++, e.g. "2S") or noise prediction (DPM-Solver).
    solver_type : {"midpoint", "heun"}
        Form of the final update (diffusers' names; "heun" is the original
        code's "taylor").
    stage_solver_type : {"midpoint", "heun"}, optional
        Form of the second-order stage of an order-3 step (default: ``solver_type``,
        as diffusers; the paper's DPM-Solver-3 uses "heun" here).

    Raises
    ------
    ValueError
        ``orders`` that do not fit the grid, an order > 1 into zero noise, an
        unknown ``algorithm`` / ``solver_type`` / prediction.
    """
    algorithm = check_choice("algorithm", algorithm, ALGORITHMS)
    solver_type = check_choice("solver_type", solver_type, SOLVER_TYPES)
    stage_type = check_choice("stage_solver_type",
                              solver_type if stage_solver_type is None else stage_solver_type,
                              SOLVER_TYPES)
    ctx = SolverContext(model, x_T, grid, prediction, callback)
    if orders is None:
        order = check_order("order", order, low=1, high=3)
        if grid.n_steps % order:
            raise ValueError(f"grid: single-step order {order} needs a multiple of {order} steps "
                             f"(got {grid.n_steps}); pass orders= (see dpm_solver_fast_orders)")
        orders = [order] * (grid.n_steps // order)
        if grid.ends_at_zero and order > 1:
            orders[-1:] = [order - 1, 1] if order == 2 else [2, 1]
            orders = [o for o in orders if o > 0]
    else:
        orders = [check_order("orders", o, low=1, high=3) for o in orders]
        if sum(orders) != grid.n_steps:
            raise ValueError(f"orders: must sum to the number of grid steps {grid.n_steps} "
                             f"(got {sum(orders)})")
        if grid.ends_at_zero and orders[-1] != 1:
            raise ValueError("orders: the last group ends at zero noise and must be first order "
                             f"(got {orders[-1]}); a higher order needs a finite h there")
    data = algorithm == "dpmsolver++"
    x = ctx.x_T
    i0 = 0
    for p in orders:
        x = ctx.m(x)  # concrete state (fused mode keeps combinations lazy)
        if grid.step_into_zero(i0 + p - 1):
            x_next, d0 = _denoise_to_zero(ctx, x, i0)
        else:
            x_next, d0 = _single_step(ctx, x, i0, p, data, solver_type, stage_type)
        if ctx.callback is not None:
            t, _, _, _ = ctx.point(i0)
            t_next, _, _, _ = ctx.point(i0 + p)
            ctx.callback({"i": i0, "t": t, "t_next": t_next, "x": ctx.m(x),
                          "denoised": ctx.m(d0), "x_next": ctx.m(x_next), "order": p})
        x = x_next
        i0 += p
    return _finish(ctx, x, denoise_to_zero)


def sample_dpm_solver(model, x_T, grid, *, order: int = 3, **options):
    """DPM-Solver-1/2/3 (single-step, noise prediction; Lu et al., Algorithms 1-2).

    Order 3 uses the paper's stage (Taylor form) and final update (midpoint
    form with :math:`(\\varepsilon_{s_2} - \\varepsilon_s)/r_2`). See
    :func:`sample_dpm_solver_singlestep` for the options.
    """
    options.setdefault("algorithm", "dpmsolver")
    options.setdefault("solver_type", "midpoint")
    options.setdefault("stage_solver_type", "heun")
    return sample_dpm_solver_singlestep(model, x_T, grid, order=order, **options)


def sample_dpmpp_2s(model, x_T, grid, **options):
    """DPM-Solver++(2S): single-step, second order, data prediction ("DPM-Solver++",
    Algorithm 1). The grid has two steps per single step (its middle point is
    the stage)."""
    options.setdefault("algorithm", "dpmsolver++")
    options.setdefault("solver_type", "midpoint")
    return sample_dpm_solver_singlestep(model, x_T, grid, order=2, **options)


# ---------------------------------------------------------------------- multistep
def sample_dpm_solver_multistep(model, x_T, grid, *, prediction=None, generator=None,
                                order: int = 2,
                                algorithm: str = "dpmsolver++", solver_type: str = "midpoint",
                                lower_order_final: bool = True, third_order: str = "taylor",
                                callback=None, denoise_to_zero: bool = False):
    """Multistep DPM-Solver / DPM-Solver++ of orders 1-3 (2M, 3M).

    One model evaluation per step; step :math:`i` has order
    :func:`multistep_orders` (warm-up, lower order final steps, first order into
    zero noise). With :math:`r_0 = h_{i-1}/h_i`, :math:`r_1 = h_{i-2}/h_i`:

    .. math:: D^{(1)} = \\frac{m_0 - m_1}{r_0}\\;(\\text{2M}),\\qquad
              D^{(1)} = D_0' + \\tfrac{r_0}{r_0 + r_1}(D_0' - D_1'),\\;
              D^{(2)} = \\frac{D_0' - D_1'}{r_0 + r_1}\\;(\\text{3M})

    with :math:`D_0' = (m_0 - m_1)/r_0`, :math:`D_1' = (m_1 - m_2)/r_1`
    ("DPM-Solver++", Algorithm 2 and Appendix; diffusers'
    ``multistep_dpm_solver_{second,third}_order_update``). Third order always
    uses the Taylor ("heun") coefficients, as the reference code does.

    Parameters
    ----------
    order : {1, 2, 3}
    algorithm : {"dpmsolver++", "dpmsolver"}
    solver_type : {"midpoint", "heun"}
        Second-order coefficient of :math:`D^{(1)}`: :math:`\\tfrac12\\varphi_1`
        or :math:`\\varphi_2`.
    lower_order_final : bool
        Order at most the number of steps left (at any number of steps;
        diffusers applies it below 15 steps, the original code below 10).
    third_order : {"taylor", "reference"}
        How the second divided difference enters the third-order step.
        :math:`D^{(2)} = (D_0' - D_1')/(r_0 + r_1)` approximates
        :math:`\\tfrac12 h^2 m''` (it is :math:`h^2` times the second divided
        difference), while the exponential integral of the interpolating
        quadratic needs :math:`2h\\varphi_3 D^{(2)}`. ``"taylor"`` (default) uses
        :math:`2\\varphi_3` and is third order; ``"reference"`` reproduces the
        published code (DPM-Solver, diffusers, k-diffusion's ``dpmpp_3m_sde``),
        which uses :math:`\\varphi_3` and is therefore only *second* order (its
        local error is :math:`O(h^3)`; measured exactly in the claims
        ``diffusion.solvers.order.dpmpp_3m*``).

    Raises
    ------
    ValueError
        Fewer steps than ``order`` ("too few NFE for the requested order").
    """
    order = check_order("order", order, low=1, high=3)
    algorithm = check_choice("algorithm", algorithm, ALGORITHMS)
    solver_type = check_choice("solver_type", solver_type, SOLVER_TYPES)
    d2_factor = {"taylor": 2.0, "reference": 1.0}[check_choice("third_order", third_order,
                                                                ("taylor", "reference"))]
    ctx = SolverContext(model, x_T, grid, prediction, callback)
    _check_enough_steps(grid, order)
    data = algorithm == "dpmsolver++"
    orders = multistep_orders(grid.n_steps, order, bool(lower_order_final), grid.ends_at_zero)
    x = ctx.x_T
    hist: list = []       # model outputs (data or noise), newest last
    lams: list = []
    for i in range(grid.n_steps):
        x = ctx.m(x)  # concrete state (fused mode keeps combinations lazy)
        s_pt, t_pt = ctx.point(i), ctx.point(i + 1)
        raw = ctx.raw(x, s_pt[0])
        m0 = (ctx.to_data if data else ctx.to_noise)(raw, x, s_pt[1], s_pt[2])
        d0 = m0 if data else ctx.to_data(raw, x, s_pt[1], s_pt[2])
        hist = (hist + [m0])[-3:]
        lams = (lams + [s_pt[3]])[-3:]
        p = orders[i]
        if grid.step_into_zero(i):
            x_next = d0
        elif p == 1:
            x_next = _first_order(ctx, x, m0, s_pt, t_pt, data)
        else:
            h = t_pt[3] - lams[-1]
            r0 = (lams[-1] - lams[-2]) / h
            d1_0 = lincomb([(1.0 / r0, hist[-1]), (-1.0 / r0, hist[-2])])
            if p == 2:
                x_next = _higher_terms(x, m0, d1_0, None, s_pt, t_pt, data, solver_type)
            else:
                r1 = (lams[-2] - lams[-3]) / h
                d1_1 = lincomb([(1.0 / r1, hist[-2]), (-1.0 / r1, hist[-3])])
                w = r0 / (r0 + r1)
                d1 = lincomb([(1.0 + w, d1_0), (-w, d1_1)])
                d2 = lincomb([(1.0 / (r0 + r1), d1_0), (-1.0 / (r0 + r1), d1_1)])
                x_next = _higher_terms(x, m0, d1, d2, s_pt, t_pt, data, "heun", d2_factor)
        ctx.report(i, x, x_next, d0, order=p)
        x = x_next
    return _finish(ctx, x, denoise_to_zero)


def sample_dpmpp_2m(model, x_T, grid, **options):
    """DPM-Solver++(2M) ("DPM-Solver++", Algorithm 2): multistep, data prediction, order 2."""
    options.setdefault("algorithm", "dpmsolver++")
    return sample_dpm_solver_multistep(model, x_T, grid, order=2, **options)


def sample_dpmpp_3m(model, x_T, grid, **options):
    """DPM-Solver++(3M): multistep, data prediction, order 3."""
    options.setdefault("algorithm", "dpmsolver++")
    return sample_dpm_solver_multistep(model, x_T, grid, order=3, **options)


# ---------------------------------------------------------------------- SDE
def sample_sde_dpmpp(model, x_T, grid, *, prediction=None, order: int = 2,
                     solver_type: str = "midpoint", lower_order_final: bool = True,
                     generator=None, noise=None, callback=None,
                     denoise_to_zero: bool = False):
    """SDE-DPM-Solver++ of order 1 or 2 (multistep), data prediction.

    .. math:: x_t = \\frac{\\sigma_t}{\\sigma_s}e^{-h}x_s + \\alpha_t(1 - e^{-2h})
              \\big(D_0 + c\\,D^{(1)}\\big) + \\sigma_t\\sqrt{1 - e^{-2h}}\\,z

    with :math:`c = \\tfrac12` (midpoint) or :math:`c(1 - e^{-2h}) = 1 -
    \\frac{1 - e^{-2h}}{2h}` (heun), :math:`D^{(1)} = (m_0 - m_1)/r_0`
    ("DPM-Solver++", section 4 and Appendix; diffusers' ``sde-dpmsolver++``).
    One standard normal draw per step that does not end at zero noise.

    Parameters
    ----------
    order : {1, 2}
    generator : numpy Generator / seed, or torch.Generator
    noise : array, optional
        Explicit draws, shape (K, n, d) or (n, K d) with K the number of
        noisy steps (for :func:`~toytheory.diffusion.affine.affine_map_of`).
    """
    order = check_order("order", order, low=1, high=2)
    solver_type = check_choice("solver_type", solver_type, SOLVER_TYPES)
    ctx = SolverContext(model, x_T, grid, prediction, callback)
    _check_enough_steps(grid, order)
    n_draws = grid.n_steps - (1 if grid.ends_at_zero else 0)
    draws = ctx.noise_source(generator, noise, n_draws)
    orders = multistep_orders(grid.n_steps, order, bool(lower_order_final), grid.ends_at_zero)
    x = ctx.x_T
    hist: list = []
    lams: list = []
    for i in range(grid.n_steps):
        x = ctx.m(x)  # concrete state (fused mode keeps combinations lazy)
        s_pt, t_pt = ctx.point(i), ctx.point(i + 1)
        m0 = ctx.data(x, s_pt[0], s_pt[1], s_pt[2])
        hist = (hist + [m0])[-2:]
        lams = (lams + [s_pt[3]])[-2:]
        if grid.step_into_zero(i):
            x_next = m0
        else:
            h = t_pt[3] - s_pt[3]
            one_m = -math.expm1(-2.0 * h)
            a_t, sig_t = t_pt[1], t_pt[2]
            terms = [(sig_t / s_pt[2] * math.exp(-h), x), (a_t * one_m, m0)]
            if orders[i] == 2:
                r0 = (lams[-1] - lams[-2]) / h
                d1 = lincomb([(1.0 / r0, hist[-1]), (-1.0 / r0, hist[-2])])
                c = 0.5 * one_m if solver_type == "midpoint" else 1.0 - one_m / (2.0 * h)
                terms.append((a_t * c, d1))
            terms.append((sig_t * math.sqrt(one_m), draws(i)))
            x_next = lincomb(terms)
        ctx.report(i, x, x_next, m0, order=orders[i])
        x = x_next
    return _finish(ctx, x, denoise_to_zero)

"""The released third-order multistep DPM-Solver(++) update is second order (library claims).

The released DPM-Solver code and diffusers' DPMSolverMultistepScheduler multiply
:math:`D_2 = (D_{1,0} - D_{1,1})/(r_0 + r_1) \\approx h^2 m''/2` by :math:`\\varphi_3`, the
coefficient that belongs to :math:`h^2 m''`. Three witnesses settle it:

- symbolic: a sympy Taylor expansion of the 2M and 3M updates (published coefficient and
  the Taylor-consistent :math:`2\\varphi_3`) gives their local error orders
  (:func:`toytheory.diffusion.solvers.multistep_local_error`);
- exact: the convergence order measured on Gaussian data (closed-form flow) and on a
  2-D mixture (DOP853 reference), published and corrected coefficient side by side;
- library: diffusers' own ``multistep_dpm_solver_third_order_update``, run in float64
  on one step, equals the published form and not the corrected one (when diffusers is
  installed; the released DPM-Solver code is cited, not run: it is not a package).
"""

from __future__ import annotations

import math

import numpy as np

from toytheory.claims import claim

from . import diffusion_solvers_common as C
from .diffusion_solvers_order import QUICK_SIZES

DPM_SOLVER_COMMIT = "8acf2bb9419165fec8b3ffd01621aa735be5dee3"
DPM_SOLVER_CODE = (f"LuChengTHU/dpm-solver at commit {DPM_SOLVER_COMMIT[:12]} (2023-12-06), "
                   "dpm_solver_pytorch.py, DPM_Solver.multistep_dpm_solver_third_update")
DIFFUSERS_FUNCTION = ("DPMSolverMultistepScheduler.multistep_dpm_solver_third_order_update "
                      "(diffusers/schedulers/scheduling_dpmsolver_multistep.py)")


def _diffusers_version() -> str:
    return C.diffusers_version()


def _library_string() -> str:
    return (f"DPM-Solver reference code ({DPM_SOLVER_CODE}); diffusers "
            f"{_diffusers_version()}, {DIFFUSERS_FUNCTION}; k-diffusion 0.1.1.post1, "
            "sample_dpmpp_3m_sde (same D2 coefficient)")


def third_order_step(prediction: str, x, m, lam, d2_factor: float):
    """One 3M step from ``lam[2]`` to ``lam[3]`` with model values ``m = (m2, m1, m0)``
    (oldest first) in VP coordinates; ``d2_factor`` 1 is the published coefficient."""
    lam = [float(v) for v in lam]
    alpha = [1.0 / math.sqrt(1.0 + math.exp(-2.0 * v)) for v in lam]
    sigma = [a * math.exp(-v) for a, v in zip(alpha, lam)]
    h, h0, h1 = lam[3] - lam[2], lam[2] - lam[1], lam[1] - lam[0]
    r0, r1 = h0 / h, h1 / h
    m2, m1, m0 = m
    d1_0, d1_1 = (m0 - m1) / r0, (m1 - m2) / r1
    d1 = d1_0 + r0 / (r0 + r1) * (d1_0 - d1_1)
    d2 = (d1_0 - d1_1) / (r0 + r1)
    if prediction == "data":
        phi1 = math.expm1(-h)
        phi2 = phi1 / h + 1.0
        phi3 = phi2 / h - 0.5
        return (sigma[3] / sigma[2] * x - alpha[3] * phi1 * m0 + alpha[3] * phi2 * d1
                - d2_factor * alpha[3] * phi3 * d2)
    phi1 = math.expm1(h)
    phi2 = phi1 / h - 1.0
    phi3 = phi2 / h - 0.5
    return (alpha[3] / alpha[2] * x - sigma[3] * phi1 * m0 - sigma[3] * phi2 * d1
            - d2_factor * sigma[3] * phi3 * d2)


def diffusers_third_order_step(prediction: str, x, m, lam):
    """diffusers' own third-order update on one step, in float64 (None when not installed)."""
    try:
        import torch
        from diffusers import DPMSolverMultistepScheduler
    except ImportError:
        return None
    import warnings

    algorithm = {"data": "dpmsolver++", "noise": "dpmsolver"}[prediction]
    with warnings.catch_warnings():   # "dpmsolver" is deprecated in diffusers, still shipped
        warnings.simplefilter("ignore", FutureWarning)
        sched = DPMSolverMultistepScheduler(algorithm_type=algorithm, solver_order=3,
                                            final_sigmas_type="sigma_min")
    sched.sigmas = torch.tensor([math.exp(-float(v)) for v in lam], dtype=torch.float64)
    sched._step_index = 2
    outputs = [torch.tensor(v, dtype=torch.float64) for v in m]
    out = sched.multistep_dpm_solver_third_order_update(
        outputs, sample=torch.tensor(x, dtype=torch.float64))
    return out.numpy()


def measured_slopes(name: str, sizes):
    """(Gaussian slope, mixture slope, smallest mixture error) of solver ``name``."""
    from toytheory.diffusion.solvers import fit_convergence_order

    h = C.step_sizes(sizes)
    eg = np.array([C.gaussian_error(name, n) for n in sizes])
    em = np.array([C.gmm_error(name, n) for n in sizes])
    return (fit_convergence_order(h, eg, floor=C.FLOOR)[0],
            fit_convergence_order(h, em, floor=C.FLOOR)[0], float(em.min()))


def third_order_library_check(ctx, name: str, prediction: str, sizes):
    """Symbolic and exact witnesses first (toytheory against itself: its expansion of the
    consistent forms, its exact flow, its reference solve, the corrected form's order), then
    the statements: the published form's local and global order, and the library's
    coefficient."""
    from toytheory.diffusion.solvers import multistep_local_error

    from .diffusion_solvers_order import _gaussian_witnesses, _gmm_witnesses

    ev = ctx.evidence()
    sizes = tuple(int(n) for n in sizes)
    label = {"data": "DPM-Solver++ (data prediction)",
             "noise": "DPM-Solver (noise prediction)"}[prediction]
    corrected = {"data": "dpmpp_3m", "noise": "dpm_solver_3m"}[prediction]
    ev.note(f"Sizes N = {sizes}. Rule: {C.ORDER_RULE}.")
    # --- symbolic witnesses: the consistent forms have the textbook local orders
    p2, c2 = multistep_local_error(prediction, 2)
    ev.equal(f"sympy: local error power of the 2M update, {label}", p2, 3,
             note=f"h^3 coefficient {c2}: local O(h^3), global order 2")
    p_fix, c_fix = multistep_local_error(prediction, 3, 2)
    ev.equal(f"sympy: local error power of 3M with 2 phi_3, {label}", p_fix, 4,
             note=f"h^4 coefficient {c_fix}: local O(h^4), global order 3")
    # --- exact witnesses: the flow, the reference, and the corrected form's order 3
    _gaussian_witnesses(ev, sizes[0])
    g_fix, m_fix, e_fix = measured_slopes(corrected, sizes)
    g_pub, m_pub, e_pub = measured_slopes(name, sizes)
    _gmm_witnesses(ev, min(e_fix, e_pub))
    ev.at_least("corrected (2 phi_3) form: Gaussian slope (at least 3 - 0.25)", g_fix, 2.75)
    ev.close("corrected (2 phi_3) form: GMM slope", m_fix, 3.0, atol=0.25)
    rng = ctx.rng("one step")
    lam = -2.0 + np.cumsum(np.append(0.0, rng.uniform(0.2, 1.0, 3)))   # steps 0.2-1
    x, m2, m1, m0 = (rng.standard_normal(4) for _ in range(4))
    ref_pub = third_order_step(prediction, x, (m2, m1, m0), lam, 1.0)
    ref_fix = third_order_step(prediction, x, (m2, m1, m0), lam, 2.0)
    gap = float(np.max(np.abs(ref_fix - ref_pub)))
    ev.at_least("one step: |published - corrected| (the library check can tell them apart)",
                gap, 1e-6)
    # --- statements: the published form
    p_pub, c_pub = multistep_local_error(prediction, 3, 1)
    ev.equal(f"sympy: local error power of 3M with the published phi_3, {label}", p_pub, 3,
             role="statement", note=f"h^3 coefficient {c_pub}: half of the second-derivative "
                                    "term is left uncancelled; local O(h^3), global order 2")
    lib = diffusers_third_order_step(prediction, x, (m2, m1, m0), lam)
    if lib is None:
        ev.note("diffusers is not installed: its coefficient was not checked in this run.")
    else:
        ev.close(f"diffusers {_diffusers_version()}: one step (float64), |library - published "
                 "form|", float(np.max(np.abs(lib - ref_pub))), 0.0, atol=1e-9 * gap,
                 role="statement")
    ev.record("published form: Gaussian slope", g_pub)
    ev.close("published form: GMM slope (order 2, not 3)", m_pub, 2.0, atol=0.25,
             role="statement", headline=True)
    ev.note("Finding: the published third-order multistep update uses D2 = (D1_0 - D1_1)/(r0 + "
            "r1), which approximates h^2 m''/2, with the coefficient phi_3 that belongs to h^2 "
            "m''. Half of the second-derivative term is left uncancelled: local error O(h^3), "
            "global order 2. Doubling the coefficient (toytheory's third_order='taylor') "
            "restores order 3 and coincides with UniP-3 (bh2). The same factor is in the "
            "noise-prediction branch of the same functions and in k-diffusion's "
            "sample_dpmpp_3m_sde. Attribution: these third-order multistep updates are in the "
            "released code; the 2022 DPM-Solver paper has single-step solvers only, and the "
            "DPM-Solver++ paper's multistep algorithm is the second-order DPM-Solver++(2M).")
    return ev


_SOURCE = (f"Released code: {DPM_SOLVER_CODE} (D2 = (1/(r0 + r1))(D1_0 - D1_1); x_t = ... - "
           "alpha_t phi_3 D2 with phi_3 = phi_2/h - 1/2); diffusers "
           f"{DIFFUSERS_FUNCTION} (the same formula, written out).")


@claim(
    "diffusion.solvers.order.dpmpp_3m_reference",
    paper=C.PAPER_DPMPP,
    kind="library",
    library=_library_string(),
    source=_SOURCE,
    statement=("The released third-order multistep DPM-Solver++ update (data prediction, "
               "coefficient phi_3 on D2) is second order, not third: its local error is O(h^3) "
               "by Taylor expansion, and its fitted convergence slope is within 0.25 of 2 on "
               "mixture data."),
    witnesses=("symbolic", "exact"),
    quick={"sizes": QUICK_SIZES},
    full={"sizes": C.ORDER_SIZES},
)
def dpmpp_3m_reference(ctx, sizes):
    return third_order_library_check(ctx, "dpmpp_3m_reference", "data", sizes)


@claim(
    "diffusion.solvers.order.dpm_solver_3m_reference",
    paper=C.PAPER_DPMPP,
    kind="library",
    library=_library_string(),
    source=_SOURCE,
    statement=("The released third-order multistep DPM-Solver update (noise prediction, "
               "coefficient phi_3 on D2) is second order, not third: its local error is O(h^3) "
               "by Taylor expansion, and its fitted convergence slope is within 0.25 of 2 on "
               "mixture data."),
    witnesses=("symbolic", "exact"),
    quick={"sizes": QUICK_SIZES},
    full={"sizes": C.ORDER_SIZES},
)
def dpm_solver_3m_reference(ctx, sizes):
    return third_order_library_check(ctx, "dpm_solver_3m_reference", "noise", sizes)

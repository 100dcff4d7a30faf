"""PFGM++: the perturbation kernel's diffusion limit and its concentration in D, exactly."""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim
from toytheory.figures import register_figure

PAPER = "PFGM++: Unlocking the Potential of Physics-Inspired Generative Models"
LEVEL = 1e-6


@claim(
    "diffusion.pfgmpp.large_d_recovers_diffusion",
    paper=PAPER,
    kind="paper",
    statement=("With r = sigma sqrt(D), the PFGM++ perturbation kernel tends to the "
               "diffusion kernel N(y, sigma^2 I) as D grows: its total variation falls "
               "at every step of D and like 1/D."),
    source=('Abstract: "The new models reduce to PFGM when D{=}1 and to diffusion models '
            'when D{to}infty."'),
    reading=("'Reduce to diffusion models' is read on the perturbation kernel, which fixes "
             "the training target and the ODE (Section 4's alignment r = sigma sqrt(D)): "
             "the total variation between the kernel and N(y, sigma^2 I_N), exact as a 1-D "
             "integral of the radial laws (both are spherically symmetric), must fall at "
             "every step of D on a grid and go to zero like 1/D (D TV changing by under 2% "
             "over the last doubling pair), for data dimensions N = 2 and 8 (32 in full)."),
    witnesses=("symbolic", "exact", "simulated"),
    quick={"dims": (2, 8), "grid": (1, 4, 16, 64, 256, 1024), "n_sim": 100_000},
    full={"dims": (2, 8, 32), "grid": (1, 4, 16, 64, 256, 1024, 4096, 16384),
          "n_sim": 1_000_000},
)
def large_d_recovers_diffusion(ctx, dims, grid, n_sim):
    from scipy.stats import betaprime

    from toytheory.diffusion.pfgmpp import (kernel_tv_to_gaussian, radial_density,
                                            radial_density_from_kernel, sample_radius)

    from proofs.diffusion_pfgmpp_radial import prove_radial_law

    ev = ctx.evidence()
    proof = prove_radial_law()
    ev.equal("sympy: the kernel's radial marginal is the law of r sqrt(B/(1-B)), "
             "B ~ Beta(N/2, D/2), for symbolic N, D, r (and toytheory's normaliser)",
             proof.holds, True, headline=False)
    rho = np.linspace(0.01, 12.0, 50)
    gap = max(float(np.abs(radial_density(rho, N, D, 1.0)
                           - radial_density_from_kernel(rho, N, D, 1.0)).max())
              for N in dims for D in grid)
    ev.at_most("radial density: Beta construction vs the kernel's definition (max abs)",
               gap, 1e-10)
    from scipy.integrate import quad

    from toytheory.diffusion.pfgmpp import gaussian_radial_density

    g_gap = 0.0
    for N in dims:
        z = quad(lambda x: x ** (N - 1) * np.exp(-x * x / 2), 0, np.inf, epsrel=1e-13)[0]
        g_gap = max(g_gap, float(np.abs(gaussian_radial_density(rho, N, 1.0)
                                        - rho ** (N - 1) * np.exp(-rho ** 2 / 2) / z).max()))
    ev.at_most("Gaussian radial density vs rho^(N-1) exp(-rho^2/2), normalised (max abs)",
               g_gap, 1e-12)
    pvalues = []
    rng = ctx.rng("radii")
    for N in dims:
        D = grid[len(grid) // 2]
        radii = sample_radius(N, D, 1.0, n_sim, rng)
        pvalues.append(stats.ks_1samp(radii ** 2 / D, lambda x, N=N, D=D: betaprime.cdf(
            x, N / 2, D / 2), LEVEL).pvalue)
    ev.test("the paper's Beta sampler of R vs the radial law (KS, Holm)",
            stats.holm(pvalues, LEVEL), expect="accept")
    rising, worst_rate = 0, 0.0
    for N in dims:
        tvs = np.array([kernel_tv_to_gaussian(N, D) for D in grid])
        rising += int(np.sum(np.diff(tvs) >= 0))
        scaled = tvs * np.asarray(grid)
        worst_rate = max(worst_rate, abs(scaled[-1] / scaled[-2] - 1.0))
        ev.record(f"N = {N}: TV at D = {grid[-1]}", float(tvs[-1]),
                  note="D TV: " + ", ".join(f"{v:.3f}" for v in scaled))
    ev.equal("steps of D at which the TV to the diffusion kernel does not fall", rising, 0,
             role="statement")
    ev.at_most(f"relative change of D TV from D = {grid[-2]} to {grid[-1]} (worst N)",
               worst_rate, 0.02, role="statement", headline=True)
    return ev


@claim(
    "diffusion.pfgmpp.larger_d_concentrates_coupling",
    paper=PAPER,
    kind="paper",
    statement=("The coupling between the data distance ||x - y|| and the augmentation norm r "
               "concentrates as D grows: Var log(||x - y|| / r) under the kernel falls "
               "strictly with D."),
    source=('Abstract: "The flexibility of choosing D allows us to trade off robustness '
            'against rigidity as increasing D results in more concentrated coupling between '
            'the data and the additional variable norms."'),
    reading=("Concentration is measured by the variance of log(||x - y|| / r) under the "
             "kernel at norm r, which does not depend on r: (trigamma(N/2) + "
             "trigamma(D/2)) / 4, checked against the kernel's definition by quadrature, "
             "and held strictly decreasing over D = 1..4096 for N = 2, 8, 32. The trade-off "
             "with robustness is not tested here."),
    witnesses=("exact",),
    quick={"dims": (2, 8, 32), "grid": (1, 2, 4, 8, 64, 512, 4096)},
)
def larger_d_concentrates_coupling(ctx, dims, grid):
    from scipy.integrate import quad

    from toytheory.diffusion.pfgmpp import log_ratio_variance

    ev = ctx.evidence()
    worst = 0.0
    for N in dims:
        for D in grid:
            def density(x, N=N, D=D):  # of X = log(R/r), from the kernel's definition
                return np.exp(N * x - (N + D) / 2 * np.logaddexp(0.0, 2 * x)
                              - N / 2 * np.log(N / D) + (N + D) / 2 * np.log1p(N / D))

            mode = 0.5 * np.log(N / D)
            lo, hi = mode - 40.0, mode + 40.0
            kw = dict(points=[mode], limit=400, epsrel=1e-12)
            z = quad(density, lo, hi, **kw)[0]
            m = quad(lambda x: x * density(x), lo, hi, **kw)[0] / z
            v = quad(lambda x: (x - m) ** 2 * density(x), lo, hi, **kw)[0] / z
            worst = max(worst, abs(v - log_ratio_variance(N, D)))
    ev.at_most("Var log(R/r): trigamma form vs quadrature of the kernel (max abs)", worst,
               1e-9)
    rising = sum(int(np.sum(np.diff([log_ratio_variance(N, D) for D in grid]) >= 0))
                 for N in dims)
    ev.equal("steps of D at which Var log(R/r) does not fall", rising, 0, role="statement",
             headline=True)
    return ev


@register_figure("diffusion.pfgmpp_tv_vs_d",
                 caption="PFGM++ kernel: total variation to the diffusion kernel against D")
def tv_vs_d_figure(seed: int = 0):
    from matplotlib.figure import Figure

    from toytheory.diffusion.pfgmpp import kernel_tv_to_gaussian

    grid = (1, 4, 16, 64, 256, 1024)
    fig = Figure(figsize=(5, 3.2))
    ax = fig.add_subplot()
    for N in (2, 8):
        ax.loglog(grid, [kernel_tv_to_gaussian(N, D) for D in grid], "o-", label=f"N = {N}")
    ax.set_xlabel("augmentation dimensions D")
    ax.set_ylabel("TV to N(y, sigma^2 I)")
    ax.legend(frameon=False)
    return fig


@claim(
    "diffusion.pfgmpp.d1_is_pfgm",
    paper=PAPER,
    kind="paper",
    statement=("With D = 1 the PFGM++ perturbation kernel is PFGM's: twice the normal "
               "component of the Poisson field of a unit charge at the datum in N + 1 "
               "dimensions, on the hyperplane at height r; and the PFGM++ ODE dx/dr on "
               "point data is PFGM's E_x / E_z."),
    source=('Abstract: "The new models reduce to PFGM when D{=}1 and to diffusion models '
            'when D{to}infty."'),
    reading=("'Reduce to PFGM' is read as an identity on point data, checked pointwise at "
             "random x, data and r in N = 1, 2, 3 data dimensions: (i) the normalised "
             "kernel p_r(x|y) = Gamma((N+1)/2)/pi^((N+1)/2) r (|x-y|^2 + r^2)^(-(N+1)/2) "
             "equals the flux density 2 E_z of PFGM's field (Eq. 2 of PFGM) through z = r "
             "(relative gap <= 1e-12); (ii) the PFGM++ ODE (x - E[y|x])/r equals PFGM's "
             "E_x/E_z of the data's Poisson field at z = r (relative gap <= 1e-10). The "
             "field is witnessed as minus the numerical gradient of the Green's-function "
             "potential and by Gauss's law (flux 1/2 through the plane); the kernel by its "
             "integral. PFGM's prior (a large hemisphere) and its training are not compared."),
    witnesses=("exact",),
    quick={"dims": (1, 2, 3), "D": 1, "n_points": 40, "n_data": 6},
)
def d1_is_pfgm(ctx, dims, D, n_points, n_data):
    from scipy.integrate import quad

    from toytheory.diffusion.pfgmpp import (kernel_density, point_ode_velocity,
                                            point_posterior_mean, poisson_field,
                                            poisson_potential)

    ev = ctx.evidence()
    rng = ctx.rng("points")
    cases = []
    for N in dims:
        data = rng.standard_normal((n_data, N))
        x = 2.0 * rng.standard_normal((n_points, N))
        r = float(rng.uniform(0.3, 3.0))
        cases.append((N, data, x, r))
    # witnesses: the field is minus the gradient of the potential ...
    fd_gap, post_gap = 0.0, 0.0
    for N, data, x, r in cases:
        pts = np.hstack([x, np.full((n_points, 1), r)])
        h = 1e-5
        grad = np.stack([(poisson_potential(pts + h * e, data)
                          - poisson_potential(pts - h * e, data)) / (2 * h)
                         for e in np.eye(N + 1)], axis=1)
        field = poisson_field(pts, data)
        fd_gap = max(fd_gap, float(np.abs(field + grad).max() / np.abs(field).max()))
        # ... and the posterior mean is the kernel-weighted mean of the data
        w = np.stack([kernel_density(x, y, r, D) for y in data], 1)
        post_gap = max(post_gap, float(np.abs(point_posterior_mean(x, data, r, D)
                                              - (w @ data) / w.sum(1, keepdims=True)).max()))
    ev.at_most("Poisson field vs minus the central-difference gradient of the Green's "
               "potential (relative, max)", fd_gap, 1e-6)
    ev.at_most("PFGM++ posterior mean vs kernel-weighted mean of the data (max abs)",
               post_gap, 1e-12)
    # Gauss's law and the kernel's normaliser, by quadrature (N = 1 and radially in N = 2)
    flux_gap, mass_gap = 0.0, 0.0
    for N in (1, 2):
        y = np.zeros((1, N))
        r = 1.3

        def along(rho, N=N):
            return np.hstack([np.zeros((1, N - 1)), [[rho]]]) if N > 1 else np.array([[rho]])

        def ez(rho, N=N):
            return poisson_field(np.hstack([along(rho), [[r]]]), y)[0, -1]

        def kern(rho, N=N):
            return kernel_density(along(rho), y[0], r, D)[0]

        jac = (lambda rho: 2.0) if N == 1 else (lambda rho: 2 * np.pi * rho)
        flux = quad(lambda p: jac(p) * ez(p), 0, np.inf, limit=400, epsrel=1e-12)[0]
        mass = quad(lambda p: jac(p) * kern(p), 0, np.inf, limit=400, epsrel=1e-12)[0]
        flux_gap = max(flux_gap, abs(flux - 0.5))
        mass_gap = max(mass_gap, abs(mass - 1.0))
    ev.at_most("Gauss's law: flux of a unit charge's field through z = r minus 1/2 (max)",
               flux_gap, 1e-8)
    ev.at_most("the normalised kernel's integral minus 1 (N = 1, 2)", mass_gap, 1e-8)
    # the statement: kernel = 2 E_z, and the ODE = E_x / E_z
    k_gap, v_gap = 0.0, 0.0
    for N, data, x, r in cases:
        pts = np.hstack([x, np.full((n_points, 1), r)])
        single = 2 * poisson_field(pts, data[:1])[:, -1]
        kern = kernel_density(x, data[0], r, D)
        k_gap = max(k_gap, float(np.abs(kern - single).max() / np.abs(single).max()))
        field = poisson_field(pts, data)
        pfgm = field[:, :N] / field[:, -1:]
        v_gap = max(v_gap, float(np.abs(point_ode_velocity(x, data, r, D) - pfgm).max()
                                 / np.abs(pfgm).max()))
    ev.at_most(f"D = {D} kernel vs PFGM's flux density 2 E_z (relative, max over N)", k_gap,
               1e-12, role="statement")
    ev.at_most(f"D = {D} PFGM++ ODE vs PFGM's E_x / E_z on point data (relative, max over N)",
               v_gap, 1e-10, role="statement", headline=True)
    return ev


# modelling errors e(x, sigma) added to the exact denoiser E[y | x]: "eps_*" are errors of
# fixed size in the eps-prediction (x0 error = sigma * eps error), "x0_*" of fixed size in
# the x0-prediction itself (they do not vanish as sigma -> 0)
_ERRORS = {
    "eps_const": lambda x, s: 0.1 * s + 0.0 * x,
    "eps_sin3x": lambda x, s: 0.1 * s * np.sin(3 * x),
    "eps_cos2x": lambda x, s: 0.1 * s * np.cos(2 * x),
    "x0_sin3x": lambda x, s: 0.5 * np.sin(3 * x),
}
# the eps-errors as (a, f, phi) for the simulators: a sigma cos(f x + phi)
_ERROR_PARAMS = {"eps_const": (0.1, 0.0, 0.0), "eps_sin3x": (0.1, 3.0, -np.pi / 2),
                 "eps_cos2x": (0.1, 2.0, 0.0)}


@claim(
    "diffusion.pfgmpp.smaller_d_more_robust",
    paper=PAPER,
    kind="paper",
    statement=("On 1-D point data, the PFGM++ ODE (r = sigma sqrt(D)) driven by a denoiser "
               "with a fixed eps-prediction error moves its output law less from the exact "
               "one the smaller D is: the excess TV rises at every step of D up to the "
               "diffusion limit D = infinity."),
    source=('Abstract: "In addition, we demonstrate that models with smaller D exhibit '
            'improved robustness against modeling errors."'),
    reading=("Data: 4 points on a line (-2, -1, 0.5, 2). The ODE dx/dlog sigma = x - "
             "(E[y|x] + e(x, sigma)) runs from the exact perturbed law at sigma = 20 to "
             "sigma = 0.01; its output law (mass ending nearest each point) is exact up to "
             "the ODE tolerance: a 1-D flow keeps order, so the cells' preimages are the "
             "midpoints carried back (DOP853, rtol 1e-9) and their masses are Student-t_D "
             "CDFs (the N = 1 kernel is sigma t_D). Robustness = the TV between that law and "
             "the exact ODE's output law (closed form), for e = 0.1 sigma g(x), g in {1, "
             "sin 3x} (quick; + cos 2x in full): an error of fixed size in the "
             "eps-prediction, as a trained network has. Holds if the TV rises by more than "
             "1e-6 at every step of D = 1, 2, 4, 8, 32, 128, infinity. Weaker than the "
             "paper (its errors are noise injection, large steps and quantization on "
             "CIFAR-10); an x0-prediction error of fixed size (0.5 sin 3x, not shrinking "
             "with sigma) reverses the trend and is recorded, not held. Rigidity side: the "
             "region a model must fit, the 0.999-quantile of |x - y|/sigma (t_D against "
             "normal), is recorded per D. Simulated witness: the Numba RK4 simulator "
             "(sims/diffusion_pfgmpp.py) against the exact map, and its output law from "
             "prior draws against the exact basin masses (torch's simulator is held to "
             "Numba's in the tests)."),
    witnesses=("exact", "simulated"),
    quick={"grid": (1, 2, 4, 8, 32, 128, np.inf), "errors": ("eps_const", "eps_sin3x"),
           "reverse": "x0_sin3x", "sigma_max": 20.0, "sigma_min": 0.01, "rtol": 1e-9,
           "n_sim": 1000, "steps": 400, "probe_steps": 1600, "sim_error": "eps_sin3x"},
    full={"grid": (1, 2, 3, 4, 8, 16, 32, 128, 512, np.inf),
          "errors": ("eps_const", "eps_sin3x", "eps_cos2x"), "reverse": "x0_sin3x",
          "sigma_max": 80.0, "sigma_min": 0.002, "rtol": 1e-10, "n_sim": 40_000,
          "steps": 800, "probe_steps": 3200, "sim_error": "eps_sin3x"},
)
def smaller_d_more_robust(ctx, grid, errors, reverse, sigma_max, sigma_min, rtol, n_sim,
                          steps, probe_steps, sim_error):
    from scipy.integrate import quad
    from scipy.stats import norm, t

    from toytheory.diffusion.pfgmpp import (kernel_density, line_basin_masses,
                                            line_marginal_masses, line_posterior_mean,
                                            line_prior_cdf, point_posterior_mean)

    ev = ctx.evidence()
    data = np.array([-2.0, -1.0, 0.5, 2.0])
    rng = ctx.rng("queries")
    xs = rng.uniform(-6.0, 6.0, 7)
    # witnesses: the 1-D posterior mean and prior CDF against the N-dimensional kernel
    post_gap, cdf_gap = 0.0, 0.0
    for D in grid:
        if D == np.inf:
            continue
        sig = float(rng.uniform(0.2, 3.0))
        post_gap = max(post_gap, float(np.abs(
            line_posterior_mean(xs, data, sig, D)
            - point_posterior_mean(xs[:, None], data[:, None], sig * np.sqrt(D), D)[:, 0]
        ).max()))
        for x in xs[:3]:
            by_quad = np.mean([quad(lambda u, y=y: kernel_density(
                np.array([[u]]), np.array([y]), sig * np.sqrt(D), D)[0], -np.inf, x,
                epsabs=1e-13, epsrel=1e-12, limit=200)[0] for y in data])
            cdf_gap = max(cdf_gap, abs(by_quad - float(line_prior_cdf(x, data, sig, D))))
    ev.at_most("1-D posterior mean vs the N-dimensional PFGM++ posterior mean (max abs)",
               post_gap, 1e-12)
    ev.at_most("Student-t prior CDF vs quadrature of the normalised kernel (max abs)",
               cdf_gap, 1e-8)
    # the exact ODE carries the perturbed law at sigma_max to the one at sigma_min
    exact = {D: line_marginal_masses(data, sigma_min, D) for D in grid}
    flow_gap = max(float(np.abs(line_basin_masses(data, D, sigma_max, sigma_min, rtol=rtol)
                                - exact[D]).max()) for D in grid)
    ev.at_most("exact-denoiser ODE output law vs the perturbed law at sigma_min (max abs)",
               flow_gap, 1e-6)
    err0 = _ERRORS[errors[0]]
    tol_gap = abs(line_basin_masses(data, grid[0], sigma_max, sigma_min, err0, rtol)
                  - line_basin_masses(data, grid[0], sigma_max, sigma_min, err0,
                                      rtol / 100)).max()
    ev.at_most(f"ODE tolerance: output law at rtol {rtol:g} vs {rtol / 100:g} (max abs)",
               float(tol_gap), 1e-7)
    _simulated_robustness_witness(ev, ctx, data, (grid[0], grid[len(grid) // 2], grid[-1]),
                                  sim_error, sigma_max, sigma_min, n_sim, steps, probe_steps)
    # the statement: excess TV rises with D
    not_rising = 0
    for name in errors:
        tv = np.array([0.5 * np.abs(line_basin_masses(data, D, sigma_max, sigma_min,
                                                      _ERRORS[name], rtol)
                                    - exact[D]).sum() for D in grid])
        not_rising += int(np.sum(np.diff(tv) <= 1e-6))
        ev.record(f"excess TV of the output law, error {name}, D = {grid[0]}..inf",
                  float(tv[0]), note="by D: " + ", ".join(
                      f"{D:g}: {v:.5f}" for D, v in zip(grid, tv)))
    ev.equal("steps of D at which the excess TV does not rise (all errors held)", not_rising,
             0, role="statement", headline=True)
    if not_rising:
        ev.referee_note(
            says="models with smaller D exhibit improved robustness against modeling errors",
            toy=("exact output law of the PFGM++ ODE on 4 points on a line, denoiser errors "
                 + ", ".join(errors)),
            measured=f"{not_rising} step(s) of D where the excess TV does not rise",
            inside="exact (ODE tolerance witnessed below 1e-7)",
            would_change="a different error family; the paper's errors act on networks")
    # recorded, not held: an x0-error of fixed size, and the rigidity side
    ends = (grid[0], grid[len(grid) // 2], grid[-1])
    rev = [0.5 * np.abs(line_basin_masses(data, D, sigma_max, sigma_min, _ERRORS[reverse],
                                          rtol) - exact[D]).sum() for D in ends]
    ev.note(f"x0-error of fixed size ({reverse}): excess TV " + ", ".join(
        f"D = {D:g}: {v:.4f}" for D, v in zip(ends, rev))
        + " (for such errors smaller D is not more robust).")
    width = [float(norm.ppf(0.9995) if D == np.inf else t.ppf(0.9995, D)) for D in grid]
    ev.record("rigidity: 0.999-quantile of |x - y|/sigma under the kernel at D = 1",
              width[0], note="by D: " + ", ".join(f"{D:g}: {w:.3g}"
                                                 for D, w in zip(grid, width)))
    return ev


def _simulated_robustness_witness(ev, ctx, data, ds, error, sigma_max, sigma_min, n_sim,
                                  steps, probe_steps):
    """The sims' PFGM++ ODE (Numba RK4, ``probe_steps`` steps) against the exact
    numpy map at 6 points, and the Numba ODE's output law from ``n_sim`` prior draws
    (``steps`` steps: its map error, below 2e-4 at 400 steps, moves only draws that close
    to a cell's preimage boundary) against :func:`line_basin_masses`."""
    from sims.diffusion_pfgmpp import pfgmpp_ode_numba
    from toytheory.diffusion.pfgmpp import line_basin_masses, point_ode_map

    params = _ERROR_PARAMS[error]
    rng = ctx.rng("sim")
    probe = rng.uniform(-4 * sigma_max, 4 * sigma_max, (6, 1))
    nb_gap, pvalues = 0.0, []
    for D in ds:
        ref = point_ode_map(probe, data[:, None], D, sigma_max, sigma_min, params)
        nb_gap = max(nb_gap, float(np.abs(pfgmpp_ode_numba(
            probe, data[:, None], D, sigma_max, sigma_min, probe_steps, params) - ref).max()))
        if D == ds[1]:
            continue          # the output law at the two ends of the D range
        # prior at sigma_max: a uniform data point plus sigma_max t_D (normal for D = inf)
        noise = rng.standard_normal(n_sim) if D == np.inf else rng.standard_t(D, n_sim)
        x0 = data[rng.integers(data.size, size=n_sim)] + sigma_max * noise
        out = pfgmpp_ode_numba(x0[:, None], data[:, None], D, sigma_max, sigma_min, steps,
                               params)[:, 0]
        counts = np.bincount(np.abs(out[:, None] - data[None]).argmin(1),
                             minlength=data.size)
        masses = line_basin_masses(data, D, sigma_max, sigma_min, _ERRORS[error])
        pvalues.append(stats.chisquare_gof(counts, masses, LEVEL).pvalue)
    ev.at_most(f"Numba RK4 ({probe_steps} steps in log sigma) vs the exact numpy ODE map, "
               f"error {error}, D = {', '.join(f'{D:g}' for D in ds)} (max abs)", nb_gap,
               1e-5)
    ev.test(f"Numba ODE output law from {n_sim} prior draws vs the exact basin masses, "
            f"D = {ds[0]:g}, {ds[-1]:g} (chi-square, Holm)", stats.holm(pvalues, LEVEL),
            expect="accept")


@claim(
    "diffusion.pfgmpp.batch_target_bias",
    paper=PAPER,
    kind="paper",
    statement=("PFGM's large-batch field target (the normalised empirical Poisson field of a "
               "batch) is biased at every finite batch size n, the bias falling like 1/n, "
               "while the PFGM++ perturbation objective's target at D = 1 has the exact "
               "field direction in expectation."),
    source=('Abstract: "We dispense with the biased large batch field targets used in PFGM '
            'and instead provide an unbiased perturbation-based objective similar to '
            'diffusion models."'),
    reading=("Data: 3 points in N = 2; queries (x, z) in N + 1 = 3 dimensions. PFGM's target "
             "at a query is E_hat_B / |E_hat_B| for a batch B of n i.i.d. data draws; its "
             "expectation is an exact finite sum over the batch's count vectors (multinomial "
             "weights). Bias(n) = |E_B[E_hat_B/|E_hat_B|] - E/|E||. Holds if the bias "
             "exceeds 1e-9 at every n in 1..512 (doublings), falls at every step, n bias "
             "changes by under 2% over the last doubling (the 1/n rate), and the PFGM++ "
             "target (x - y, r)/r averaged over the exact posterior of y given x (Bayes with "
             "the normalised D = 1 kernel) points along E/|E| to 1e-12. The batch is "
             "independent of the query here (PFGM draws queries from the batch itself); "
             "the paper says 'biased' without a rate, the 1/n rate is sharper."),
    witnesses=("exact", "simulated"),
    quick={"grid": (1, 2, 4, 8, 16, 32, 64, 128, 256, 512), "D": 1, "n_mc": 20_000,
           "mc_batch": 8},
    full={"grid": (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), "D": 1, "n_mc": 200_000,
          "mc_batch": 8},
)
def batch_target_bias(ctx, grid, D, n_mc, mc_batch):
    from toytheory.diffusion.pfgmpp import (batch_field_target, kernel_density,
                                            poisson_field)

    ev = ctx.evidence()
    data = np.array([[-1.0, 0.0], [1.0, 0.5], [0.2, -1.2]])
    rng = ctx.rng("queries")
    pts = np.hstack([rng.uniform(-2.0, 2.0, (3, 2)), rng.uniform(0.5, 3.0, (3, 1))])
    per_point = np.stack([poisson_field(pts, data[i:i + 1]) for i in range(3)], 1)
    unit = per_point / np.linalg.norm(per_point, axis=2, keepdims=True)
    # witnesses: n = 1 by hand (the mean of the single-point unit fields), and simulation
    one, _ = batch_field_target(pts, data, 1)
    ev.at_most("n = 1 target vs the mean of single-point unit fields (max abs)",
               float(np.abs(one - unit.mean(1)).max()), 1e-13)
    exact, _ = batch_field_target(pts, data, mc_batch)
    draws = ctx.rng("batches").integers(0, 3, (n_mc, mc_batch))
    counts = np.stack([(draws == i).sum(1) for i in range(3)], 1).astype(float)
    fields = np.einsum("bm,kmd->bkd", counts, per_point)
    mc = (fields / np.linalg.norm(fields, axis=2, keepdims=True)).mean(0)
    # Hoeffding for coordinates in [-1, 1], Bonferroni over 3 queries x 3 coordinates
    half = np.sqrt(2.0 * np.log(2 * 9 / LEVEL) / n_mc)
    ev.at_most(f"simulated batch target (n = {mc_batch}, {n_mc} batches) minus exact, over "
               f"the Hoeffding half-width {half:.3f} at level 1e-6 (max)",
               float(np.abs(mc - exact).max() / half), 1.0)
    # the statement
    bias = np.array([np.linalg.norm(np.subtract(*batch_field_target(pts, data, n)), axis=1)
                     for n in grid])                      # (len(grid), queries)
    for k in range(pts.shape[0]):
        ev.record(f"query {k}: bias at n = {grid[0]}..{grid[-1]}", float(bias[0, k]),
                  note=", ".join(f"{n}: {b:.2e}" for n, b in zip(grid, bias[:, k])))
    ev.equal("batch sizes at which some query's bias is <= 1e-9", int(np.sum(
        bias.min(1) <= 1e-9)), 0, role="statement")
    ev.equal("steps of n at which some query's bias does not fall",
             int(np.sum(np.any(np.diff(bias, axis=0) >= 0, axis=1))), 0, role="statement")
    scaled = bias * np.asarray(grid, float)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):   # a zero bias has no rate
        ratio = np.where(scaled[-2] > 0, scaled[-1] / scaled[-2], 0.0)
    rate = float(np.abs(ratio - 1).max())
    ev.at_most(f"relative change of n bias from n = {grid[-2]} to {grid[-1]} (worst query)",
               rate, 0.02, role="statement", headline=True)
    # PFGM++: posterior-averaged per-sample target ((x - y)/r, 1) vs the field direction
    x, r = pts[:, :2], pts[:, 2]
    gap = 0.0
    for k in range(pts.shape[0]):
        w = np.array([kernel_density(x[k:k + 1], y, r[k], D)[0] for y in data])
        w = w / w.sum()                       # Bayes: uniform prior on the data points
        target = np.append(((x[k] - data) * w[:, None]).sum(0) / r[k], 1.0)
        field = poisson_field(pts[k:k + 1], data)[0]
        gap = max(gap, float(np.abs(target / np.linalg.norm(target)
                                    - field / np.linalg.norm(field)).max()))
    ev.at_most(f"PFGM++ (D = {D}) perturbation target, posterior-averaged, vs E/|E| (max abs)",
               gap, 1e-12, role="statement")
    if ev.verdict in ("refuted", "inconclusive"):
        ev.referee_note(
            says="PFGM's large batch field targets are biased; PFGM++'s objective is unbiased",
            toy="3 points in N = 2, exact expectation over batches, 3 random queries",
            measured=(f"rate change {rate:.3g}, PFGM++ direction gap {gap:.3g}, smallest "
                      f"bias {bias.min():.3g}"),
            inside="exact (enumeration); the simulated witness agrees",
            would_change="other queries or data; batches drawn with the query's source")
    return ev


@register_figure("diffusion.pfgmpp_robustness_vs_d",
                 caption=("PFGM++ on 4 points on a line: excess TV of the ODE's output law "
                          "under a denoiser error, against D (rightmost: EDM, D = infinity)"))
def robustness_vs_d_figure(seed: int = 0):
    from matplotlib.figure import Figure

    from toytheory.diffusion.pfgmpp import line_basin_masses, line_marginal_masses

    data = np.array([-2.0, -1.0, 0.5, 2.0])
    grid = (1, 2, 4, 8, 32, 128, np.inf)
    xs = np.arange(len(grid))
    fig = Figure(figsize=(5, 3.2))
    ax = fig.add_subplot()
    for name in ("eps_const", "eps_sin3x", "x0_sin3x"):
        tv = [0.5 * np.abs(line_basin_masses(data, D, 20.0, 0.01, _ERRORS[name], 1e-8)
                           - line_marginal_masses(data, 0.01, D)).sum() for D in grid]
        ax.plot(xs, tv, "o-", label=name)
    ax.set_xticks(xs, [f"{D:g}" for D in grid])
    ax.set_xlabel("augmentation dimensions D")
    ax.set_ylabel("excess TV of the output law")
    ax.legend(frameon=False)
    return fig


@register_figure("diffusion.pfgmpp_radial_laws",
                 caption="PFGM++ kernel: radial law of |x - y| / sigma against D (N = 2)")
def radial_laws_figure(seed: int = 0):
    from matplotlib.figure import Figure

    from toytheory.diffusion.pfgmpp import gaussian_radial_density, radial_density

    rho = np.linspace(0.0, 6.0, 300)
    fig = Figure(figsize=(5, 3.2))
    ax = fig.add_subplot()
    for D in (1, 4, 32, 512):
        ax.plot(rho, radial_density(rho, 2, D, 1.0), label=f"D = {D}")
    ax.plot(rho, gaussian_radial_density(rho, 2, 1.0), "k--", label="diffusion")
    ax.set_xlabel("|x - y| / sigma")
    ax.set_ylabel("density")
    ax.legend(frameon=False)
    return fig


def _gmm_toy(N):
    """The GMM of the GMM-data PFGM++ claim: 3 components in N = 1 or 2 dimensions."""
    from toytheory.diffusion.laws import GaussianMixture

    means = np.array([[-2.0, 0.5], [0.5, -1.0], [2.0, 1.5]])[:, :N]
    covs = np.array([[[0.30, 0.10], [0.10, 0.20]], [[0.50, -0.20], [-0.20, 0.40]],
                     [[0.15, 0.0], [0.0, 0.60]]])[:, :N, :N]
    return GaussianMixture(np.array([0.2, 0.3, 0.5]), means, covs)


@claim(
    "diffusion.pfgmpp.large_d_gmm_denoiser",
    paper=PAPER,
    kind="paper",
    statement=("On Gaussian-mixture data in N = 1 and 2 dimensions, with r = sigma sqrt(D) "
               "the PFGM++ x0-posterior mean E[y | x] tends to the diffusion (EDM) "
               "denoiser at sigma as D grows: the largest gap over queries falls at every "
               "step of D and like 1/D."),
    source=('Abstract: "The new models reduce to PFGM when D{=}1 and to diffusion models '
            'when D{to}infty."'),
    reading=("'Reduce to diffusion models' is read on the denoiser the PFGM++ objective "
             "learns (its minimiser is the x0-posterior mean, which fixes the ODE "
             "dx/dr = (x - E[y|x])/r), on continuous data rather than points: a 3-component "
             "GMM with full covariances, sigma = 0.8. E[y|x] is exact by the Student-t "
             "scale mixture (x - y | V ~ N(0, r^2/V I), V ~ chi^2_D: a 1-D trapezoid "
             "rule in log V over EDM's closed-form GMM denoisers), witnessed by direct "
             "Gauss-Hermite quadrature over y (N = 1, 2), by the point-set posterior on a "
             "GMM with component variances 1e-10, and by Monte Carlo of the perturbed "
             "density from GMM draws (empirical-Bernstein, level 1e-6). Holds if the max "
             "gap over 8 random queries falls at every step of D = 1, 4, ..., 4096 and "
             "D x gap changes by under 2% over the last step (the 1/D rate)."),
    witnesses=("exact", "simulated"),
    quick={"dims": (1, 2), "grid": (1, 4, 16, 64, 256, 1024, 4096), "sigma": 0.8,
           "n_query": 8, "n_mc": 20_000},
    full={"dims": (1, 2), "grid": (1, 4, 16, 64, 256, 1024, 4096, 16384), "sigma": 0.8,
          "n_query": 32, "n_mc": 200_000},
)
def large_d_gmm_denoiser(ctx, dims, grid, sigma, n_query, n_mc):
    from toytheory.diffusion.laws import GaussianMixture
    from toytheory.diffusion.pfgmpp import kernel_density, point_posterior_mean
    from toytheory.diffusion.pfgmpp_gmm import (gmm_log_density, gmm_posterior_mean,
                                                gmm_posterior_mean_direct)

    ev = ctx.evidence()
    rng = ctx.rng("queries")
    queries = {N: rng.uniform(-3.5, 3.5, (n_query, N)) for N in dims}
    # witnesses: direct quadrature over y (small D in N = 2, where Gauss-Hermite converges)
    direct_gap, nodes_gap, point_gap = 0.0, 0.0, 0.0
    for N in dims:
        gmm, x = _gmm_toy(N), queries[N]
        for D in ((1, 4, 16) if N == 1 else (1, 4)):
            r = sigma * np.sqrt(D)
            got = gmm_posterior_mean(x, gmm, r, D)
            direct_gap = max(direct_gap, float(np.abs(
                got - gmm_posterior_mean_direct(x, gmm, r, D, n_nodes=120)).max()))
            nodes_gap = max(nodes_gap, float(np.abs(
                got - gmm_posterior_mean(x, gmm, r, D, n_nodes=800)).max()))
        tiny = GaussianMixture(gmm.weights, gmm.means, np.stack([1e-10 * np.eye(N)] * 3))
        points = np.repeat(gmm.means, [2, 3, 5], axis=0)      # the weights 0.2, 0.3, 0.5
        for D in (1, 16):
            r = sigma * np.sqrt(D)
            point_gap = max(point_gap, float(np.abs(gmm_posterior_mean(x, tiny, r, D)
                                                    - point_posterior_mean(x, points, r,
                                                                           D)).max()))
    ev.at_most("scale-mixture posterior mean vs Gauss-Hermite quadrature over y (max abs)",
               direct_gap, 1e-7)
    ev.at_most("scale-mixture posterior mean: 400 vs 800 nodes in log V (max abs)",
               nodes_gap, 1e-8)
    ev.at_most("GMM with component variances 1e-10 vs the weighted point-set posterior "
               "(max abs)", point_gap, 1e-8)
    # simulated: the perturbed density E_y[k_r(x | y)] from GMM draws; k in [0, k(x | x)]
    pvalues = []
    for N in dims:
        gmm, D = _gmm_toy(N), 4
        r = sigma * np.sqrt(D)
        y = gmm.sample_data(n_mc, ctx.rng("mc", str(N)))
        dens = np.exp(gmm_log_density(queries[N], gmm, r, D))
        for q, xq in enumerate(queries[N]):
            k = kernel_density(y, xq, r, D)                  # symmetric in x and y
            top = float(kernel_density(xq[None], xq, r, D)[0])
            pvalues.append(stats.bounded_mean_test(k, float(dens[q]), 0.0, top,
                                                   LEVEL).pvalue)
    ev.test("perturbed GMM density vs Monte Carlo from GMM draws (empirical Bernstein, Holm)",
            stats.holm(pvalues, LEVEL), expect="accept")
    # the statement
    not_falling, worst_rate = 0, 0.0
    for N in dims:
        gmm, x = _gmm_toy(N), queries[N]
        edm = gmm.denoise(x, 1.0, sigma)
        gaps = np.array([float(np.abs(gmm_posterior_mean(x, gmm, sigma * np.sqrt(D), D)
                                      - edm).max()) for D in grid])
        not_falling += int(np.sum(np.diff(gaps) >= 0))
        scaled = gaps * np.asarray(grid, float)
        worst_rate = max(worst_rate, abs(scaled[-1] / scaled[-2] - 1.0))
        ev.record(f"N = {N}: max gap to the EDM denoiser at D = {grid[-1]}", gaps[-1],
                  note="D x gap: " + ", ".join(f"{D}: {v:.4f}" for D, v in zip(grid, scaled)))
    ev.equal("steps of D at which the gap to the EDM denoiser does not fall", not_falling, 0,
             role="statement")
    ev.at_most(f"relative change of D x gap from D = {grid[-2]} to {grid[-1]} (worst N)",
               worst_rate, 0.02, role="statement", headline=True)
    if ev.verdict in ("refuted", "inconclusive"):
        ev.referee_note(
            says="PFGM++ reduces to diffusion models when D -> infinity",
            toy="3-component GMM in N = 1, 2; exact PFGM++ and EDM denoisers at 8 queries",
            measured=f"{not_falling} non-falling step(s); rate change {worst_rate:.3g}",
            inside="exact (quadrature witnessed to 1e-7)",
            would_change="larger D grid; other GMMs")
    return ev

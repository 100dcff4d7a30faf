"""Intrinsic dimension from a diffusion model's field: the score-SVD estimator (Stanczuk et al.),
the flow-Jacobian estimator (Horvat & Pfister), and what a gauge field does to each."""

from __future__ import annotations

import numpy as np

from toytheory.claims import claim
from toytheory.claims.catalog.gauge_common import ABSTRACT_LOCAL

SEED = ("On gauge freedom, conservativity and intrinsic dimensionality estimation in "
        "diffusion models")
STANCZUK = ("Stanczuk, Batzolis, Deveney and Schönlieb: Your diffusion model secretly knows the "
            "dimension of the data manifold")

# (kind, k, D): every k in {1, 2, 5, 10} and every D in {3, 10, 100} that admits the manifold
SVD_SUITE_QUICK = [("sphere", 1, 3), ("sphere", 2, 3), ("sphere", 5, 10), ("sphere", 10, 100),
                   ("torus", 1, 3), ("torus", 2, 10), ("torus", 5, 10), ("torus", 10, 100),
                   ("subspace", 1, 3), ("subspace", 2, 10), ("subspace", 5, 100),
                   ("subspace", 10, 100), ("swiss_roll", 2, 3), ("swiss_roll", 2, 10),
                   ("swiss_roll", 2, 100)]
SVD_SUITE_FULL = ([("sphere", k, d) for d in (3, 10, 100) for k in (1, 2, 5, 10) if k + 1 <= d]
                  + [("torus", k, d) for d in (3, 10, 100) for k in (1, 2, 5, 10) if 2 * k <= d]
                  + [("subspace", k, d) for d in (3, 10, 100) for k in (1, 2, 5, 10) if k < d]
                  + [("swiss_roll", 2, d) for d in (3, 10, 100)])
JAC_SUITE_QUICK = [("sphere", 1, 3), ("sphere", 2, 10), ("torus", 5, 10), ("subspace", 10, 100)]
GAUGE_SUITE_QUICK = [("sphere", 1, 3), ("sphere", 2, 10), ("torus", 2, 4), ("subspace", 2, 10)]
GAUGE_SUITE_FULL = GAUGE_SUITE_QUICK + [("swiss_roll", 2, 3), ("sphere", 2, 5),
                                        ("torus", 5, 10), ("sphere", 10, 100)]


def make_manifold(kind, k, d, seed):
    from toytheory.gauge import manifolds

    if kind == "sphere":
        return manifolds.Sphere(k, d, rng=seed)
    if kind == "torus":
        if 2 * k > d:
            raise ValueError(f"torus: 2k = {2 * k} > D = {d}")
        return manifolds.FlatTorus(k, d, rng=seed)
    if kind == "subspace":
        return manifolds.LinearSubspace(k, d, rng=seed)
    if kind == "swiss_roll":
        return manifolds.SwissRoll(d, n_spiral=3000, rng=seed)
    raise ValueError(f"kind: unknown manifold {kind!r}")


def gauge_variants(manifold, schedule, rng):
    r"""The gauge fields tried, with the RK4 step factor each needs.

    Score rotations :math:`a\,C\nabla\log p_t` (a = 3, 10; they multiply the stiffness
    of the flow by about :math:`a\|C\|`) and a sheared field with a plane-wave h.
    Returns ``{name: (field, step factor)}``.
    """
    from toytheory.gauge.functions import PlaneWave
    from toytheory.gauge.gauge_fields import SkewTensorGaugeField, random_skew

    d = manifold.dim
    c = random_skew(d, rng) / np.sqrt(d)
    wave = PlaneWave(1.0, 3.0 * rng.standard_normal(d) / np.sqrt(d), rng.uniform(0, 2 * np.pi))
    return {"rotation a=3": (SkewTensorGaugeField(manifold, schedule, c, amplitude=3.0), 1),
            "rotation a=10": (SkewTensorGaugeField(manifold, schedule, c, amplitude=10.0), 3),
            "plane-wave h": (SkewTensorGaugeField(manifold, schedule, c, h=wave, amplitude=1.0),
                             4)}


def n_samples(d):
    """K = max(4D, 64) score samples per base point (see the score-SVD claim's note)."""
    return max(4 * d, 64)


def _label(kind, k, d):
    return f"{kind} k={k} D={d}"


def manifold_witnesses(ev, rng):
    """The manifold laws are exact: scores are gradients of normalised log-densities."""
    from toytheory.diffusion.laws import DeltaMixture
    from toytheory.gauge import manifolds

    a, s = 0.95, 0.2
    worst = 0.0
    for m in (manifolds.Sphere(2, 6, rng=rng), manifolds.FlatTorus(2, 5, rng=rng),
              manifolds.SwissRoll(4, n_spiral=500, rng=rng),
              manifolds.LinearSubspace(2, 5, rng=rng)):
        x = m.sample(6, a, s, rng)
        eps = 1e-6
        fd = np.stack([(m.log_prob(x + eps * e, a, s) - m.log_prob(x - eps * e, a, s)) / (2 * eps)
                       for e in np.eye(m.dim)], axis=1)
        sc = m.score(x, a, s)
        worst = max(worst, float(np.max(np.abs(sc - fd)) / np.max(np.abs(sc))))
    ev.at_most("manifold laws: max |score - finite-difference grad log p| / max |score|", worst,
               1e-6, note="sphere, torus, Swiss roll, subspace (central differences, h = 1e-6)")
    # the circle: the closed form equals the equally spaced delta mixture (trapezoid rule,
    # spectrally accurate for periodic integrands)
    circle = manifolds.Sphere(1, 2, embedding=np.eye(2))
    th = np.linspace(0, 2 * np.pi, 4000, endpoint=False)
    ring = DeltaMixture(np.stack([np.cos(th), np.sin(th)], axis=1))
    x = circle.sample(50, 0.9, 0.3, rng)
    ev.at_most("circle: |closed-form log p_t - delta mixture on 4000 equally spaced points|",
               float(np.max(np.abs(circle.log_prob(x, 0.9, 0.3) - ring.log_prob(x, 0.9, 0.3)))),
               1e-10)
    g = np.linspace(-3.0, 3.0, 601)
    xx, yy = np.meshgrid(g, g, indexing="ij")
    mass = np.exp(circle.log_prob(np.stack([xx.ravel(), yy.ravel()], 1), 0.9, 0.3)).sum()
    ev.close("circle: integral of p_t over [-3, 3]^2 (Riemann sum, h = 0.01)",
             mass * (g[1] - g[0]) ** 2, 1.0, atol=1e-6)


@claim(
    "gauge.intrinsic_dimension.score_svd_recovers_k",
    paper=STANCZUK,
    kind="background",
    source=("Stanczuk, Batzolis, Deveney and Schönlieb, 'Your diffusion model secretly knows "
            "the dimension of the data manifold' (arXiv:2212.12611; ICML 2024 as 'Diffusion "
            "models encode the intrinsic dimension of data manifolds'): as the noise level "
            "decreases the score points towards the manifold (normal bundle), and the "
            "dimension is read from the singular values of scores sampled around a point."),
    statement=("The singular values of K exact scores sampled around a point of a k-manifold at "
               "small noise have their largest gap after the D - k normal directions, so "
               "D - argmax_i(s_i - s_{i+1}) = k (spheres, tori, Swiss roll, subspaces; "
               "k in {1, 2, 5, 10}, D in {3, 10, 100})."),
    witnesses=("exact",),
    quick={"suite": SVD_SUITE_QUICK, "points": 2, "small_k_points": 100},
    full={"suite": SVD_SUITE_FULL, "points": 10, "small_k_points": 2000},
)
def score_svd_recovers_k(ctx, suite, points, small_k_points):
    from toytheory.gauge.fields import ModelField
    from toytheory.gauge.id_experiments import time_at_noise
    from toytheory.gauge.intrinsic_dimension import score_svd_estimate
    from toytheory.gauge.toys import schedule

    ev = ctx.evidence()
    sched = schedule()
    t0 = time_at_noise(sched, 0.01)
    wrong, total, rows = 0, 0, []
    for i, (kind, k, d) in enumerate(suite):
        rng = ctx.rng("svd", str(i))
        m = make_manifold(kind, k, d, ctx.seed_for("manifold", str(i)))
        est = score_svd_estimate(ModelField(m, sched), m.sample_data(points, rng), t0,
                                 n_samples(d), rng)
        bad = int(np.sum(est.estimates != k))
        wrong += bad
        total += points
        rows.append(f"{_label(kind, k, d)}: {est.estimates.tolist()}")
    ev.equal(f"wrong estimates over {total} base points ({len(suite)} manifolds)", wrong, 0,
             role="statement", headline=True, note="; ".join(rows))
    manifold_witnesses(ev, ctx.rng("witness"))
    # K = 4D is too few in D = 3 with codimension 2: the two normal singular values fluctuate
    circle = make_manifold("sphere", 1, 3, ctx.seed_for("circle"))
    rng = ctx.rng("small K")
    est = score_svd_estimate(ModelField(circle, sched), circle.sample_data(small_k_points, rng),
                             t0, 12, rng)
    ev.record("circle in R^3 with K = 4D = 12 samples: fraction of wrong estimates",
              float(np.mean(est.estimates != 1)),
              note=f"{small_k_points} base points: with few samples the D - k = 2 normal "
                   "singular values fluctuate enough that the largest linear gap can fall "
                   "between them; K = max(4D, 64) removes this")
    ev.note(f"Noise sigma = 0.01 (t = {t0:.3g} on the VP linear schedule), K = max(4D, 64) "
            "samples per base point, exact scores of the noised manifold laws.")
    return ev


@claim(
    "gauge.intrinsic_dimension.flow_jacobian_recovers_k",
    paper=SEED,
    kind="derived",
    statement=("The Jacobian Y(x_1, t) of the backward probability-flow map of the exact score "
               "has k singular values that saturate and D - k that vanish as t -> 0, so the "
               "largest gap in its log singular values at small t is after the k-th."),
    witnesses=("exact", "simulated"),
    quick={"suite": JAC_SUITE_QUICK, "points": 1, "steps": 80},
    full={"suite": SVD_SUITE_QUICK + [("sphere", 5, 100), ("torus", 5, 100)], "points": 4,
          "steps": 200},
)
def flow_jacobian_recovers_k(ctx, suite, points, steps):
    from toytheory.diffusion.gaussian_flow import gaussian_flow_map
    from toytheory.diffusion.laws import Gaussian
    from toytheory.gauge.fields import ModelField
    from toytheory.gauge.id_experiments import time_at_noise
    from toytheory.gauge.intrinsic_dimension import flow_jacobian_estimate, log_snr_time_grid
    from toytheory.gauge.plots import jacobian_trajectories_figure
    from toytheory.gauge.toys import schedule

    ev = ctx.evidence()
    sched = schedule()
    t0 = time_at_noise(sched, 0.01)
    grid = log_snr_time_grid(sched, t0, float(sched.t_max), steps)
    wrong, total, rows, gaps, fig_rows = 0, 0, [], [], []
    for i, (kind, k, d) in enumerate(suite):
        rng = ctx.rng("jac", str(i))
        m = make_manifold(kind, k, d, ctx.seed_for("manifold", str(i)))
        est = flow_jacobian_estimate(ModelField(m, sched), m.sample_data(points, rng), grid,
                                     trajectories=d <= 10 and len(fig_rows) < 3)
        wrong += int(np.sum(est.estimates != k))
        total += points
        sv = est.singular_values
        gaps.append(float(np.min(np.log10(sv[:, k - 1] / sv[:, k]))))
        rows.append(f"{_label(kind, k, d)}: {est.estimates.tolist()}")
        if kind == "subspace":
            # exact: the PF-ODE map of Gaussian data is affine (toytheory.diffusion.gaussian_flow)
            law = Gaussian.low_rank(np.zeros(d), m.scale * m.basis)
            mat, _ = gaussian_flow_map(law, sched, t0, float(sched.t_max))
            exact_sv = 1.0 / np.linalg.svd(mat, compute_uv=False)[::-1]
            ev.at_most(f"{_label(kind, k, d)}: max relative error of the singular values of "
                       f"Y(t0) vs the closed-form Gaussian flow map",
                       float(np.max(np.abs(sv[0] - exact_sv) / exact_sv)), 1e-3,
                       note=f"RK4 on the variational equation, {steps} log-SNR steps")
        if d <= 10 and len(fig_rows) < 3:
            fig_rows.append({"label": _label(kind, k, d), "times": est.times,
                             "conservative": est.trajectories[0]})
    ev.equal(f"wrong estimates over {total} base points ({len(suite)} manifolds)", wrong, 0,
             role="statement", headline=True, note="; ".join(rows))
    ev.record("smallest gap log10(s_k / s_{k+1}) at t0", min(gaps),
              note="about 2 decades = log10(sigma_T / sigma_0): the normal directions contract "
                   "by sigma_0 / sigma_T")
    ev.figure("trajectories", _trajectory_figure(fig_rows),
              caption="Singular values of Y(t) against t (exact score): k saturate, D - k "
                      "vanish like sigma_t")
    ev.note(f"Flow from alpha_t0 x_0 at t0 = {t0:.3g} (sigma = 0.01) to T = 1 with its "
            "variational equation (exact score Jacobians), Y(t) = J(t) J(T)^-1.")
    return ev


def _trajectory_figure(rows):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4 * max(len(rows), 1), 3))
    for j, row in enumerate(rows):
        ax = fig.add_subplot(1, max(len(rows), 1), j + 1)
        ax.loglog(row["times"], row["conservative"], lw=1)
        ax.set_title(row["label"], fontsize=8)
        ax.set_xlabel("t", fontsize=8)
        ax.set_ylabel("singular values of Y(t)", fontsize=8)
    fig.tight_layout()
    return fig


LEVEL = 1e-6
DRIFT_TOL = 1e-2
"""Tolerance (decades) on the Richardson estimate of the RK4 error of the log10 singular values
of Y(t0) at N steps, max |log10 s_N - log10 s_{N/2}| / 15 (RK4 is fourth order: the N/2-step
error is 16 times the N-step one; the observed ratio of successive differences on the
stiffest base points was 19-20). Measured spread: over run seeds 0..19 of the quick tier the
estimate was at most 1.3e-3 decades; over 29 further seeds of the same experiment the raw
difference reached 0.023 (estimate 1.5e-3) on a base point where a plane-wave gauge field
squeezes one normal singular value to 1e-6.5. The bound sits more than 6x outside that spread,
and 100x below the gaps of 1-2 decades the estimator reads. (The old witness held the raw
difference at N = 200 to 0.05 and measured 0.004-0.055 across seeds: issue 14.)"""


def paired_experiment(ctx, suite, draws, points, steps, estimator, variants):
    r"""The estimator's error with the exact score and with score + gauge field, paired.

    For each manifold of ``suite`` and each of ``draws`` gauge fields drawn
    afresh (a random skew C and, for the plane wave, a random wave vector and
    phase), ``points`` base points are drawn uniformly on the manifold; the
    estimate at each base point is computed with the exact score and with the
    exact score plus the gauge field (the score SVD uses the same K noise draws
    for both). Returns one row per (manifold, draw, variant) with the errors
    :math:`|\hat k - k|`, and, for the flow Jacobian, the largest change of a
    log10 singular value between ``steps`` and ``steps // 2`` RK4 steps
    (``drift``, over both fields) and the base points whose estimate (with either
    field) differs between the two (``unresolved``).
    """
    from toytheory.gauge.fields import ModelField
    from toytheory.gauge.id_experiments import time_at_noise
    from toytheory.gauge.intrinsic_dimension import (flow_jacobian_estimate, log_snr_time_grid,
                                                     score_svd_estimate)
    from toytheory.gauge.toys import schedule

    sched = schedule()
    t0 = time_at_noise(sched, 0.01)
    a0, s0 = (float(v) for v in sched.marginal(t0))
    out = []
    for i, (kind, k, d) in enumerate(suite):
        m = make_manifold(kind, k, d, ctx.seed_for("manifold", str(i)))
        xs = m.sample(400, a0, s0, ctx.rng(estimator, "energy", str(i)))
        score_energy = float(np.mean(np.sum(m.score(xs, a0, s0) ** 2, axis=1)))
        for j in range(draws):
            rng = ctx.rng(estimator, str(i), str(j))
            y = m.sample_data(points, rng)
            fields = gauge_variants(m, sched, rng)
            seed = ctx.seed_for("samples", str(i), str(j))

            def run(field, n_steps):
                if estimator == "jac":
                    return flow_jacobian_estimate(
                        field, y, log_snr_time_grid(sched, t0, float(sched.t_max), n_steps))
                return score_svd_estimate(field, y, t0, n_samples(d),
                                          np.random.default_rng(seed))

            def drift(field, n_steps, est):
                """(largest change of a log10 singular value, estimates changed) N vs N/2."""
                if estimator != "jac":
                    return 0.0, np.zeros(est.estimates.shape, bool)
                half = run(field, n_steps // 2)
                return (float(np.max(np.abs(np.log10(est.singular_values)
                                            - np.log10(half.singular_values)))),
                        est.estimates != half.estimates)

            exact_field = ModelField(m, sched)
            cons = run(exact_field, steps)
            cons_drift, cons_moved = drift(exact_field, steps, cons)
            for name in variants:
                g, factor = fields[name]
                field = ModelField(m, sched, gauges=[g])
                est = run(field, steps * factor)
                gauge_drift, gauge_moved = drift(field, steps * factor, est)
                flux = g.flux_divergence(xs[:100], t0)
                scale = np.sqrt(np.mean(np.sum(g(xs[:100], t0) ** 2, axis=1)) * score_energy)
                out.append({
                    "label": _label(kind, k, d), "variant": name, "k": k, "draw": j,
                    "conservative": cons, "gauge": est,
                    "err_cons": np.abs(cons.estimates - k), "err_gauge": np.abs(est.estimates - k),
                    "energy": float(np.mean(np.sum(g(xs, t0) ** 2, axis=1))) / score_energy,
                    "flux": float(np.max(np.abs(flux)) / scale),
                    "drift": max(cons_drift, gauge_drift),
                    "unresolved": cons_moved | gauge_moved})
    return out


def decisive_fraction(worse, better, level=LEVEL):
    """Clopper-Pearson interval of q = P(gauge worse | the gauge part changes the error).

    Given the number D = worse + better of pairs whose errors differ, ``worse``
    is binomial(D, q) for i.i.d. pairs (and less dispersed than that for the
    stratified design, so the interval stays valid). Returns (estimate, (lo, hi),
    detectable, decide_n) where ``detectable`` is the smallest q whose
    1e-6-quantile of Bin(D, q) still puts the interval above 1/2 (power 1 - 1e-6)
    and ``decide_n`` the number of discordant pairs at which the observed
    fraction would decide.
    """
    from scipy import stats as st

    from toytheory.stats import exact_binomial_interval

    n = worse + better
    if n == 0:
        return 0.5, (0.0, 1.0), "no pair changed: nothing detectable", None
    lo, hi = exact_binomial_interval(worse, n, level)

    def decides(x, m):
        low, high = exact_binomial_interval(x, m, level)
        return low >= 0.5 or high < 0.5

    detectable = None
    for q in np.linspace(0.5, 1.0, 51)[1:]:
        x = int(st.binom.ppf(level, n, q))
        if exact_binomial_interval(x, n, level)[0] >= 0.5:
            detectable = float(q)
            break
    det = (f"q >= {detectable:.2f} is detected with probability 1 - 1e-6 at D = {n} "
           "discordant pairs" if detectable is not None else
           f"no q is detected with probability 1 - 1e-6 at D = {n} discordant pairs "
           "(needs D >= 21)")
    decide = None
    qhat = worse / n
    if not (lo >= 0.5 or hi < 0.5) and qhat != 0.5:
        m = n
        while m < 10 ** 6 and not decides(int(round(qhat * m)), m):
            m = int(m * 1.25) + 1
        decide = m
    return qhat, (lo, hi), det, decide


def hold_desirable(ev, rows, estimator_name):
    """Witness and statement numbers shared by the two 'conservative is desirable' claims."""
    from toytheory.stats import exact_binomial_interval

    err_c = np.concatenate([r["err_cons"] for r in rows])
    err_g = np.concatenate([r["err_gauge"] for r in rows])
    unresolved = np.concatenate([r["unresolved"] for r in rows])
    # a pair the integration could flip counts against the paper
    worse = int(np.sum((err_g > err_c) & ~unresolved))
    better = int(np.sum((err_g < err_c) | unresolved))
    n = err_c.size
    qhat, (lo, hi), det, decide = decisive_fraction(worse, better)
    ev.interval(f"{estimator_name}: among (manifold, base point, gauge field) draws where the "
                "gauge part changes the estimator's error |k_hat - k|, the fraction where it "
                "increases it", qhat, (lo, hi), 0.5, side=">=", level=LEVEL, headline=True,
                detectable=det, decide_n=decide,
                note=f"{worse} worse, {better} better, {n - worse - better} unchanged of {n} "
                     "draws" + (f" ({int(np.sum(unresolved))} whose estimate changes between "
                                "N and N/2 RK4 steps, counted as better)"
                                if estimator_name == "flow Jacobian" else "")
                     + "; exact binomial (Clopper-Pearson) interval given the number of "
                       "discordant draws")
    if not lo >= 0.5:
        ev.referee_note(
            says="'when it comes to inferring local information of the data manifold, "
                 "constraining the vector field to be conservative is desirable' (abstract)",
            toy=f"the {estimator_name} intrinsic-dimension estimator on exact scores of noised "
                "spheres, tori and subspaces, with and without an exact gauge field "
                "(div(p_t r) = 0, checked), paired at the same base points",
            measured=f"{worse} draws where the gauge part increased the error |k_hat - k|, "
                     f"{better} where it decreased it, of {n}; fraction worse among the "
                     f"changed: {qhat:.3g}, Clopper-Pearson interval at 1e-6 [{lo:.3g}, "
                     f"{hi:.3g}] against 1/2",
            inside="the paper's statement is about any vector field with the exact marginals; "
                   "exact scores and exact gauge fields are its idealised setting, and the "
                   "estimator reads the local dimension, the 'local information' it names",
            would_change="more draws (decide_n) if the interval straddles 1/2; a gauge "
                         "family that changes the error more often")
    plo, phi = exact_binomial_interval(worse, n, LEVEL)
    ev.record(f"{estimator_name}: fraction of all draws where the gauge part increases the "
              "error", worse / n, note=f"Clopper-Pearson interval at 1e-6: [{plo:.3g}, {phi:.3g}]")
    ev.record(f"{estimator_name}: mean error with the exact score / with score + gauge field",
              f"{np.mean(err_c):.3g} / {np.mean(err_g):.3g}",
              note="error |k_hat - k| per base point")
    table = {}
    for r in rows:
        key = f"{r['label']} / {r['variant']}"
        w, b, c = table.get(key, (0, 0, 0))
        table[key] = (w + int(np.sum(r["err_gauge"] > r["err_cons"])),
                      b + int(np.sum(r["err_gauge"] < r["err_cons"])), c + r["err_cons"].size)
    ev.note(f"{estimator_name}, gauge part worse / better / draws per manifold and gauge "
            "family: " + "; ".join(f"{key}: {w}/{b}/{c}" for key, (w, b, c) in table.items()))
    return worse, better, n


def gauge_witnesses(ev, rows, rng):
    """Witnesses before statements: the laws, the gauge fields, (flow) the integration."""
    manifold_witnesses(ev, rng)
    ev.at_most("every gauge field used: max |div(p_t r)/p_t| / (|r| |score|) at points of "
               "p_t0", max(r["flux"] for r in rows), 1e-10,
               note="the gauge condition, so the field has the exact marginals")


@claim(
    "gauge.intrinsic_dimension.gauge_field_breaks_flow_jacobian",
    paper=SEED,
    statement=("For the flow-Jacobian intrinsic-dimension estimator a conservative field is "
               "desirable: where adding a gauge field (same marginals, non-conservative) to the "
               "exact score changes the estimator's error, it increases it more often than it "
               "decreases it."),
    kind="paper",
    source=ABSTRACT_LOCAL,
    reading=("'Desirable' read for the flow-Jacobian estimator (the singular values of the "
             "PF-ODE map's Jacobian Y(t0)): over draws of a manifold (sphere, torus, subspace; "
             "k = 1, 2, D = 3..10), a base point uniform on it and a gauge field r "
             "(div(p_t r) = 0), the gauge part must increase the estimator's error |k_hat - k| "
             "more often than it decreases it: q = P(worse | error changed) >= 1/2, decided by "
             "an exact binomial interval at 1e-6 (holds when it lies above 1/2, refuted below, "
             "inconclusive if it straddles or the gauge part never changes the error). This is "
             "the abstract's strength, no sharper: the earlier reading 'breaks the estimator at "
             "every base point' was sharper than the paper and is not claimed. The quick tier "
             "draws plane-wave gauge fields only (score rotations never change this estimate, "
             "so they add no discordant pair; the full tier includes them)."),
    witnesses=("exact", "simulated"),
    quick={"suite": GAUGE_SUITE_QUICK, "draws": 2, "points": 90, "steps": 160,
           "variants": ("plane-wave h",)},
    full={"suite": GAUGE_SUITE_FULL, "draws": 4, "points": 60, "steps": 400,
          "variants": ("plane-wave h", "rotation a=3", "rotation a=10")},
)
def gauge_field_breaks_flow_jacobian(ctx, suite, draws, points, steps, variants):
    ev = ctx.evidence()
    rows = paired_experiment(ctx, suite, draws, points, steps, "jac", variants)
    gauge_witnesses(ev, rows, ctx.rng("witness"))
    drift = max(r["drift"] for r in rows)
    ev.at_most("integration converged: Richardson estimate of the RK4 error of the log10 "
               "singular values of Y(t0), max |log10 s_N - log10 s_N/2| / 15 (exact score and "
               "score + gauge field)", drift / 15.0, DRIFT_TOL,
               note=f"N = {steps} log-SNR steps for the exact score, x4 for a plane-wave gauge "
                    f"field, x3 for a score rotation with a = 10; raw difference {drift:.3g}. "
                    "Spread over seeds: at most 1.3e-3 (run seeds 0..19), 1.5e-3 (29 further "
                    "seeds of the experiment), so the bound is > 6x outside it (DRIFT_TOL)")
    hold_desirable(ev, rows, "flow Jacobian")
    ev.record("gauge energy E|r|^2 / E|score|^2 at t0 (largest drawn)",
              max(r["energy"] for r in rows))
    fig_rows = [{"label": f"{r['label']} / {r['variant']}", "k": r["k"],
                 "jac": r["conservative"].singular_values[0],
                 "jac_gauge": r["gauge"].singular_values[0]}
                for r in rows[::max(draws * len(variants), 1)][:3]]
    ev.figure("spectra", _spectra_pair_figure(fig_rows, "jac", False),
              caption="Log singular values of Y(t0): exact score vs score + gauge field; the "
                      "dotted line is after the k-th value")
    ev.note("Every flow with the exact marginals maps p_T onto p_t0, within sigma_0 of the "
            "manifold, so its Jacobian must contract the D - k normal directions in product "
            "(|det Y| = p_T(x_T) / p_t0(x_t0)); a gauge field can only redistribute the "
            "contraction among them. Score rotations leave the estimate at k everywhere; a "
            "sheared plane-wave field spreads the normal singular values and makes the estimate "
            "wrong at some base points, and never makes a wrong estimate right. So the gauge "
            "part does harm this estimator, but rarely, unlike the score-SVD estimator "
            "(gauge.intrinsic_dimension.gauge_field_breaks_score_svd).")
    return ev


def _spectra_pair_figure(rows, key, gap_after_normal):
    """Normalised singular values, exact score vs score + gauge field, one panel per manifold."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4 * max(len(rows), 1), 3))
    for j, row in enumerate(rows):
        ax = fig.add_subplot(1, max(len(rows), 1), j + 1)
        for suffix, style, name in (("", "o-", "exact score"),
                                    ("_gauge", "s--", "score + gauge field")):
            v = np.asarray(row[key + suffix])
            ax.semilogy(np.arange(1, v.size + 1), v / v[0], style, ms=3, lw=1, label=name)
        d = len(row[key])
        ax.axvline((d - row["k"] if gap_after_normal else row["k"]) + 0.5, color="k", lw=0.7,
                   ls=":")
        ax.set_title(row["label"], fontsize=8)
        ax.set_xlabel("index i", fontsize=8)
        if j == 0:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


@claim(
    "gauge.intrinsic_dimension.gauge_field_breaks_score_svd",
    paper=SEED,
    statement=("For the score-SVD intrinsic-dimension estimator a conservative field is "
               "desirable: where adding a gauge field (same marginals, non-conservative) to the "
               "exact score changes the estimator's error, it increases it more often than it "
               "decreases it."),
    kind="paper",
    source=ABSTRACT_LOCAL,
    reading=("'Desirable' read for the score-SVD estimator of Stanczuk et al. (the estimator "
             "the paper analyses): over draws of a manifold (sphere, torus, subspace; k = 1, 2, "
             "D = 3..10), a base point uniform on it and a gauge field r (score rotations with "
             "a = 3, 10 and a sheared plane-wave field, each with a random skew C), the gauge "
             "part must increase the estimator's error |k_hat - k| more often than it decreases "
             "it: q = P(worse | error changed) >= 1/2 by an exact binomial interval at 1e-6. The "
             "same K noise draws serve both fields, so the pair differs only by the gauge "
             "part. Not sharper than the abstract: how often the gauge part breaks the estimate "
             "is recorded, not claimed."),
    witnesses=("exact",),
    quick={"suite": GAUGE_SUITE_QUICK, "draws": 2, "points": 8,
           "variants": ("rotation a=3", "rotation a=10", "plane-wave h")},
    full={"suite": GAUGE_SUITE_FULL, "draws": 4, "points": 25,
          "variants": ("rotation a=3", "rotation a=10", "plane-wave h")},
)
def gauge_field_breaks_score_svd(ctx, suite, draws, points, variants):
    from toytheory.gauge.intrinsic_dimension import gap_dimension

    ev = ctx.evidence()
    rows = paired_experiment(ctx, suite, draws, points, 1, "svd", variants)
    gauge_witnesses(ev, rows, ctx.rng("witness"))
    hold_desirable(ev, rows, "score SVD")
    broken = sorted({f"{r['label']} / {r['variant']}" for r in rows
                     if np.all(r["err_gauge"] > 0) and np.all(r["err_cons"] == 0)})
    ev.record("gauge draws that make the estimate wrong at every base point",
              len(broken), note="; ".join(broken) if broken else "none")
    wrong_log = sum(int(np.sum(gap_dimension(r["gauge"].singular_values, log=True, normal=True)
                               != r["k"])) for r in rows)
    total = sum(r["gauge"].estimates.size for r in rows)
    ev.record("with the largest gap of log s_i instead of s_i: wrong estimates with a gauge "
              "field", f"{wrong_log} of {total}",
              note="the gauge field spreads the normal singular values, which mostly fools the "
                   "linear-gap rule of the estimator")
    fig_rows = [{"label": r["label"], "k": r["k"],
                 "svd": r["conservative"].singular_values[0],
                 "svd_gauge": r["gauge"].singular_values[0]}
                for r in rows if r["variant"] == "rotation a=3" and r["draw"] == 0][:3]
    ev.figure("spectra", _spectra_pair_figure(fig_rows, "svd", True),
              caption="Score-SVD spectra: exact score vs score + gauge field (rotation a = 3)")
    ev.note("Why: the stacked field values (I + a C) grad log p span the same number of "
            "directions, but the gauge term spreads the D - k large singular values over a "
            "range wider than the gap to the k small ones, and the estimator's rule (largest "
            "linear gap) then lands inside the normal block. A gauge field cannot change the "
            "marginals, yet it changes what the field says about the local geometry. The "
            "estimator is the published one (linear gaps); a log-gap rule is fooled less "
            "often, but not never (see the record above).")
    return ev

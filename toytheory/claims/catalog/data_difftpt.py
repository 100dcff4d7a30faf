"""DiffTPT: test-time prompt tuning with exact-diffusion augmentations on a Gaussian
mixture, against TPT with standard augmentations."""

from __future__ import annotations

import numpy as np

from toytheory import stats
from toytheory.claims import claim

PAPER = "Diverse Data Augmentation with Diffusions for Effective Test-time Prompt Tuning"
LEVEL = 1e-6
VAR = np.array([0.3] * 4 + [3.0] * 4)


def paired_gain_interval(b: int, c: int, n: int, level: float) -> tuple[float, float]:
    """Interval for :math:`P(\\text{only A right}) - P(\\text{only B right})` from ``b`` and
    ``c`` discordant pairs of ``n``: Clopper-Pearson on the discordance rate and on the
    share of A among discordant pairs, each at ``level / 2`` (union bound)."""
    m = b + c
    d_lo, d_hi = stats.exact_binomial_interval(m, n, level / 2)
    if m == 0:
        return -d_hi, d_hi
    t_lo, t_hi = stats.exact_binomial_interval(b, m, level / 2)
    up, lo = 2 * t_hi - 1, 2 * t_lo - 1
    return (lo * (d_hi if lo < 0 else d_lo), up * (d_hi if up > 0 else d_lo))


def accuracies(ctx, domains, per_domain, views, a, jitter, keep, lr):
    from toytheory.data.tta import (GMMSource, cosine_filter, diffusion_views,
                                    standard_views, tpt_predict_batch)

    names = ("zero-shot", "TPT", "DiffTPT", "DiffTPT unfiltered")
    right = {n: [] for n in names}
    for dom in range(domains):
        rng = ctx.rng("domain", str(dom))
        K, d = 4, VAR.size
        means = rng.normal(0, 1.0, (K, d))
        src = GMMSource(means, 1.0, VAR)
        delta = rng.normal(size=d)
        delta /= np.linalg.norm(delta)
        ys, xs, st, filt, unf = [], [], [], [], []
        for _ in range(per_domain):
            y = int(rng.integers(K))
            x = means[y] + delta + np.sqrt(VAR) * rng.standard_normal(d)
            s = standard_views(x, views, jitter, rng)
            df = diffusion_views(src, x, views, a, rng)
            ys.append(y)
            xs.append(x)
            st.append(s)
            filt.append(np.vstack([s, cosine_filter(x, df, keep)]))
            unf.append(np.vstack([s, df]))
        ys, xs = np.array(ys), np.array(xs)
        right["zero-shot"].append(np.argmax(src.logits(xs), axis=1) == ys)
        for name, v in (("TPT", st), ("DiffTPT", filt), ("DiffTPT unfiltered", unf)):
            right[name].append(tpt_predict_batch(src, xs, np.array(v), lr=lr) == ys)
    return {n: np.concatenate(v) for n, v in right.items()}


@claim(
    "data.difftpt.diffusion_views_beat_standard_tpt",
    paper=PAPER,
    kind="paper",
    source=("Abstract: \"Our experiments on test datasets with distribution shifts and unseen "
            "categories demonstrate that DiffTPT improves the zero-shot accuracy by an "
            "average of 5.13% compared to the state-of-the-art TPT method.\""),
    reading=("Toy: 4 classes in 8 dimensions, source law N(m_k, diag(0.3 x4, 3 x4)); the "
             "pre-trained classifier is the nearest-mean rule with the isotropic metric (it "
             "knows the class embeddings, not the anisotropy: the diffusion model knows more "
             "than the classifier, the paper's premise); each domain shifts the test inputs "
             "by a unit vector. The prompt is an input translation tuned per test point by "
             "one entropy-gradient step over the 10% most confident views. TPT: 32 jittered "
             "views; DiffTPT: those plus the 16 of 32 SDEdit views (noise level a = 0.7, "
             "exact GMM posterior) most cosine-similar to the test point. 'Improves the "
             "accuracy' read as a gain of at least 1 percentage point (a fifth of the "
             "paper's 5.13%): the paired accuracy gain's interval (Clopper-Pearson on the "
             "discordant pairs, level 1e-6) decides. The abstract's separate filtration "
             "claim ('to ensure the prediction fidelity') is recorded, not held. The toy is "
             "not CLIP: its prompt is a translation, which cannot reweight features."),
    statement=("On a shifted Gaussian-mixture test domain, test-time tuning with filtered "
               "diffusion views raises accuracy by at least 1 percentage point over TPT with "
               "standard views."),
    witnesses=("exact", "simulated"),
    quick={"domains": 250, "per_domain": 80, "views": 32, "a": 0.7, "jitter": 0.5,
           "keep": 16, "lr": 1.0, "draws": 20000},
    full={"domains": 1000, "per_domain": 100, "views": 32, "a": 0.7, "jitter": 0.5,
          "keep": 16, "lr": 1.0, "draws": 200000},
)
def diffusion_views_beat_standard_tpt(ctx, domains, per_domain, views, a, jitter, keep, lr,
                                      draws):
    from toytheory.data.tta import GMMSource, diffusion_views, gmm_posterior_sample

    ev = ctx.evidence()
    rng = ctx.rng("witness")
    src = GMMSource(rng.normal(0, 1.0, (4, VAR.size)), 1.0, VAR)
    # (i) the exact posterior sampler's mean is Tweedie's E[x0 | xt] from the closed-form
    # density of x_t (central finite differences of log p_t)
    xt = a * src.means[0] + rng.normal(size=VAR.size)
    h = 1e-5
    score = np.array([(src.log_density_t((xt + h * e)[None], a)
                       - src.log_density_t((xt - h * e)[None], a)) / (2 * h)
                      for e in np.eye(VAR.size)])
    tweedie = (xt + (1 - a * a) * score) / a
    x0 = gmm_posterior_sample(src, xt, a, draws, rng)
    # light-tailed: posterior draws and SDEdit views of a Gaussian mixture are Gaussian-
    # mixture coordinates (sub-Gaussian); size at 1e-3 measured in tests/claims/test_mean_test_false_alarm.py
    tests = [stats.mean_test(x0[:, j], tweedie[j], LEVEL / VAR.size) for j in range(VAR.size)]
    ev.test(f"posterior draws' mean = Tweedie's formula from the closed-form p_t, {draws} "
            "draws, every coordinate (t-tests, Bonferroni)", stats.bonferroni(tests, LEVEL))
    # (ii) SDEdit views of a source draw are source draws (the posterior undoes the noise)
    k = rng.integers(4, size=2000)
    xs = src.means[k] + np.sqrt(VAR) * rng.standard_normal((2000, VAR.size))
    v = np.vstack([diffusion_views(src, x, 1, a, rng) for x in xs])
    tests = [stats.mean_test(v[:, j], float(src.means[:, j].mean()), LEVEL / VAR.size)
             for j in range(VAR.size)]
    ev.test("SDEdit views of 2000 source draws have the source mean (t-tests, Bonferroni)",
            stats.bonferroni(tests, LEVEL))
    right = accuracies(ctx, domains, per_domain, views, a, jitter, keep, lr)
    n = right["TPT"].size
    b = int(np.count_nonzero(right["DiffTPT"] & ~right["TPT"]))
    c = int(np.count_nonzero(~right["DiffTPT"] & right["TPT"]))
    lo, hi = paired_gain_interval(b, c, n, LEVEL)
    ev.interval(f"accuracy gain of DiffTPT over TPT, {n} shifted test points (paired)",
                (b - c) / n, (lo, hi), 0.01, side=">=", level=LEVEL,
                detectable=f"gains outside [{lo:.3f}, {hi:.3f}]", decide_n=4 * n,
                headline=True)
    for name, r in right.items():
        ev.record(f"accuracy, {name}", float(r.mean()))
    if ev.verdict != "holds":
        ev.referee_note(
            says="DiffTPT improves the zero-shot accuracy by an average of 5.13% compared to "
                 "the state-of-the-art TPT method",
            toy="4-class anisotropic Gaussian mixture in 8 dimensions, shifted test domains, "
                "isotropic nearest-mean classifier, translation prompt tuned by one entropy "
                "step, exact GMM SDEdit views with cosine filtering",
            measured="paired accuracy gain of DiffTPT over TPT with its interval (Clopper-"
                     "Pearson on discordant pairs, level 1e-6), against a 1-point threshold",
            inside="test-time tuning by entropy over augmented views with confidence "
                   "selection, views from a diffusion model of the source data, filtered by "
                   "cosine similarity to the test sample",
            would_change="a richer prompt (one that can reweight features, as text prompts "
                         "reweight CLIP's), or a diffusion model that knows the target domain")
    return ev

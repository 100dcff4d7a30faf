r"""A trained MLP's score error against the training-set size n, on Gaussian data, next to
the plug-in estimator and the empirical law's score.

Data :math:`N(\mu, \operatorname{diag} v)` in small :math:`d`; DDPM's linear betas
(:class:`~toytheory.diffusion.schedules.DiscreteVP`, T = 1000), so
:math:`p_t = N(\alpha_t\mu,\; C_t)`, :math:`C_t = \alpha_t^2\operatorname{diag}v +
\sigma_t^2 I`, and the exact noise prediction is

.. math:: \varepsilon^*_t(x) = E[\varepsilon \mid x_t = x] = \sigma_t C_t^{-1}(x - \alpha_t\mu)
          = -\sigma_t\nabla\log p_t(x).

Three estimators from the same n training points, each measured by its noise-prediction
error per coordinate at level t,

.. math:: e(t) = \tfrac1d\,E_{x\sim p_t}\|\hat\varepsilon_t(x) - \varepsilon^*_t(x)\|^2
          = \tfrac{\sigma_t^2}{d}\,E_{x\sim p_t}\|\hat s_t(x) - \nabla\log p_t(x)\|^2,

and by its time average :math:`\bar e = E_{t\sim U}\,e(t)`, the excess of the DDPM loss
over the Bayes loss (the score-matching risk that score-estimation theory bounds):

- the trained MLP (:func:`~toytheory.diffusion.learned.train_eps_mlp`): :math:`e(t)` by
  Gauss–Hermite quadrature over :math:`p_t` (:func:`eps_error_by_level`), deterministic
  given the network;
- the plug-in score (:mod:`.score_rates`): :math:`e(t)` exact given the estimate
  (:func:`plugin_eps_error`), and exact in expectation at zero noise
  (:func:`~toytheory.diffusion.score_rates.expected_score_error_plugin`);
- the empirical law's score (:class:`~toytheory.diffusion.laws.DeltaMixture` of the
  training set), which memorises (:func:`~toytheory.diffusion.score_rates.pf_ode_empirical`):
  :math:`e(t)` by Monte Carlo over :math:`p_t` (:func:`empirical_eps_error`; its error is
  concentrated near the training points at small noise, where quadrature would not
  resolve it).

Paper: "An Overview of Diffusion Models: Applications, Guided Generation, Statistical Rates
and Optimization" (its statistical rates for score estimation).
"""

from __future__ import annotations

import numpy as np

from .._random import as_generator
from .._validation import as_float_array, check_int
from .laws import DeltaMixture, GaussianMixture
from .schedules import DiscreteVP

__all__ = ["RATES_MEAN", "RATES_VAR", "QUICK_TRAIN_RATES", "TIME_GRID", "rates_law",
           "gaussian_eps", "eps_error_by_level", "plugin_eps_error", "empirical_eps_error",
           "trained_rates_model", "plugin_eps_fn", "compare_by_n"]

RATES_MEAN = (-1.0, 1.0)
RATES_VAR = (0.5, 2.0)
"""The toy's data law: N(RATES_MEAN, diag RATES_VAR), d = 2 (the variances of the plug-in
claim's diagonal Sigma, linspace(0.5, 2, d))."""

QUICK_TRAIN_RATES = {"steps": 400, "batch": 64, "width": 32, "depth": 2, "lr": 1e-2}
"""Training of the rates MLP (TrainConfig fields besides n_train and seed): about 0.3 s a
model on an idle core, cached on disk."""

TIME_GRID = np.arange(5, 1000, 10)
"""The 100 timesteps 5, 15, ..., 995 whose mean of e(t) stands for the uniform-t average."""


def rates_law(mean=RATES_MEAN, var=RATES_VAR) -> GaussianMixture:
    """:math:`N(\\mu, \\operatorname{diag} v)` as a one-component diagonal mixture."""
    mu = as_float_array("mean", mean, ndim=1)
    v = as_float_array("var", var, ndim=1)
    if v.shape != mu.shape or np.any(v <= 0):
        raise ValueError("var: must be positive, one per coordinate of mean")
    return GaussianMixture.diagonal(np.ones(1), mu[None], v[None])


def _levels(schedule: DiscreteVP, t):
    acp = schedule.alphas_cumprod[np.asarray(t, dtype=np.int64)]
    return np.sqrt(acp), np.sqrt(1.0 - acp)


def gaussian_eps(x, mean, var, alpha, sigma) -> np.ndarray:
    """Exact :math:`\\varepsilon^* = \\sigma(x - \\alpha\\mu)/(\\alpha^2 v + \\sigma^2)` of
    :math:`N(\\mu, \\operatorname{diag}v)`; ``x`` (n, d), ``alpha``, ``sigma`` scalars or (n,)."""
    x = as_float_array("x", x, ndim=2)
    a = np.reshape(np.asarray(alpha, float), (-1, 1))
    s = np.reshape(np.asarray(sigma, float), (-1, 1))
    mu, v = np.asarray(mean, float)[None], np.asarray(var, float)[None]
    return s * (x - a * mu) / (a * a * v + s * s)


def eps_error_by_level(eps_fn, mean, var, schedule: DiscreteVP, timesteps, *,
                       n_nodes: int = 24, exact_fn=None) -> dict:
    """:math:`e(t)` and the relative error :math:`E\\|\\hat\\varepsilon - \\varepsilon^*\\|^2 /
    E\\|\\varepsilon^*\\|^2` of ``eps_fn(x, t)`` (x (N, d), t (N,) integer timesteps) over
    :math:`p_t = N(\\alpha_t\\mu, \\alpha_t^2 v + \\sigma_t^2)`, by tensor-product
    Gauss–Hermite quadrature with ``n_nodes`` nodes a coordinate (exact for polynomial
    integrands of degree below 2 n_nodes in each coordinate).

    ``exact_fn(x, mean, var, alpha, sigma)``: the exact noise prediction (default
    :func:`gaussian_eps`). Returns a dict of arrays ``t``, ``sigma``, ``error`` (per
    coordinate) and ``relative``.
    """
    mu = as_float_array("mean", mean, ndim=1)
    v = as_float_array("var", var, ndim=1)
    d = mu.size
    n_nodes = check_int("n_nodes", n_nodes, low=2)
    if n_nodes ** d > 200_000:
        raise ValueError(f"n_nodes: n_nodes^d must be at most 200000 (got {n_nodes}^{d})")
    exact_fn = gaussian_eps if exact_fn is None else exact_fn
    z1, w1 = np.polynomial.hermite_e.hermegauss(n_nodes)
    w1 = w1 / np.sqrt(2.0 * np.pi)
    z = np.stack(np.meshgrid(*([z1] * d), indexing="ij"), -1).reshape(-1, d)
    w = np.prod(np.stack(np.meshgrid(*([w1] * d), indexing="ij"), -1).reshape(-1, d), axis=1)
    ts = np.atleast_1d(np.asarray(timesteps, dtype=np.int64))
    a, s = _levels(schedule, ts)
    sd = np.sqrt(a[:, None] ** 2 * v[None] + s[:, None] ** 2)          # (T, d)
    x = (a[:, None, None] * mu[None, None] + sd[:, None] * z[None]).reshape(-1, d)
    a_all, s_all = np.repeat(a, z.shape[0]), np.repeat(s, z.shape[0])
    t_all = np.repeat(ts, z.shape[0])
    exact = exact_fn(x, mu, v, a_all, s_all)
    diff = np.asarray(eps_fn(x, t_all), float) - exact
    num = (np.sum(diff ** 2, axis=1).reshape(ts.size, -1) @ w)
    den = (np.sum(exact ** 2, axis=1).reshape(ts.size, -1) @ w)
    return {"t": ts, "sigma": s, "error": num / d, "relative": num / den}


def plugin_eps_error(mean, var, mean_hat, cov_hat, schedule: DiscreteVP, timesteps
                     ) -> np.ndarray:
    """Exact :math:`e(t)` of the plug-in noise prediction
    :math:`\\sigma_t(\\alpha_t^2\\hat\\Sigma + \\sigma_t^2 I)^{-1}(x - \\alpha_t\\hat\\mu)`
    given the estimate (closed form, :func:`~.score_rates.score_error_given_estimate`
    times :math:`\\sigma_t^2/d`)."""
    from .score_rates import score_error_given_estimate

    mu = as_float_array("mean", mean, ndim=1)
    cov = np.diag(as_float_array("var", var, ndim=1))
    ts = np.atleast_1d(np.asarray(timesteps, dtype=np.int64))
    a, s = _levels(schedule, ts)
    return np.array([sg * sg * score_error_given_estimate(mu, cov, mean_hat, cov_hat, al, sg)
                     for al, sg in zip(a, s)]) / mu.size


def plugin_eps_fn(mean_hat, cov_hat, schedule: DiscreteVP):
    """The plug-in noise prediction as ``eps_fn(x, t)`` (t one timestep per point)."""
    mh = np.asarray(mean_hat, float)
    ch = np.asarray(cov_hat, float)
    d = mh.size

    def eps(x, t):
        a, s = _levels(schedule, t)
        out = np.empty_like(x)
        for tt in np.unique(t):
            sel = t == tt
            al, sg = float(a[sel][0]), float(s[sel][0])
            out[sel] = sg * np.linalg.solve(al * al * ch + sg * sg * np.eye(d),
                                            (x[sel] - al * mh).T).T
        return out

    return eps


def empirical_eps_error(points, mean, var, schedule: DiscreteVP, timesteps, n: int,
                        rng) -> np.ndarray:
    """Monte Carlo :math:`e(t)` of the empirical law's exact noise prediction (the
    :class:`~.laws.DeltaMixture` of ``points``) from ``n`` fresh draws of :math:`p_t`
    a level."""
    n = check_int("n", n, low=1)
    gen = as_generator(rng)
    law = rates_law(mean, var)
    emp = DeltaMixture(as_float_array("points", points, ndim=2))
    out = []
    for t in np.atleast_1d(np.asarray(timesteps, dtype=np.int64)):
        a, s = (float(v) for v in _levels(schedule, t))
        x = law.sample(n, a, s, rng=gen)
        diff = emp.predict(x, a, s, "eps") - gaussian_eps(x, law.means[0], law.eigvals[0], a, s)
        out.append(float(np.sum(diff ** 2) / (n * law.dim)))
    return np.array(out)


def trained_rates_model(n_train: int, seed: int = 0, train=None, cache_dir=None):
    """The eps-MLP trained by the DDPM loss on ``n_train`` points of :func:`rates_law`
    (``train``: other TrainConfig fields, default :data:`QUICK_TRAIN_RATES`)."""
    from .learned import TrainConfig, train_eps_mlp

    cfg = TrainConfig.for_law(rates_law(), n_train=n_train, seed=seed,
                              **(QUICK_TRAIN_RATES if train is None else train))
    return train_eps_mlp(cfg, cache_dir=cache_dir)


def compare_by_n(ns, seeds, *, n_mc: int = 400, rng=None, levels=(0,), train=None,
                 n_nodes: int = 24, cache_dir=None) -> dict:
    """The MLP, the plug-in and the empirical score on the same training sets, against n.

    For each ``n`` in ``ns`` and each training seed in ``seeds[i]`` (a sequence per n):
    the trained MLP's time-averaged error :math:`\\bar e` over :data:`TIME_GRID`
    (quadrature) and its :math:`e(t)` at ``levels``; the plug-in's exact :math:`\\bar e`
    and :math:`e(t)` given the same training set. For the first seed of each n: the
    empirical score's Monte Carlo :math:`\\bar e` and :math:`e(t)` (``n_mc`` draws a level).

    Returns
    -------
    dict
        ``ns``; ``mlp``, ``plugin`` (lists of arrays, one value per seed); ``mlp_levels``,
        ``plugin_levels``, ``empirical_levels`` (len(ns), len(levels)) for the first seed;
        ``empirical`` (len(ns),); ``levels``, ``sigma_levels``; ``trained`` (models
        trained here, not loaded from the cache).
    """
    from .score_rates import plugin_estimate

    gen = as_generator(rng)
    ns = [check_int("ns", n, low=5) for n in ns]
    if len(seeds) != len(ns) or any(len(s) < 1 for s in seeds):
        raise ValueError("seeds: must give at least one training seed per n")
    law = rates_law()
    mu, v = law.means[0], law.eigvals[0]
    levels = np.atleast_1d(np.asarray(levels, dtype=np.int64))
    out = {"ns": np.array(ns), "mlp": [], "plugin": [], "mlp_levels": [], "plugin_levels": [],
           "empirical_levels": [], "empirical": [], "levels": levels, "trained": 0}
    for n, seed_list in zip(ns, seeds):
        mlp, plug = [], []
        for j, seed in enumerate(seed_list):
            model = trained_rates_model(n, int(seed), train, cache_dir)
            out["trained"] += int(not model.from_cache)
            sched = model.schedule
            pts = model.config.training_set()
            mh, ch = plugin_estimate(pts)
            grid = np.concatenate([TIME_GRID, levels])
            e_mlp = eps_error_by_level(model.eps, mu, v, sched, grid, n_nodes=n_nodes)["error"]
            e_plug = plugin_eps_error(mu, v, mh, ch, sched, grid)
            mlp.append(e_mlp[:TIME_GRID.size].mean())
            plug.append(e_plug[:TIME_GRID.size].mean())
            if j == 0:
                out["mlp_levels"].append(e_mlp[TIME_GRID.size:])
                out["plugin_levels"].append(e_plug[TIME_GRID.size:])
                e_emp = empirical_eps_error(pts, mu, v, sched, grid, n_mc, gen)
                out["empirical"].append(e_emp[:TIME_GRID.size].mean())
                out["empirical_levels"].append(e_emp[TIME_GRID.size:])
        out["mlp"].append(np.array(mlp))
        out["plugin"].append(np.array(plug))
    for key in ("mlp_levels", "plugin_levels", "empirical_levels", "empirical"):
        out[key] = np.array(out[key])
    out["sigma_levels"] = _levels(DiscreteVP.ddpm_linear(1000), levels)[1]
    return out

"""Feynman–Kac correctors on Gaussian data, exactly.

The paper: Skreta et al., "Feynman-Kac Correctors in Diffusion: Annealing, Guidance, and
Product of Experts". Its targets are tilted products of diffused laws,

.. math:: \\tilde\\pi_t(x) = \\prod_k p_{k,t}(x)^{c_k},

with ``c = (beta,)`` for annealing (``p_t^beta``), ``c = (1, 1)`` for a product of experts,
``c = (gamma, 1 - gamma)`` for a geometric average and ``c = (w, 1 - w)`` for the
classifier-free-guidance (CFG) path :math:`p_t(x|c)^w p_t(x)^{1-w}`, whose second exponent is
negative for ``w > 1`` (:func:`cfg_path`). For Gaussian data
:math:`p_k = N(m_k, S_k)` on a VP schedule, :math:`p_{k,t} = N(\\alpha_t m_k, C_{k,t})` with
:math:`C_{k,t} = \\alpha_t^2 S_k + \\sigma_t^2 I`, and :math:`\\tilde\\pi_t` is proportional to
the Gaussian with precision :math:`P_t = \\sum_k c_k C_{k,t}^{-1}` and mean
:math:`P_t^{-1} \\sum_k c_k C_{k,t}^{-1} \\alpha_t m_k` at every ``t``.

The naive sampler runs the reverse SDE (reverse time :math:`\\tau = T - t`)

.. math:: dx = v\\,d\\tau + g\\,dW, \\qquad v = -f(t)x + g(t)^2 \\nabla\\log\\tilde\\pi_t(x),

i.e. with the mixed score :math:`\\sum_k c_k \\nabla\\log p_{k,t}`. Its drift is affine, so its
output law is Gaussian; :func:`naive_output_law` integrates the moment ODEs. FKC reweights
the same particles with (REFERENCE.md section 3, from the Fokker–Planck equation)

.. math:: d\\log w = [\\partial_\\tau\\log\\tilde\\pi + \\nabla\\cdot v + \\langle v,
          \\nabla\\log\\tilde\\pi\\rangle - \\tfrac{g^2}{2}(\\Delta\\log\\tilde\\pi
          + \\|\\nabla\\log\\tilde\\pi\\|^2)]\\,d\\tau,

and resamples (systematic) when the effective sample size falls; :func:`fkc_simulate`.
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_int, check_psd, check_real
from .schedules import NoiseSchedule

__all__ = [
    "TiltedGaussianPath", "annealed_path", "product_path", "geometric_path", "cfg_path",
    "cfg_max_scale", "fkc_log_weight_rate",
    "naive_output_law", "euler_maruyama_law", "fkc_simulate", "systematic_resample",
    "kl_gaussian",
]


class TiltedGaussianPath:
    """The path :math:`\\tilde\\pi_t = \\prod_k N(x; \\alpha_t m_k, C_{k,t})^{c_k}`.

    Parameters
    ----------
    schedule : NoiseSchedule
        A variance-preserving schedule (``alpha_t``, ``sigma_t``, ``f``, ``g^2``).
    means : (K, d) array
        Data means :math:`m_k`.
    covs : (K, d, d) array
        Data covariances :math:`S_k` (positive definite).
    exponents : (K,) array
        :math:`c_k \\ne 0`; negative exponents (CFG with ``w > 1``) are allowed when the
        precision :math:`P_t = \\sum_k c_k C_{k,t}^{-1}` is positive definite, i.e. the
        path is a normalisable Gaussian, at every ``t`` (checked on 129 times of the
        schedule; ValueError naming ``exponents`` otherwise).
    """

    def __init__(self, schedule, means, covs, exponents):
        if not isinstance(schedule, NoiseSchedule):
            raise ValueError(f"schedule: must be a NoiseSchedule (got {type(schedule).__name__})")
        self.schedule = schedule
        self.means = as_float_array("means", means, ndim=2)
        k, d = self.means.shape
        if k < 1 or d < 1:
            raise ValueError(f"means: must have shape (K >= 1, d >= 1) (got {self.means.shape})")
        covs = as_float_array("covs", covs, ndim=3)
        if covs.shape != (k, d, d):
            raise ValueError(f"covs: must have shape {(k, d, d)} (got {covs.shape})")
        self.covs = np.stack([check_psd("covs", c, strict=True) for c in covs])
        c = as_float_array("exponents", exponents, ndim=1)
        if c.shape != (k,) or np.any(c == 0) or not np.all(np.isfinite(c)):
            raise ValueError(f"exponents: must be {k} finite non-zero values (got {c!r})")
        self.exponents = c
        self.dim = d
        if np.any(c < 0):
            for t in np.linspace(float(schedule.t_min), float(schedule.t_max), 129):
                if np.linalg.eigvalsh(self.score_affine(t)[0]).min() <= 0:
                    raise ValueError(
                        f"exponents: {c.tolist()} give a precision sum_k c_k C_k,t^-1 that is "
                        f"not positive definite at t = {t:.4g} (the law is not normalisable)")

    @property
    def t_max(self) -> float:
        return float(self.schedule.t_max)

    def expert_marginals(self, t):
        """Means ``(K, d)``, covariances ``(K, d, d)`` and their time derivatives at ``t``."""
        t = self.schedule.check_scalar_t(t)
        a, s = (float(v) for v in self.schedule.marginal(t))
        f = float(self.schedule.drift(t))
        g2 = float(self.schedule.diffusion_sq(t))
        eye = np.eye(self.dim)
        mu = a * self.means
        cov = a * a * self.covs + s * s * eye
        # d alpha/dt = f alpha; d sigma^2/dt = g^2 + 2 f sigma^2
        dmu = f * mu
        dcov = 2 * f * a * a * self.covs + (g2 + 2 * f * s * s) * eye
        return mu, cov, dmu, dcov

    def target(self, t):
        """The normalised target :math:`N(\\mu_t, P_t^{-1})`: ``(mean (d,), cov (d, d))``."""
        prec, b = self.score_affine(t)
        cov = np.linalg.inv(prec)
        return cov @ b, 0.5 * (cov + cov.T)

    def score_affine(self, t):
        """``(P, b)`` with :math:`\\nabla\\log\\tilde\\pi_t(x) = -P x + b`."""
        mu, cov, _, _ = self.expert_marginals(t)
        prec = np.zeros((self.dim, self.dim))
        b = np.zeros(self.dim)
        for c, m, C in zip(self.exponents, mu, cov):
            inv = np.linalg.inv(C)
            prec += c * inv
            b += c * inv @ m
        return 0.5 * (prec + prec.T), b

    def log_target(self, x, t):
        """:math:`\\log\\tilde\\pi_t(x)` (unnormalised: each expert normalised), shape ``(...)``."""
        x = self._x(x)
        mu, cov, _, _ = self.expert_marginals(t)
        out = 0.0
        for c, m, C in zip(self.exponents, mu, cov):
            r = x - m
            q = np.einsum("...i,ij,...j->...", r, np.linalg.inv(C), r)
            out = out + c * (-0.5 * q - 0.5 * np.linalg.slogdet(C)[1]
                             - 0.5 * self.dim * np.log(2 * np.pi))
        return out

    def dlog_target_dt(self, x, t):
        """:math:`\\partial_t\\log\\tilde\\pi_t(x)` (forward time), shape ``(...)``."""
        x = self._x(x)
        mu, cov, dmu, dcov = self.expert_marginals(t)
        out = 0.0
        for c, m, C, dm, dC in zip(self.exponents, mu, cov, dmu, dcov):
            inv = np.linalg.inv(C)
            r = (x - m) @ inv
            out = out + c * (r @ dm + 0.5 * np.einsum("...i,ij,...j->...", r, dC, r)
                             - 0.5 * np.trace(inv @ dC))
        return out

    def reverse_drift_affine(self, t):
        """``(A, a)``: the naive reverse drift :math:`v = A x + a`,
        :math:`A = -f I - g^2 P`, :math:`a = g^2 b`."""
        prec, b = self.score_affine(t)
        f = float(self.schedule.drift(t))
        g2 = float(self.schedule.diffusion_sq(t))
        return -f * np.eye(self.dim) - g2 * prec, g2 * b

    def _x(self, x):
        x = as_float_array("x", x)
        if x.ndim < 1 or x.shape[-1] != self.dim:
            raise ValueError(f"x: must have last axis of length {self.dim} (got {x.shape})")
        return x


def _mean_cov(name, mean, cov):
    m = np.atleast_1d(as_float_array(f"{name}_mean", mean))
    c = np.atleast_2d(as_float_array(f"{name}_cov", cov))
    if m.ndim != 1 or c.shape != (m.size, m.size):
        raise ValueError(f"{name}_cov: must have shape {(m.size, m.size)} (got {c.shape})")
    return m, c


def annealed_path(schedule, mean, cov, beta) -> TiltedGaussianPath:
    """The annealed path :math:`p_t^\\beta` of data :math:`N(m, S)`; ``beta > 0``."""
    beta = check_real("beta", beta, low=0.0, low_open=True)
    m, c = _mean_cov("data", mean, cov)
    return TiltedGaussianPath(schedule, m[None], c[None], [beta])


def product_path(schedule, mean1, cov1, mean2, cov2) -> TiltedGaussianPath:
    """The product of experts :math:`p_{1,t}\\,p_{2,t}` of two Gaussian data laws."""
    m1, c1 = _mean_cov("expert1", mean1, cov1)
    m2, c2 = _mean_cov("expert2", mean2, cov2)
    if m1.size != m2.size:
        raise ValueError(f"mean2: must have dimension {m1.size} (got {m2.size})")
    return TiltedGaussianPath(schedule, np.stack([m1, m2]), np.stack([c1, c2]), [1.0, 1.0])


def geometric_path(schedule, mean1, cov1, mean2, cov2, gamma) -> TiltedGaussianPath:
    """The geometric average :math:`p_{1,t}^\\gamma p_{2,t}^{1-\\gamma}`, ``gamma`` in [0, 1]
    (an end point keeps the one expert with a non-zero exponent)."""
    gamma = check_real("gamma", gamma, low=0.0, high=1.0)
    m1, c1 = _mean_cov("expert1", mean1, cov1)
    m2, c2 = _mean_cov("expert2", mean2, cov2)
    if m1.size != m2.size:
        raise ValueError(f"mean2: must have dimension {m1.size} (got {m2.size})")
    keep = [k for k, c in enumerate((gamma, 1.0 - gamma)) if c > 0]
    means, covs, exps = np.stack([m1, m2]), np.stack([c1, c2]), np.array([gamma, 1 - gamma])
    return TiltedGaussianPath(schedule, means[keep], covs[keep], exps[keep])


def cfg_max_scale(cond_cov, uncond_cov) -> float:
    """The largest CFG scale for which :math:`N(m_c, S_c)^w N(m_u, S_u)^{1-w}` is normalisable.

    For ``w > 1`` the precision :math:`wS_c^{-1} - (w - 1)S_u^{-1}` is positive definite iff
    :math:`(w - 1)\\mu < w`, :math:`\\mu = \\lambda_{\\max}(S_u^{-1}S_c)` (the largest
    generalised eigenvalue): every ``w`` when :math:`\\mu \\le 1` (the conditional law is
    nowhere broader than the unconditional, :math:`S_c \\preceq S_u`), else
    ``w < mu / (mu - 1)``. Along a VP path :math:`C_{k,t} = \\alpha_t^2 S_k + \\sigma_t^2 I`,
    and each ratio :math:`(v^TS_cv + r)/(v^TS_uv + r)`, :math:`r = \\sigma_t^2/\\alpha_t^2`,
    moves monotonically toward 1 as ``t`` grows, so :math:`\\mu_t \\le \\max(\\mu, 1)`:
    the path :math:`p_t(x|c)^w p_t(x)^{1-w}` is normalisable at every ``t`` iff it is at
    ``t = 0``.

    Returns
    -------
    float
        ``inf`` when :math:`\\mu \\le 1`, else :math:`\\mu/(\\mu - 1)` (exclusive bound).
    """
    from scipy.linalg import eigh

    sc = check_psd("cond_cov", np.atleast_2d(as_float_array("cond_cov", cond_cov)), strict=True)
    su = check_psd("uncond_cov", np.atleast_2d(as_float_array("uncond_cov", uncond_cov)),
                   strict=True)
    if sc.shape != su.shape:
        raise ValueError(f"uncond_cov: must have shape {sc.shape} (got {su.shape})")
    mu = float(eigh(sc, su, eigvals_only=True).max())
    return float("inf") if mu <= 1.0 else mu / (mu - 1.0)


def cfg_path(schedule, cond_mean, cond_cov, uncond_mean, uncond_cov, w) -> TiltedGaussianPath:
    """The classifier-free-guidance path :math:`p_t(x|c)^w\\,p_t(x)^{1-w}`, ``w >= 0``.

    Its naive sampler is classifier-free guidance itself: the mixed score
    :math:`w\\nabla\\log p_t(x|c) + (1 - w)\\nabla\\log p_t(x)` (in the
    :math:`(1 + w')\\hat\\varepsilon_c - w'\\hat\\varepsilon` convention of
    :mod:`toytheory.diffusion.guidance`, ``w' = w - 1``). For ``w > 1`` the unconditional
    exponent is negative: the law exists only for ``w <`` :func:`cfg_max_scale`
    (ValueError naming ``w`` otherwise); ``w`` in [0, 1] is :func:`geometric_path`.
    ``w = 1`` is the conditional law alone.
    """
    w = check_real("w", w, low=0.0)
    mc, sc = _mean_cov("cond", cond_mean, cond_cov)
    mu, su = _mean_cov("uncond", uncond_mean, uncond_cov)
    if mc.size != mu.size:
        raise ValueError(f"uncond_mean: must have dimension {mc.size} (got {mu.size})")
    if w > 1.0:
        top = cfg_max_scale(sc, su)
        if not w < top:
            raise ValueError(f"w: p(x|c)^w p(x)^(1-w) is not normalisable for w >= {top:.6g} "
                             f"with these covariances (got {w})")
    keep = [k for k, c in enumerate((w, 1.0 - w)) if c != 0]
    means, covs, exps = np.stack([mc, mu]), np.stack([sc, su]), np.array([w, 1.0 - w])
    return TiltedGaussianPath(schedule, means[keep], covs[keep], exps[keep])


def fkc_log_weight_rate(path: TiltedGaussianPath, x, t, *, drop: str | None = None):
    """The FKC weight rate :math:`G` with :math:`d\\log w = G\\,d\\tau` for the naive drift.

    .. math:: G = -\\partial_t\\log\\tilde\\pi + \\mathrm{tr}A + \\langle v, s\\rangle
              - \\tfrac{g^2}{2}(-\\mathrm{tr}P + \\|s\\|^2),
              \\quad s = -Px + b,\\ v = Ax + a

    (reverse time :math:`\\tau = T - t`, so :math:`\\partial_\\tau = -\\partial_t`).

    Parameters
    ----------
    path : TiltedGaussianPath
    x : (..., d) array
    t : float
        Forward time.
    drop : {None, "time", "divergence", "inner", "laplacian"}
        Leave one term out (for planted-failure tests only).

    Returns
    -------
    (...) array
    """
    if drop not in (None, "time", "divergence", "inner", "laplacian"):
        raise ValueError(f"drop: must be None, 'time', 'divergence', 'inner' or 'laplacian' "
                         f"(got {drop!r})")
    x = path._x(x)
    prec, b = path.score_affine(t)
    A, a = path.reverse_drift_affine(t)
    g2 = float(path.schedule.diffusion_sq(t))
    s = b - x @ prec
    v = x @ A.T + a
    terms = {
        "time": -path.dlog_target_dt(x, t),
        "divergence": np.trace(A) + 0.0 * x[..., 0],
        "inner": np.sum(v * s, axis=-1),
        "laplacian": -0.5 * g2 * (-np.trace(prec) + np.sum(s * s, axis=-1)),
    }
    return sum(val for key, val in terms.items() if key != drop)


def _check_t_end(path, t_end):
    t_end = check_real("t_end", t_end, low=float(path.schedule.t_min))
    if t_end >= path.t_max:
        raise ValueError(f"t_end: must be < t_max = {path.t_max} (got {t_end})")
    return t_end


def naive_output_law(path: TiltedGaussianPath, t_end: float = 0.0, *, rtol: float = 1e-10,
                     atol: float = 1e-12):
    """Exact output law of the naive reverse SDE started from the exact target at ``t_max``.

    The drift is affine, so the law stays Gaussian; its moments solve
    :math:`\\dot m = A m + a`, :math:`\\dot\\Sigma = A\\Sigma + \\Sigma A^T + g^2 I` in reverse
    time (``scipy.integrate.solve_ivp``, DOP853).

    Returns
    -------
    mean : (d,) array
    cov : (d, d) array
    """
    from scipy.integrate import solve_ivp

    t_end = _check_t_end(path, t_end)
    rtol = check_real("rtol", rtol, low=0.0, low_open=True)
    atol = check_real("atol", atol, low=0.0, low_open=True)
    d = path.dim
    m0, c0 = path.target(path.t_max)

    def rhs(t, y):  # forward-time derivative: d/dt = -d/dtau
        m, S = y[:d], y[d:].reshape(d, d)
        A, a = path.reverse_drift_affine(min(max(t, t_end), path.t_max))
        g2 = float(path.schedule.diffusion_sq(min(max(t, t_end), path.t_max)))
        dS = A @ S + S @ A.T + g2 * np.eye(d)
        return -np.concatenate([A @ m + a, dS.ravel()])

    sol = solve_ivp(rhs, (path.t_max, t_end), np.concatenate([m0, c0.ravel()]),
                    method="DOP853", rtol=rtol, atol=atol)
    if not sol.success:  # pragma: no cover - solver failure
        raise RuntimeError(f"moment ODE failed: {sol.message}")
    y = sol.y[:, -1]
    S = y[d:].reshape(d, d)
    return y[:d], 0.5 * (S + S.T)


def _grid(path, t_end, n_steps):
    return np.linspace(path.t_max, t_end, n_steps + 1)


def euler_maruyama_law(path: TiltedGaussianPath, n_steps: int, t_end: float = 0.0):
    """Exact law of the naive sampler's Euler–Maruyama chain (uniform grid in ``t``).

    Each step :math:`x' = x + (A x + a)h + g\\sqrt h z` is affine, so
    :math:`m' = (I + Ah)m + ah`, :math:`\\Sigma' = (I + Ah)\\Sigma(I + Ah)^T + g^2 h I`.
    """
    n_steps = check_int("n_steps", n_steps, low=1)
    t_end = _check_t_end(path, t_end)
    grid = _grid(path, t_end, n_steps)
    m, S = path.target(path.t_max)
    eye = np.eye(path.dim)
    for t0, t1 in zip(grid[:-1], grid[1:]):
        h = t0 - t1
        A, a = path.reverse_drift_affine(t0)
        g2 = float(path.schedule.diffusion_sq(t0))
        M = eye + A * h
        m, S = M @ m + a * h, M @ S @ M.T + g2 * h * eye
    return m, 0.5 * (S + S.T)


def systematic_resample(log_weights, rng):
    """Systematic resampling, row by row.

    Parameters
    ----------
    log_weights : (R, n) array
        Unnormalised log-weights of ``R`` independent particle systems.
    rng : numpy.random.Generator

    Returns
    -------
    (R, n) int array
        Ancestor indices; particle ``j`` of row ``r`` is copied
        :math:`\\lfloor n W_j + u\\rfloor`-ish times (one uniform ``u`` per row).
    """
    lw = as_float_array("log_weights", log_weights, ndim=2, finite=False)
    if np.any(np.isnan(lw)) or np.any(np.isposinf(lw)):
        raise ValueError("log_weights: must not contain NaN or +inf")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: must be a numpy Generator (got {type(rng).__name__})")
    R, n = lw.shape
    w = np.exp(lw - lw.max(axis=1, keepdims=True))
    cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    cum[:, -1] = 1.0
    u = (rng.random((R, 1)) + np.arange(n)) / n
    rows = np.arange(R)[:, None]
    idx = np.searchsorted((cum + rows).ravel(), (u + rows).ravel(), side="right")
    return (idx.reshape(R, n) - rows * n).clip(0, n - 1)


def _quadratic_coefficients(path, t, drop):
    """``(Q, q, c)`` with ``G(x) = x^T Q x + q^T x + c`` (G is quadratic for Gaussian paths),
    read off exact evaluations of :func:`fkc_log_weight_rate` at 0, +-e_i, e_i + e_j."""
    d = path.dim
    eye = np.eye(d)
    pts = [np.zeros(d)] + [eye[i] for i in range(d)] + [-eye[i] for i in range(d)]
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    pts += [eye[i] + eye[j] for i, j in pairs]
    val = fkc_log_weight_rate(path, np.array(pts), t, drop=drop)
    c0 = val[0]
    plus, minus = val[1:1 + d], val[1 + d:1 + 2 * d]
    diag = 0.5 * (plus + minus) - c0
    q = 0.5 * (plus - minus)
    Q = np.diag(diag)
    for k, (i, j) in enumerate(pairs):
        Q[i, j] = Q[j, i] = 0.5 * (val[1 + 2 * d + k] - c0 - q[i] - q[j] - diag[i] - diag[j])
    return Q, q, c0


def fkc_simulate(path: TiltedGaussianPath, n_particles: int, n_steps: int, rng, *,
                 n_runs: int = 1, t_end: float = 0.0, weighted: bool = True,
                 ess_fraction: float = 0.5, drop: str | None = None):
    """The FKC-corrected (or, ``weighted=False``, the naive) sampler.

    ``n_runs`` independent systems of ``n_particles`` start from the exact target at
    ``t_max`` and take ``n_steps`` Euler–Maruyama steps of the naive reverse SDE; the
    log-weights gain :math:`G(x_k, t_k)h` (left point) each step, and a system is
    resampled (systematic) when its effective sample size falls below
    ``ess_fraction * n_particles``.

    Returns
    -------
    x : (n_runs, n_particles, d) array
    log_w : (n_runs, n_particles) array
        Final log-weights (zeros when ``weighted=False``).
    """
    n_particles = check_int("n_particles", n_particles, low=2)
    n_steps = check_int("n_steps", n_steps, low=1)
    n_runs = check_int("n_runs", n_runs, low=1)
    t_end = _check_t_end(path, t_end)
    ess_fraction = check_real("ess_fraction", ess_fraction, low=0.0, high=1.0)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: must be a numpy Generator (got {type(rng).__name__})")
    d = path.dim
    m0, c0 = path.target(path.t_max)
    L = np.linalg.cholesky(c0)
    x = m0 + rng.standard_normal((n_runs, n_particles, d)) @ L.T
    log_w = np.zeros((n_runs, n_particles))
    grid = _grid(path, t_end, n_steps)
    for t0, t1 in zip(grid[:-1], grid[1:]):
        h = t0 - t1
        if weighted:
            Q, q, c0 = _quadratic_coefficients(path, t0, drop)
            log_w = log_w + h * (np.einsum("rni,ij,rnj->rn", x, Q, x) + x @ q + c0)
        A, a = path.reverse_drift_affine(t0)
        g = np.sqrt(float(path.schedule.diffusion_sq(t0)))
        x = x + (x @ A.T + a) * h + g * np.sqrt(h) * rng.standard_normal(x.shape)
        if weighted:
            w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
            ess = w.sum(axis=1) ** 2 / (w * w).sum(axis=1)
            low = ess < ess_fraction * n_particles
            if np.any(low):
                idx = systematic_resample(log_w[low], rng)
                x[low] = np.take_along_axis(x[low], idx[:, :, None], axis=1)
                log_w[low] = 0.0
    return x, log_w


def kl_gaussian(mean0, cov0, mean1, cov1) -> float:
    """:math:`KL(N(m_0, S_0)\\,\\|\\,N(m_1, S_1))`."""
    m0, S0 = _mean_cov("law0", mean0, cov0)
    m1, S1 = _mean_cov("law1", mean1, cov1)
    if m0.size != m1.size:
        raise ValueError(f"mean1: must have dimension {m0.size} (got {m1.size})")
    S0 = check_psd("cov0", S0, strict=True)
    S1 = check_psd("cov1", S1, strict=True)
    inv = np.linalg.inv(S1)
    r = m1 - m0
    return float(0.5 * (np.trace(inv @ S0) + r @ inv @ r - m0.size
                        + np.linalg.slogdet(S1)[1] - np.linalg.slogdet(S0)[1]))

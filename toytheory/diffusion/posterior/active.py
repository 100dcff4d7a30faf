r"""Active coordinate subsampling on a Gaussian-mixture prior, exactly.

Signal :math:`x \sim \sum_k \pi_k N(\mu_k, \tau^2 I_d)` (a shared isotropic covariance),
measurements :math:`y_j = x_j + s\,\xi_j` of coordinates :math:`j \in S`, a budget of
:math:`|S| = b`. After observing :math:`y_S` the posterior is the mixture of
:func:`~toytheory.diffusion.posterior.gmm.exact_gmm_posterior` with :math:`A` the rows of
:math:`I` in :math:`S`; with a shared isotropic covariance every component has the same
posterior covariance :math:`V_S` (variance :math:`\tau^2 s^2/(\tau^2+s^2)` on measured
coordinates, :math:`\tau^2` elsewhere) and posterior means
:math:`m_k = \mu_k + G_S(y_S - \mu_{k,S})`.

Policies
--------
- maximum entropy (Active Diffusion Subsampling's policy, with the exact posterior in
  place of the particles ADS tracks through the reverse diffusion): measure next the
  coordinate :math:`j \notin S` whose predictive law
  :math:`p(y_j \mid y_S) = \sum_k w_k N(m_{kj}, V_{jj} + s^2)` has the largest
  differential entropy (1-D quadrature);
- fixed mask: one set :math:`S` for every signal.

The error of a policy is the posterior mean's squared error,
:math:`E\|x - E[x \mid y_S]\|^2 = E\,\mathrm{tr}\,\mathrm{Cov}(x\mid y_S)` (the selection is a
function of the observed values, so conditioning on it is ignorable); per signal
:func:`posterior_trace` returns the conditional trace, which lies in
:math:`[\mathrm{tr} V_S,\ \mathrm{tr} V_S + \max_{k,l}\|\mu_k - \mu_l\|^2]`
(:func:`trace_bounds`).
"""

from __future__ import annotations

import numpy as np

from ..._validation import as_float_array, check_int, check_real
from ..laws import GaussianMixture

__all__ = ["IsotropicMixturePrior", "posterior_trace", "max_entropy_masks", "trace_bounds",
           "particle_entropy_masks"]


class IsotropicMixturePrior:
    r""":math:`\sum_k\pi_k N(\mu_k, \tau^2 I)` with coordinate noise ``noise_std``.

    Parameters
    ----------
    weights : (K,) array
    means : (K, d) array
    tau : float, > 0
    noise_std : float, > 0
    """

    def __init__(self, weights, means, tau, noise_std):
        mu = as_float_array("means", means, ndim=2)
        self.tau = check_real("tau", tau, low=0.0, low_open=True)
        self.noise_std = check_real("noise_std", noise_std, low=0.0, low_open=True)
        self.law = GaussianMixture.isotropic(weights, mu, np.full(mu.shape[0], self.tau ** 2))
        self.means = mu
        self.log_weights = np.log(np.clip(self.law.weights, 1e-300, None))

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n, rng):
        """``(x (n, d), y_all (n, d))``: signals and a noisy reading of every coordinate."""
        x = self.law.sample_data(n, rng)
        return x, x + self.noise_std * rng.standard_normal(x.shape)

    def _posterior(self, y_all, mask):
        """Per signal: weights (n, K), means (n, K, d), within variance (n, d)."""
        t2, s2 = self.tau ** 2, self.noise_std ** 2
        g = np.where(mask, t2 / (t2 + s2), 0.0)                           # (n, d) gain
        r = np.where(mask[:, None, :], y_all[:, None, :] - self.means[None], 0.0)
        logits = self.log_weights[None] - 0.5 * np.sum(r * r, axis=2) / (t2 + s2)
        w = np.exp(logits - logits.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        m = self.means[None] + g[:, None, :] * r
        within = np.where(mask, t2 * s2 / (t2 + s2), t2)
        return w, m, within


def _check_mask(prior, y_all, mask):
    y = as_float_array("y_all", y_all, ndim=2)
    if y.shape[1] != prior.dim:
        raise ValueError(f"y_all: must have shape (n, {prior.dim}) (got {y.shape})")
    mk = np.asarray(mask)
    if mk.dtype != bool or mk.shape not in ((prior.dim,), y.shape):
        raise ValueError(f"mask: must be a boolean array of shape ({prior.dim},) or "
                         f"{y.shape}")
    return y, np.broadcast_to(mk, y.shape)


def posterior_trace(prior, y_all, mask):
    r""":math:`\mathrm{tr}\,\mathrm{Cov}(x \mid y_S)` per signal, shape (n,).

    Parameters
    ----------
    prior : IsotropicMixturePrior
    y_all : (n, d) array
        Readings of every coordinate; only those in the mask are used.
    mask : (d,) or (n, d) bool array
        The measured coordinates :math:`S` (per signal for an adaptive policy).
    """
    y, mk = _check_mask(prior, y_all, mask)
    w, m, within = prior._posterior(y, mk)
    mean = np.einsum("nk,nkd->nd", w, m)
    between = np.einsum("nk,nk->n", w, np.sum((m - mean[:, None, :]) ** 2, axis=2))
    return within.sum(axis=1) + between


def trace_bounds(prior, budget):
    """``(low, high)`` bounding :func:`posterior_trace` for any mask of size ``budget``."""
    b = check_int("budget", budget, low=0, high=prior.dim)
    t2, s2 = prior.tau ** 2, prior.noise_std ** 2
    low = b * t2 * s2 / (t2 + s2) + (prior.dim - b) * t2
    diff = prior.means[:, None, :] - prior.means[None, :, :]
    return low, low + float(np.max(np.sum(diff * diff, axis=2)))


def _mixture_entropy_1d(w, m, var, grid_size=81):
    """Differential entropy of sum_k w_k N(m_k, var) per row: w, m (n, K), var > 0.

    Trapezoid rule on ``grid_size`` points over [min m - 9 sd, max m + 9 sd] (the tails
    beyond carry under 1e-18 of the mass)."""
    sd = np.sqrt(var)
    lo = m.min(axis=1) - 9 * sd
    hi = m.max(axis=1) + 9 * sd
    u = np.linspace(0.0, 1.0, grid_size)
    z = lo[:, None] + (hi - lo)[:, None] * u[None]                          # (n, G)
    # p(z) = sum_k w_k exp(-(z - m_k)^2 / 2 var) / sqrt(2 pi var); every density value
    # below the largest term's 1e-300 is irrelevant, so a max shift per point suffices
    q = -0.5 * (z[:, :, None] - m[:, None, :]) ** 2 / var                   # (n, G, K)
    top = q.max(axis=2)
    dens = np.einsum("ngk,nk->ng", np.exp(q - top[:, :, None]), w)
    lp = top + np.log(dens) - 0.5 * np.log(2 * np.pi * var)                 # (n, G)
    integrand = -np.exp(lp) * lp
    return np.trapezoid(integrand, z, axis=1)


def max_entropy_masks(prior, y_all, budget):
    r"""The masks the maximum-entropy policy measures, one signal per row, (n, d) bool.

    Greedy, one coordinate at a time: after each reading the exact posterior is updated
    and the unmeasured coordinate whose predictive :math:`p(y_j\mid y_S)` has the largest
    entropy is read next (ties to the lowest index). ``budget`` may not exceed ``d``.
    """
    y = as_float_array("y_all", y_all, ndim=2)
    if y.shape[1] != prior.dim:
        raise ValueError(f"y_all: must have shape (n, {prior.dim}) (got {y.shape})")
    b = check_int("budget", budget, low=1)
    if b > prior.dim:
        raise ValueError(f"budget: must be <= the dimension {prior.dim} (got {b})")
    n, d = y.shape
    mask = np.zeros((n, d), dtype=bool)
    rows = np.arange(n)
    var = prior.tau ** 2 + prior.noise_std ** 2     # predictive variance of an unmeasured y_j
    for step in range(b):
        if step == 0:   # nothing observed yet: the same choice for every signal
            w, m, _ = prior._posterior(y[:1], mask[:1])
            ent = np.array([_mixture_entropy_1d(w, m[:, :, j], var)[0] for j in range(d)])
            mask[:, int(np.argmax(ent))] = True
            continue
        w, m, _ = prior._posterior(y, mask)
        ent = np.full((n, d), -np.inf)
        for j in range(d):
            free = ~mask[:, j]
            if np.any(free):
                ent[free, j] = _mixture_entropy_1d(w[free], m[free][:, :, j], var)
        mask[rows, np.argmax(ent, axis=1)] = True
    return mask


def particle_entropy_masks(prior, y_all, budget, n_particles, rng):
    r"""ADS's policy with its particle estimate of the entropy (one signal per row).

    Active Diffusion Subsampling tracks particles :math:`x^{(1..N)}` of the posterior
    through the guided reverse diffusion and measures next where the particles' predictive
    :math:`\frac1N\sum_i N(y_j;\, x^{(i)}_j,\, s^2)` has the largest entropy. Here the
    particles are exact posterior draws (what an exact guided diffusion would give), so
    the only approximation left is the particle count ``n_particles``; the entropy of
    the particle mixture is by quadrature. The first pick uses the prior's particles too.

    Returns
    -------
    (n, d) bool array of measured coordinates.
    """
    y = as_float_array("y_all", y_all, ndim=2)
    if y.shape[1] != prior.dim:
        raise ValueError(f"y_all: must have shape (n, {prior.dim}) (got {y.shape})")
    b = check_int("budget", budget, low=1)
    if b > prior.dim:
        raise ValueError(f"budget: must be <= the dimension {prior.dim} (got {b})")
    N = check_int("n_particles", n_particles, low=1)
    n, d = y.shape
    mask = np.zeros((n, d), dtype=bool)
    rows = np.arange(n)
    s2 = prior.noise_std ** 2
    for _ in range(b):
        w, m, within = prior._posterior(y, mask)
        cdf = np.cumsum(w, axis=1)
        comp = (rng.random((n, N, 1)) > cdf[:, None, :]).sum(axis=2)            # (n, N)
        comp = np.minimum(comp, w.shape[1] - 1)
        parts = (np.take_along_axis(m, comp[:, :, None], axis=1)
                 + np.sqrt(within)[:, None, :] * rng.standard_normal((n, N, d)))
        ent = np.full((n, d), -np.inf)
        uni = np.full((n, N), 1.0 / N)
        for j in range(d):
            free = ~mask[:, j]
            if np.any(free):
                ent[free, j] = _mixture_entropy_1d(uni[free], parts[free][:, :, j], s2)
        mask[rows, np.argmax(ent, axis=1)] = True
    return mask

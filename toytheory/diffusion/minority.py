r"""Minority guidance on 1-D Gaussian-mixture data with unequal weights, exactly.

The paper: Um et al., "Don't Play Favorites: Minority Guidance for Diffusion Models". Its
minority score is Tweedie's reconstruction loss of a clean sample perturbed to one noise
level,

.. math:: l(x_0) = E_\varepsilon\,\|x_0 - \hat x_0(a_s x_0 + s_s\varepsilon)\|^2

(the paper uses LPIPS on images; squared error here), and minority guidance is classifier
guidance toward the highest level of :math:`l`:
:math:`\nabla\log p_t(x) + w\nabla\log P(l(x_0) \ge \tau \mid x_t = x)`.

On the exact chain of :class:`toytheory.diffusion.svdd.MixtureChain1D` everything is exact or
quadrature:

- :func:`minority_score`: Gauss–Hermite over :math:`\varepsilon` with the exact Tweedie
  denoiser; :func:`component_expected_score`: its mean over one component (Gauss–Hermite
  over :math:`x_0` as well);
- :func:`minority_set`: :math:`S = \{x_0: l(x_0) \ge \tau\}` as a union of intervals, with
  :math:`\tau` the ``quantile`` of :math:`l` under the data law (fine-grid quadrature);
- the exact classifier :math:`h_i(x) = P(x_0 \in S \mid x_i = x)` (mixture posterior, normal
  CDFs) and its log-gradient (central differences of the exact function);
- :func:`guided_sample` simulates the guided chain: each pretrained (exact-kernel) step plus
  :math:`w(q_i^2/\rho_i)\nabla\log h_i(x_i)` (the discretised :math:`g^2 w\nabla\log h`);
- :func:`guided_law_grid` propagates the same chain's density on a grid (each step a
  Gaussian-mixture kernel integrated against the current density): the output law at any
  ``w``, to quadrature accuracy.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from .._validation import check_int, check_real
from .svdd import MixtureChain1D

__all__ = ["minority_score", "component_expected_score", "minority_set", "set_probability",
           "guided_sample", "guided_law_grid", "minority_mass"]


def _chain(chain):
    if not isinstance(chain, MixtureChain1D):
        raise ValueError(f"chain: must be a MixtureChain1D (got {type(chain).__name__})")
    return chain


def minority_score(chain: MixtureChain1D, x0, level: int, n_nodes: int = 64):
    """:math:`l(x_0) = E_\\varepsilon(x_0 - \\hat x_0(a x_0 + s\\varepsilon))^2` at ``level``
    (>= 1), by ``n_nodes``-point Gauss–Hermite; shape of ``x0``."""
    _chain(chain)
    level = check_int("level", level, low=1, high=chain.n_steps)
    n_nodes = check_int("n_nodes", n_nodes, low=2)
    z, wz = np.polynomial.hermite_e.hermegauss(n_nodes)
    wz = wz / wz.sum()
    x0 = np.asarray(x0, float)
    xt = chain.a[level] * x0[..., None] + chain.s[level] * z
    return ((x0[..., None] - chain.denoise(xt, level)) ** 2 * wz).sum(-1)


def component_expected_score(chain: MixtureChain1D, level: int, n_nodes: int = 64):
    """:math:`E[l(x_0) \\mid k]` for each component ``k`` (Gauss–Hermite over :math:`x_0`),
    shape ``(K,)``."""
    _chain(chain)
    z, wz = np.polynomial.hermite_e.hermegauss(n_nodes)
    wz = wz / wz.sum()
    out = []
    for mu, v in zip(chain.mu, chain.v):
        out.append(wz @ minority_score(chain, mu + np.sqrt(v) * z, level, n_nodes))
    return np.array(out)


def minority_set(chain: MixtureChain1D, level: int, quantile: float, *, bounds=(-8.0, 8.0),
                 n_grid: int = 16001):
    """``(tau, intervals)``: :math:`\\tau` the ``quantile`` of :math:`l(x_0)` under the data law
    and :math:`\\{l \\ge \\tau\\}` as an ``(m, 2)`` array of intervals (end points on the grid,
    outer ones extended to +-inf)."""
    _chain(chain)
    quantile = check_real("quantile", quantile, low=0.0, high=1.0, low_open=True,
                          high_open=True)
    x = np.linspace(bounds[0], bounds[1], n_grid)
    lx = minority_score(chain, x, level)
    dens = np.exp(chain.log_marginal(x, 0))
    p = dens / dens.sum()
    order = np.argsort(lx)
    cum = np.cumsum(p[order])
    tau = float(lx[order][np.searchsorted(cum, quantile)])
    inside = lx >= tau
    edges = np.flatnonzero(np.diff(inside.astype(int)))
    starts = list(x[edges[np.diff(inside.astype(int))[edges] > 0] + 1])
    ends = list(x[edges[np.diff(inside.astype(int))[edges] < 0]])
    if inside[0]:
        starts.insert(0, -np.inf)
    if inside[-1]:
        ends.append(np.inf)
    starts = [-np.inf if s == x[0] else s for s in starts]
    return tau, np.array(list(zip(starts, ends)), float).reshape(-1, 2)


def set_probability(chain: MixtureChain1D, x, level: int, intervals):
    """:math:`h_i(x) = P(x_0 \\in S \\mid x_i = x)` for the union of ``intervals``."""
    w, m, V = chain.x0_posterior(x, level)
    if level == 0:
        x = np.asarray(x, float)
        return sum(((x >= a) & (x <= b)).astype(float) for a, b in intervals)
    sd = np.sqrt(V)
    return sum((w * (ndtr((b - m) / sd) - ndtr((a - m) / sd))).sum(-1) for a, b in intervals)


def _log_h_grad(chain, x, level, intervals, eps=1e-5):
    hp = set_probability(chain, x + eps, level, intervals)
    hm = set_probability(chain, x - eps, level, intervals)
    tiny = 1e-300
    return (np.log(np.maximum(hp, tiny)) - np.log(np.maximum(hm, tiny))) / (2 * eps)


def _check_w(w):
    return check_real("w", w, low=0.0)


def guided_sample(chain: MixtureChain1D, intervals, w, n: int, rng):
    """``n`` outputs of the minority-guided chain at scale ``w >= 0`` (``w = 0``: pretrained)."""
    _chain(chain)
    w = _check_w(w)
    n = check_int("n", n, low=1)
    x = chain.sample_level(n, chain.n_steps, rng)
    for i in range(chain.n_steps, 0, -1):
        rho, q2 = chain.step_variance(i)
        shift = w * q2 / rho * _log_h_grad(chain, x, i, intervals) if w > 0 else 0.0
        x = chain.kernel_sample(x, i, rng, 1)[:, 0] + shift
    return x


def guided_law_grid(chain: MixtureChain1D, intervals, w, grid):
    """Density of the guided chain's output on ``grid`` (uniform, wide enough), by
    propagating the exact level-``n`` density through each step's kernel
    (a shifted Gaussian mixture per source point). Returns ``(len(grid),)`` densities."""
    _chain(chain)
    w = _check_w(w)
    grid = np.asarray(grid, float)
    dx = grid[1] - grid[0]
    p = np.exp(chain.log_marginal(grid, chain.n_steps)) * dx      # masses
    for i in range(chain.n_steps, 0, -1):
        rho, q2 = chain.step_variance(i)
        shift = w * q2 / rho * _log_h_grad(chain, grid, i, intervals) if w > 0 else 0.0
        wk, m, var = chain.kernel(grid, i)                         # (N, K), (N, K), (K,)
        m = m + np.asarray(shift)[..., None] if w > 0 else m
        new = np.zeros_like(grid)
        for k in range(var.size):
            z = (grid[:, None] - m[None, :, k]) / np.sqrt(var[k])  # (target, source)
            new += (np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi * var[k])) @ (p * wk[:, k])
        p = new * dx
    return p / dx


def minority_mass(chain: MixtureChain1D, x=None, density=None, grid=None):
    """Mass on the minority side: :math:`x_0` closer to the least-weighted component's mean
    than to any other (from samples ``x`` or from a ``density`` on ``grid``)."""
    _chain(chain)
    k = int(np.argmin(chain.pi))

    def is_min(y):
        d = np.abs(np.asarray(y, float)[..., None] - chain.mu)
        return np.argmin(d, axis=-1) == k

    if x is not None:
        return float(np.mean(is_min(x)))
    grid = np.asarray(grid, float)
    return float(np.sum(density * is_min(grid)) * (grid[1] - grid[0]))

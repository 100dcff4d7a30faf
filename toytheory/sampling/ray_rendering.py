"""Volume rendering along one ray with a known density: the exact colour, the alpha-
compositing estimate at sampled points, stratified and proposal (importance) sampling.

Source paper: "ProNeRF: Learning Efficient Projection-Aware Ray Sampling for Fine-Grained
Implicit Neural Radiance Fields" (the rendering integral is NeRF's, Mildenhall et al. 2020,
Eq. 1-3).

The ray is ``s in [near, far]``; the density is a sum of Gaussian bumps
``sigma(s) = sum_j a_j N(s; mu_j, w_j^2)`` and the colour ``c(s)`` a smooth function in
``[0, 1]``. With transmittance ``T(s) = exp(-int_near^s sigma)`` (closed form by the normal
CDF), the rendered colour is

    C = int_near^far T(s) sigma(s) c(s) ds,

computed exactly by adaptive quadrature (:func:`exact_colour`). A renderer that sees the
density only at sorted points ``s_1 < ... < s_N`` uses NeRF's quadrature
``C_hat = sum_i T_i alpha_i c(s_i)``, ``alpha_i = 1 - exp(-sigma(s_i) delta_i)``,
``T_i = prod_{j<i} (1 - alpha_j)``, ``delta_i = s_{i+1} - s_i`` (the last to ``far``)
(:func:`composite`). Points come from stratified sampling (one uniform point per equal bin,
NeRF's coarse pass) or from a proposal: a piecewise-constant density on a grid, sampled by
stratified inverse-CDF (NeRF's hierarchical ``sample_pdf``, the role ProNeRF's sampler
network plays). The ideal proposal puts on each bin its exact share of the weight
``T sigma`` (``T(a) - T(b)``); an exploiting one keeps only the bins of the densest bump; an
exploring one mixes in a fraction of the uniform density.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from .._validation import as_float_array, check_int, check_probability_vector, check_real

__all__ = ["RayScene", "exact_colour", "composite", "stratified_points", "proposal_points",
           "ideal_bin_masses", "exploit_bin_masses", "mix_bin_masses", "rendering_errors"]


@dataclass(frozen=True)
class RayScene:
    """Density bumps (amplitudes, centres, widths) and colour ``c(s) = (1 + sin(freq s +
    phase)) / 2`` on ``[near, far]``."""

    amplitudes: tuple
    centres: tuple
    widths: tuple
    near: float = 0.0
    far: float = 1.0
    freq: float = 7.0
    phase: float = 0.3

    def __post_init__(self):
        check_real("near", self.near)
        check_real("far", self.far, low=self.near, low_open=True)
        a = as_float_array("amplitudes", self.amplitudes, ndim=1)
        c = as_float_array("centres", self.centres, ndim=1)
        w = as_float_array("widths", self.widths, ndim=1)
        if not a.size == c.size == w.size or a.size == 0:
            raise ValueError("amplitudes: must match centres and widths in length (>= 1)")
        if np.any(a <= 0):
            raise ValueError("amplitudes: must be > 0")
        if np.any(w <= 0):
            raise ValueError("widths: must be > 0")

    def density(self, s) -> np.ndarray:
        s = np.asarray(s, dtype=np.float64)[..., None]
        a, mu, w = (np.asarray(v, dtype=np.float64) for v in
                    (self.amplitudes, self.centres, self.widths))
        return np.sum(a * np.exp(-0.5 * ((s - mu) / w) ** 2) / (w * np.sqrt(2 * np.pi)),
                      axis=-1)

    def optical_depth(self, s) -> np.ndarray:
        """``int_near^s sigma``, closed form."""
        s = np.asarray(s, dtype=np.float64)[..., None]
        a, mu, w = (np.asarray(v, dtype=np.float64) for v in
                    (self.amplitudes, self.centres, self.widths))
        return np.sum(a * (ndtr((s - mu) / w) - ndtr((self.near - mu) / w)), axis=-1)

    def transmittance(self, s) -> np.ndarray:
        return np.exp(-self.optical_depth(s))

    def colour(self, s) -> np.ndarray:
        return 0.5 * (1.0 + np.sin(self.freq * np.asarray(s, dtype=np.float64) + self.phase))


def exact_colour(scene: RayScene) -> float:
    """``C = int T sigma c ds`` by adaptive quadrature (tolerance 1e-13, the bump centres as
    break points)."""
    from scipy.integrate import quad

    if not isinstance(scene, RayScene):
        raise ValueError("scene: must be a RayScene")
    pts = [p for p in scene.centres if scene.near < p < scene.far]
    value, _ = quad(lambda s: float(scene.transmittance(s) * scene.density(s)
                                    * scene.colour(s)),
                    scene.near, scene.far, points=pts or None, epsabs=1e-13, epsrel=1e-13,
                    limit=500)
    return float(value)


def composite(scene: RayScene, points) -> np.ndarray:
    """NeRF's alpha-compositing estimate at ``points`` (shape (..., N), any order, inside
    the ray), shape (...)."""
    if not isinstance(scene, RayScene):
        raise ValueError("scene: must be a RayScene")
    s = np.sort(as_float_array("points", points, ndim=(1, 2)), axis=-1)
    if s.shape[-1] == 0:
        raise ValueError("points: must hold at least one point per ray")
    if np.any(s < scene.near) or np.any(s > scene.far):
        raise ValueError("points: must lie in [near, far]")
    delta = np.diff(np.concatenate([s, np.full(s.shape[:-1] + (1,), scene.far)], axis=-1),
                    axis=-1)
    alpha = 1.0 - np.exp(-scene.density(s) * delta)
    trans = np.cumprod(np.concatenate([np.ones(s.shape[:-1] + (1,)), 1.0 - alpha[..., :-1]],
                                      axis=-1), axis=-1)
    return np.sum(trans * alpha * scene.colour(s), axis=-1)


def stratified_points(scene: RayScene, n: int, rays: int,
                      rng: np.random.Generator) -> np.ndarray:
    """One uniform point in each of ``n`` equal bins, for ``rays`` rays: (rays, n)."""
    n = check_int("n", n, low=1)
    rays = check_int("rays", rays, low=1)
    edges = np.linspace(scene.near, scene.far, n + 1)
    return edges[:-1] + (edges[1:] - edges[:-1]) * rng.random((rays, n))


def ideal_bin_masses(scene: RayScene, bins: int) -> np.ndarray:
    """Each of ``bins`` equal bins' exact share of the weight ``T sigma``:
    ``(T(a) - T(b)) / (1 - T(far))``."""
    bins = check_int("bins", bins, low=1)
    edges = np.linspace(scene.near, scene.far, bins + 1)
    t = scene.transmittance(edges)
    mass = t[:-1] - t[1:]
    return mass / mass.sum()


def exploit_bin_masses(scene: RayScene, bins: int) -> np.ndarray:
    """The ideal masses kept only within 3 widths of the densest bump's centre."""
    masses = ideal_bin_masses(scene, bins)
    j = int(np.argmax(scene.amplitudes))
    edges = np.linspace(scene.near, scene.far, bins + 1)
    mid = 0.5 * (edges[:-1] + edges[1:])
    keep = np.abs(mid - scene.centres[j]) <= 3 * scene.widths[j] + 0.5 * (edges[1] - edges[0])
    out = np.where(keep, masses, 0.0)
    return out / out.sum()


def mix_bin_masses(masses, explore: float) -> np.ndarray:
    """``(1 - explore) * masses + explore * uniform``."""
    m = check_probability_vector("masses", masses)
    e = check_real("explore", explore, low=0.0, high=1.0)
    return (1.0 - e) * m + e / m.size


def proposal_points(scene: RayScene, masses, n: int, rays: int,
                    rng: np.random.Generator) -> np.ndarray:
    """``n`` points per ray from the piecewise-constant density with bin ``masses`` on equal
    bins, by stratified inverse CDF (``u_i = (i + U_i) / n``): (rays, n)."""
    m = check_probability_vector("masses", masses)
    n = check_int("n", n, low=1)
    rays = check_int("rays", rays, low=1)
    edges = np.linspace(scene.near, scene.far, m.size + 1)
    cdf = np.concatenate([[0.0], np.cumsum(m)])
    cdf[-1] = 1.0
    u = (np.arange(n) + rng.random((rays, n))) / n
    k = np.clip(np.searchsorted(cdf, u, side="right") - 1, 0, m.size - 1)
    width = np.where(m[k] > 0, m[k], 1.0)
    frac = np.clip((u - cdf[k]) / width, 0.0, 1.0)
    return edges[k] + frac * (edges[k + 1] - edges[k])


def rendering_errors(scene: RayScene, points) -> np.ndarray:
    """Squared error ``(C_hat - C)^2`` of each ray's compositing estimate, in [0, 1]."""
    return (composite(scene, points) - exact_colour(scene)) ** 2

"""The Numba and torch FKC simulators (sims/diffusion_guided_fkc.py): their weight rate,
written from the definition with finite differences in t, against fkc.fkc_log_weight_rate;
their weighted output against the exact annealed target."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from sims import diffusion_guided_fkc as sims
from toytheory import stats
from toytheory.diffusion import fkc
from toytheory.diffusion.schedules import VPLinear

SCH = VPLinear()
ANNEALED = fkc.annealed_path(SCH, [1.0], [[0.25]], 2.0)
PRODUCT = fkc.product_path(SCH, [1.0, 0.0], [[1.0, 0.0], [0.0, 0.5]], [0.0, 1.0],
                           [[0.6, 0.2], [0.2, 0.8]])


@pytest.mark.parametrize("path", [ANNEALED, PRODUCT], ids=["annealed", "product"])
def test_weight_rate_matches_the_library(path, rng):
    grid = np.linspace(path.t_max, 0.0, 11)
    co = sims.path_coefficients(path, grid)
    for j, t in enumerate(grid[:-1]):
        x = rng.standard_normal((5, path.dim))
        G = np.einsum("ni,ij,nj->n", x, co["Q"][j], x) + x @ co["q"][j] + co["c"][j]
        ref = fkc.fkc_log_weight_rate(path, x, t)
        assert np.allclose(G, ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())


def _one_draw(x, lw, rng):
    w = np.exp(lw - lw.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    pick = (np.cumsum(w, 1) < rng.random((x.shape[0], 1))).sum(1).clip(0, x.shape[1] - 1)
    return x[np.arange(x.shape[0]), pick, 0]


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_weighted_output_follows_the_target(backend, test_seed, rng):
    """One draw per run from 1500 runs of 64 particles, 100 steps: KS against the exact
    target N(1, 0.125) at 1e-6 (the same sampler as diffusion.guided.fkc_samples_target);
    power: the unweighted chain (the naive law, KS distance ~0.1; 4000 draws, critical value
    ~0.04) must be rejected."""
    grid = np.linspace(1.0, 0.0, 101)
    run = sims.fkc_smc_numba if backend == "numba" else sims.fkc_smc_torch
    x, lw = run(ANNEALED, 64, grid, test_seed, n_runs=1500)
    mt, ct = ANNEALED.target(0.0)
    cdf = lambda y: norm.cdf(y, mt[0], np.sqrt(ct[0, 0]))  # noqa: E731
    assert stats.ks_1samp(_one_draw(x, lw, rng), cdf, 1e-6).verdict == "accept"
    xn, _ = run(ANNEALED, 2, grid, test_seed + 1, n_runs=4000, weighted=False)
    assert stats.ks_1samp(xn[:, 0, 0], cdf, 1e-6).verdict == "reject"


def test_particle_count_below_two_is_refused():
    with pytest.raises(ValueError, match="n_particles"):
        sims.fkc_smc_numba(ANNEALED, 1, np.linspace(1, 0, 3), 0)
    with pytest.raises(ValueError, match="n_particles"):
        sims.fkc_smc_torch(ANNEALED, 1, np.linspace(1, 0, 3), 0)

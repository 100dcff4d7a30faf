"""The Numba kernels' normal generator (256-layer ziggurat on per-path xoshiro256+ streams)
and their vectorised exponential, against exact laws and values, with planted bugs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from toytheory import stats
from tests._seeds import reseed

dn = pytest.importorskip("sims.diffusion_numba")
nb = pytest.importorskip("numba")

LEVEL = 1e-6
# Marsaglia & Tsang (2000), "The Ziggurat Method for Generating Random Variables", for 256
# layers: the base width r and the common layer area v (their published constants)
PUBLISHED_R = 3.6541528853610088
PUBLISHED_V = 4.92867323399e-3
R_128_LAYERS = 3.442619855899   # their 128-layer r: the classic wrong-table tail bug
PATHS, PER_PATH, SEED = 2000, 4000, 20240611   # 8e6 draws
# |z| bins: the body, then the tail finely, split at the base width r (the tail branch)
ABS_EDGES = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.25, 3.5, PUBLISHED_R, 3.8, 4.0,
                      4.25, 4.5, 5.0, np.inf])


def abs_bin_probabilities():
    """P(|Z| in each bin) from scipy's normal survival function (independent of the code)."""
    p = -2.0 * np.diff(sps.norm.sf(ABS_EDGES))
    return p / p.sum()


def normals_exactness(z):
    """KS against N(0, 1) and Pearson's chi-square on counts of |z| bins (body and tail),
    a Bonferroni family at LEVEL."""
    ks = stats.ks_1samp(z, sps.norm.cdf, LEVEL)
    counts = np.histogram(np.abs(z), bins=ABS_EDGES)[0]
    chi = stats.chisquare_gof(counts, abs_bin_probabilities(), LEVEL)
    return stats.bonferroni([ks, chi], LEVEL)


def draws():
    return dn.standard_normals(PATHS, PER_PATH, seed=reseed(SEED)).ravel()


def corrupted_table(monkeypatch, corrupt):
    table = dn._ZIGGURAT.copy()
    corrupt(table)
    monkeypatch.setattr(dn, "_ZIGGURAT", table)


# --------------------------------------------------------------------------- the tables

def test_ziggurat_layers_have_equal_area_v_and_the_published_base_width():
    zig = dn._ZIGGURAT
    x = zig[0]
    r = x[1]
    f = np.exp(-0.5 * x * x)
    v = r * math.exp(-0.5 * r * r) + math.sqrt(2 * math.pi) * sps.norm.sf(r)
    assert r == pytest.approx(PUBLISHED_R, rel=1e-14)
    assert v == pytest.approx(PUBLISHED_V, rel=1e-10)   # published to 12 digits
    assert x[0] * f[1] == pytest.approx(v, rel=1e-12)                 # base strip
    areas = x[1:256] * (f[2:257] - f[1:256])                           # layers 1..255
    np.testing.assert_allclose(areas, v, rtol=1e-10)
    assert x[256] == 0.0 and np.all(np.diff(x) < 0)
    np.testing.assert_array_equal(zig[1, :256], x[:256] * 2.0 ** -52)
    np.testing.assert_allclose(zig[2], f, rtol=1e-15)
    np.testing.assert_allclose(zig[3, :3], [r, 1 / r, v], rtol=1e-15)


# --------------------------------------------------------------------------- exactness

def test_ziggurat_normals_pass_ks_and_tail_bin_chi_square_on_8e6_draws():
    family = normals_exactness(draws())
    assert not family.reject, family.as_dict()


def test_exactness_check_catches_a_ziggurat_that_drops_the_wedge_test(monkeypatch):
    """Planted: f(x_i) = 0 in the wedge test accepts every wedge point.

    Power: the |z|-bin chi-square is ~950 on 14 df (noncentrality ~935 at 8e6 draws, seen
    under two draw seeds) against a critical value 56.4 (level 0.5e-6); a noncentral
    chi-square falls that far below its mean with probability < 1e-40 (>= 14 sd)."""
    corrupted_table(monkeypatch, lambda t: t[2].fill(0.0))
    family = normals_exactness(draws())
    assert family.reject and family.rejects[1]


def test_exactness_check_catches_a_ziggurat_with_the_128_layer_tail_constant(monkeypatch):
    """Planted: the tail starts at the 128-layer r = 3.4426 with 256-layer tables.

    Power: the |z|-bin chi-square is ~970 on 14 df (noncentrality ~955 at 8e6 draws) against
    a critical value 56.4; miss probability < 1e-40 (the noncentral chi-square's lower
    tail, >= 14 sd)."""
    def corrupt(t):
        t[3, :2] = R_128_LAYERS, 1.0 / R_128_LAYERS

    corrupted_table(monkeypatch, corrupt)
    family = normals_exactness(draws())
    assert family.reject and family.rejects[1]


def test_exactness_check_catches_normals_scaled_by_one_over_root_two():
    """Planted: a radius sqrt(-log u) for sqrt(-2 log u) (a polar/Box-Muller bug) scales by 1/√2.

    Power: the KS distance of N(0, 1/2) from N(0, 1) is 0.083; the critical value at 1e6
    draws is 0.0028, so a miss needs sup|F_n - F| > 0.080: probability
    <= 2 exp(-2 n 0.08^2) = 2 e^-12800 by the DKW bound."""
    family = normals_exactness(draws()[:1_000_000] / np.sqrt(2.0))
    assert family.reject and family.rejects[0]


# --------------------------------------------------------------------------- reproducibility

def test_a_paths_normals_depend_only_on_seed_and_path():
    import numba

    z = dn.standard_normals(70, 9, seed=reseed(7))
    np.testing.assert_array_equal(dn.standard_normals(5, 9, seed=reseed(7)), z[:5])   # fewer paths
    np.testing.assert_array_equal(dn.standard_normals(70, 4, seed=reseed(7)), z[:, :4])  # prefix
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = dn.standard_normals(70, 9, seed=reseed(7))
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, z)
    assert not np.array_equal(dn.standard_normals(70, 9, seed=reseed(8)), z)


def test_standard_normals_refuses_a_negative_size():
    with pytest.raises(ValueError, match="^n: must be >= 0"):
        dn.standard_normals(-1, 3, seed=reseed(0))
    with pytest.raises(ValueError, match="^m: must be >= 0"):
        dn.standard_normals(3, -1, seed=reseed(0))


# --------------------------------------------------------------------------- the exponential

@nb.njit
def _exp_all(v):
    out = np.empty_like(v)
    for i in range(v.size):
        out[i] = dn._exp(v[i])
    return out


def test_vectorised_exp_is_within_one_ulp_of_libm_exp_on_its_range():
    rng = np.random.default_rng(reseed(0))
    v = np.concatenate([-708.0 * rng.random(200_000), -rng.random(100_000),
                        [0.0, -1e-300, -0.5 * math.log(2), -708.0, 0.3, 1.0, 700.0]])
    got = _exp_all(v)
    ref = np.array([math.exp(t) for t in v])
    ulp = np.spacing(ref)
    assert np.max(np.abs(got - ref) / ulp) <= 1.0
    assert got[v == 0.0][0] == 1.0


def test_vectorised_exp_is_zero_below_minus_708():
    v = np.array([-708.0001, -745.2, -1e5, -np.inf])
    np.testing.assert_array_equal(_exp_all(v), 0.0)

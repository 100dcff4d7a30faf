"""The float32 Gumbel truncation: exact laws against brute force, bad input, and the
masked-diffusion claim with planted failures."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import integrate

from toytheory.claims import execute_claim, load_catalog
from toytheory.decoding import gumbel_truncation as gt

REGISTRY = load_catalog()
CLAIM = "decoding.masked_diffusion.float32_gumbel_lowers_temperature"


def run(seed, **overrides):
    claim = REGISTRY[CLAIM]
    if overrides:
        claim = claim.with_params("quick", **overrides)
    return execute_claim(claim, "quick", seed)


def test_float32_cap_by_hand():
    assert gt.noise_floor(24) == pytest.approx(2.0 ** -24 + 2.0 ** -49, rel=1e-12)
    assert gt.gumbel_cap(24) == pytest.approx(16.6355323, abs=1e-7)
    assert gt.noise_floor(53) < 1.2e-16


def test_truncated_race_law_equals_quadrature(rng):
    """P(i) = int f_i(t) prod_j S_j(t) dt with T_j = eps/p_j + Exp(rate p_j)."""
    p = rng.dirichlet(np.ones(3))
    eps = 0.05
    law = gt.truncated_race_law(p, eps)
    d = eps / p

    def integrand(t, i):
        if t < d[i]:
            return 0.0
        val = p[i] * np.exp(-p[i] * (t - d[i]))
        for j in range(3):
            if j != i and t > d[j]:
                val *= np.exp(-p[j] * (t - d[j]))
        return val

    for i in range(3):
        knots = sorted(x for x in d if x > d[i]) + [d.max() + 200.0]
        ref, lo = 0.0, d[i]
        for hi in knots:
            ref += integrate.quad(integrand, lo, hi, args=(i,), epsabs=1e-14, limit=200)[0]
            lo = hi
        ref += integrate.quad(integrand, lo, np.inf, args=(i,), epsabs=1e-14)[0]
        assert law[i] == pytest.approx(ref, abs=1e-9)
    np.testing.assert_allclose(gt.truncated_race_law(p, 0.0), p, atol=0)


def test_grid_law_equals_brute_force():
    """Three single-token groups on a 5-bit grid: every (u1, u2, u3)."""
    p = np.array([0.61, 0.27, 0.12])
    bits = 5
    grid = np.arange(2 ** bits) / 2 ** bits
    wins = np.zeros(3)
    with np.errstate(divide="ignore"):
        for us in itertools.product(grid, repeat=3):
            t = -np.log(np.array(us)) / p
            top = np.flatnonzero(t == t.min())
            if len(top) == 1:
                wins[top[0]] += 1
    brute = wins / 2 ** (3 * bits)
    np.testing.assert_allclose(gt.grid_race_law_grouped(p, [1, 1, 1], bits=bits), brute,
                               atol=1e-12)


def test_grid_groups_equal_single_tokens():
    law = gt.grid_race_law_grouped([0.5, 0.25], [1, 2], bits=6)
    single = gt.grid_race_law_grouped([0.5, 0.25, 0.25], [1, 1, 1], bits=6)
    # ties inside a group are wins for the group; single tokens drop them
    assert law[1] >= single[1] + single[2] - 1e-15
    assert law[0] == pytest.approx(single[0], abs=1e-15)


def test_effective_temperature_recovers_a_tempered_law():
    ell = gt.zipf_logits(50)
    q = np.exp(ell / 0.8)
    q /= q.sum()
    assert gt.effective_temperature(ell, q) == pytest.approx(0.8, abs=1e-9)


@pytest.mark.parametrize("call, name", [
    (lambda: gt.truncated_race_law([0.5, 0.6], 1e-3), "p"),
    (lambda: gt.truncated_race_law([0.5, 0.5], -1.0), "floor"),
    (lambda: gt.grid_race_law_grouped([0.5, 0.25], [1, 1]), "p_levels"),
    (lambda: gt.grid_race_law_grouped([0.5, 0.25], [1, 0]), "counts"),
    (lambda: gt.grid_race_law_grouped([0.5, 0.25], [1, 2], bits=40), "bits"),
    (lambda: gt.zipf_logits(1), "V"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# ----------------------------------------------------------------- the claim, planted

def test_the_claim_holds(test_seed):
    assert run(test_seed, grid_check_draws=100_000, torch_draws=500)["verdict"] == "holds"


def test_a_continuous_model_posing_as_the_grid_law_fails(monkeypatch, test_seed):
    """The grid law replaced by the continuous-truncation law: on the 12-bit toy the tail
    mass drops from 0.0146 to below 0.0095 (asserted), 13 binomial sd at 1e5 draws against
    a 1e-6 threshold at 4.9 sd: missed with probability below 1e-15."""
    original = gt.grid_race_law_grouped

    def continuous(p_levels, counts, bits=24, chunk=1 << 21):
        p = np.repeat(p_levels, counts)
        law = gt.truncated_race_law(p, gt.noise_floor(bits))
        edges = np.concatenate([[0], np.cumsum(counts)])
        return np.array([law[a:b].sum() for a, b in zip(edges[:-1], edges[1:])])

    eps = gt.noise_floor(12)
    levels = [1 - 100 * eps, eps]
    assert continuous(levels, [1, 100], 12)[1] < 0.0095 < 0.0145 < original(levels, [1, 100],
                                                                             12)[1]
    monkeypatch.setattr(gt, "grid_race_law_grouped", continuous)
    assert run(test_seed, grid_check_draws=100_000, torch_draws=500)["verdict"] == "fails"


def test_a_tail_far_above_the_floor_is_refuted(monkeypatch, test_seed):
    """A planted false statement: with the tail 100 floors above the cut the float32 law is
    (asserted below) within 0.001 of temperature one, exactly; the witnesses still agree.
    Power: >= 1 - 1e-6 — exact statement; the witnesses test true laws at 1e-6."""
    import toytheory.claims.catalog.decoding_masked_diffusion as module

    monkeypatch.setitem(module.FLOAT32_TOY, "tail_ratio", 100.0)
    levels, counts = module._float32_toy()
    law = gt.grid_race_law_grouped(levels, counts)
    assert gt.effective_temperature(np.log(levels), law, counts) > 0.999
    assert run(test_seed, grid_check_draws=100_000, torch_draws=500)["verdict"] == "refuted"

"""The exact b-bit grid law of Gumbel-max (toytheory.decoding.gumbel_grid): against full
enumeration and the direct sum, bad input, and its claim with planted failures."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats as sps

from toytheory.claims import execute_claim, load_catalog
from toytheory.decoding import gumbel_grid as gg
from toytheory.decoding import gumbel_truncation as gt

REGISTRY = load_catalog()
CLAIM = "decoding.masked_diffusion.float32_gumbel_grid_law"


def test_sweep_equals_every_uniform_tuple_with_argmax_ties(rng):
    """V = 3 on a 4-bit grid: all 2^12 uniform tuples, np.argmax (first maximum) as
    torch.argmax; with c = 0 the all-zero tuple (mass 2^-12) is the sweep's remainder."""
    p = np.array([0.5, 0.25, 0.25]) if rng.random() < 0.5 else rng.dirichlet(np.ones(3))
    bits = 4
    grid = np.arange(2 ** bits) * 2.0 ** -bits
    for offset in (0.0, 1e-3):
        wins = np.zeros(3)
        with np.errstate(divide="ignore"):
            for us in itertools.product(grid, repeat=3):
                wins[np.argmax(p / (offset - np.log(np.array(us) + offset)))] += 1
        brute = wins / wins.sum()
        law, remainder, _ = gg.grid_race_law(p, bits, offset, tail=0.0)
        np.testing.assert_allclose(gg.grid_race_law_heap(p, bits, offset, tail=0.0)[0], law,
                                   atol=1e-15)
        if offset == 0.0:
            brute[0] -= 2.0 ** -12
            assert remainder == pytest.approx(2.0 ** -12, rel=1e-12)
        np.testing.assert_allclose(law, brute, atol=1e-14)


@pytest.mark.parametrize("bits, V", [(8, 5), (10, 20), (11, 50), (12, 40)])
def test_sweep_equals_the_direct_sum(rng, bits, V):
    p = rng.dirichlet(np.full(V, 0.3))
    if V > 10:                       # exact ties between tokens of equal probability
        p[1:4] = p[1:4].mean()
        p /= p.sum()
    for offset in (0.0, gg.REFERENCE_OFFSET):
        law, remainder, _ = gg.grid_race_law(p, bits, offset, tail=0.0)
        np.testing.assert_allclose(law, gg.grid_race_law_brute_force(p, bits, offset),
                                   atol=1e-13)
        assert abs(law.sum() + remainder - 1.0) < 1e-12


def _violation(law_fn, p, bits, offset, block):
    """Largest excess of the direct sum and of the heap sweep outside the certified
    bounds of ``law_fn`` (0 when both lie inside)."""
    res = law_fn(p, bits, offset, tail=0.0, block=block)
    worst = 0.0
    for ref in (gg.grid_race_law_brute_force(p, bits, offset),
                gg.grid_race_law_heap(p, bits, offset, tail=0.0)[0]):
        # the reference's own float64 rounding: relative V * 2^-52 on a product of V factors
        slack = 4 * p.size * 2.0 ** -52 * ref + 1e-300
        worst = max(worst, float(np.max(res.lower - slack - ref)),
                    float(np.max(ref - res.upper - slack)))
    return worst, res


def _tied_toy(rng, V):
    p = rng.dirichlet(np.full(V, 0.3))
    p[1:4] = p[1:4].mean()               # exact ties between tokens of equal probability
    return p / p.sum()


@pytest.mark.parametrize("bits, V, block", [(6, 4, 1), (8, 9, 7), (10, 20, 64),
                                            (12, 30, 1 << 18), (12, 40, 500)])
def test_blocked_sweep_inside_its_certified_bounds(rng, bits, V, block):
    """Token by token, the direct sum and the heap sweep lie inside grid_race_law_bounds
    (any block size: blocks of 1 atom up to the cap, 1024 atoms here); the certified
    rounding bound is below 1e-9 and the remainder is the exact unassigned mass."""
    p = _tied_toy(rng, V)
    for offset in (0.0, gg.REFERENCE_OFFSET, 1e-3):
        worst, res = _violation(gg.grid_race_law_bounds, p, bits, offset, block)
        assert worst <= 0.0
        assert 0.0 < res.rounding < 1e-9
        # what is left is exact: nothing (c > 0), or all tokens at u = 0 (c = 0)
        assert res.remainder == pytest.approx(2.0 ** (-bits * V) if offset == 0 else 0.0,
                                              rel=1e-9, abs=1e-300)
        law, remainder, steps = gg.grid_race_law(p, bits, offset, tail=0.0, block=block)
        np.testing.assert_array_equal(law, res.law)
        assert steps == res.steps == gg.grid_race_law_heap(p, bits, offset, 0.0)[2]


def _zipf_with_ties(rng, V):
    """Zipf-like law (s drawn in [0.8, 1.2]) with runs of exactly equal tokens."""
    p = np.arange(1, V + 1, dtype=float) ** -rng.uniform(0.8, 1.2)
    for start in rng.choice(V - 4, size=3, replace=False):
        p[start:start + 4] = p[start]
    return p / p.sum()


def _outside_bounds(res, ref):
    """Largest excess of ``ref`` outside ``res``'s certified per-token bounds, less the
    reference's own rounding (relative 4 V 2^-52 plus 4 K 2^-52 for its blocks)."""
    slack = 4 * (ref.size + 2 ** 20) * 2.0 ** -52 * ref + 1e-300
    return max(float(np.max(res.lower - slack - ref)), float(np.max(ref - res.upper - slack)))


@pytest.mark.parametrize("bits, V, tail", [(14, 2000, 1e-10), (12, 600, 0.0),
                                           (16, 300, 1e-8)])
def test_relaid_sweep_equals_the_first_blocked_sweep(rng, bits, V, tail):
    """The re-laid kernel against the first blocked kernel (``_blocked_v1``, kept as a
    reference) on Zipf-like laws with runs of tied tokens, both offsets: every token of
    the old law lies in the new law's certified bounds, and with tail > 0 the atoms
    processed agree (the same stopping atom; with tail 0 the product underflows to zero
    at a rounding-dependent atom, far below any mass that counts)."""
    p = _zipf_with_ties(rng, V)
    for offset in (0.0, gg.REFERENCE_OFFSET):
        res = gg.grid_race_law_bounds(p, bits, offset, tail=tail, block=1 << 12)
        old, old_rem, old_steps = gg._grid_race_law_v1(p, bits, offset, tail=tail,
                                                       block=1 << 12)
        assert _outside_bounds(res, old) <= 0.0
        assert res.error < 1e-9 + tail
        if tail > 0:
            assert res.steps == old_steps
            assert res.remainder == pytest.approx(old_rem, rel=1e-9)


@pytest.mark.parametrize("V, block", [(37, 3), (95, 2)])
def test_relaid_sweep_with_overflowing_blocks(V, block):
    """Blocks of 2-3 atoms on V equal tokens, 7-bit grid, offset 0.1: every grid time
    carries V tied atoms, so after the width doubled over empty blocks a block catches
    two of them (2V atoms, more than the 4 block + V + 16 the work arrays hold; checked
    once with an instrumented copy of the kernel: one retry each) and is retried
    narrower. The law is still the direct sum's, token by token, inside the bounds."""
    p = np.full(V, 1.0 / V)
    worst, res = _violation(gg.grid_race_law_bounds, p, 7, 0.1, block)
    assert worst <= 0.0 and res.rounding < 1e-9
    np.testing.assert_allclose(res.law, gg.grid_race_law_brute_force(p, 7, 0.1),
                               rtol=1e-12)


@pytest.mark.parametrize("threads, tail", [(2, 1e-10), (3, 0.0), (5, 1e-6)])
def test_time_spans_in_parallel_give_the_same_law(rng, threads, tail):
    """``threads`` spans cut in time, each from its exact counts: the first blocked
    sweep's law lies inside the parallel run's certified bounds token by token, and
    with tail > 0 the same atoms are processed (the spans stop where the sweep stops;
    later spans start below the tail and do nothing)."""
    p = _zipf_with_ties(rng, 800)
    for offset in (0.0, gg.REFERENCE_OFFSET):
        old, old_rem, old_steps = gg._grid_race_law_v1(p, 13, offset, tail=tail)
        res = gg.grid_race_law_bounds(p, 13, offset, tail=tail, block=1 << 11,
                                      threads=threads)
        assert _outside_bounds(res, old) <= 0.0 and res.error < 1e-9 + tail
        if tail > 0:
            assert res.steps == old_steps
            assert res.remainder == pytest.approx(old_rem, rel=1e-9)


def test_planted_span_bug_is_caught(monkeypatch, rng):
    """Planted companion of the parallel spans: cut times whose counts miss one level per
    token (the span started one atom late: ``_counts_below`` off by one) leave the first
    sweep's law outside the bounds. Deterministic (exact sums): power 1."""
    p = _zipf_with_ties(rng, 800)
    old = gg._grid_race_law_v1(p, 13, 0.0, tail=1e-10)[0]
    original = gg._counts_below.py_func

    def late(p, levels, t):
        return original(p, levels, t) + (t > 0)

    monkeypatch.setattr(gg, "_blocked_chunks", gg._blocked_chunks.py_func)
    monkeypatch.setattr(gg, "_counts_below", late)
    res = gg.grid_race_law_bounds(p, 13, 0.0, tail=1e-10, block=1 << 11, threads=2)
    assert _outside_bounds(res, old) > 1e-9


def test_planted_kernel_bugs_are_caught_by_the_first_sweep(monkeypatch, rng):
    """Planted companions of the comparison above: the new kernel fed (a) its levels off
    by one atom (level n read as n + 1) and (b) the reversed vocabulary (ties to the
    highest index, reversed back). Each leaves the first sweep's law outside the new
    certified bounds. Deterministic (exact sums, no draws): power 1 >= 1 - 1e-6; the
    misses are order 2^-b, or the mass of one tie, against bounds of order 1e-12."""
    p = _zipf_with_ties(rng, 600)
    bits = 12
    old = gg._grid_race_law_v1(p, bits, 0.0, tail=0.0, block=1 << 12)[0]
    original = gg._blocked

    def off_by_one(p, levels, delta, tail, block):
        return original(p, np.append(levels[1:], np.inf), delta, tail, block)

    def last_index(p, levels, delta, tail, block):
        law, *rest = original(p[::-1].copy(), levels, delta, tail, block)
        return (law[::-1].copy(), *rest)

    for wrong in (off_by_one, last_index):
        monkeypatch.setattr(gg, "_blocked", wrong)
        res = gg.grid_race_law_bounds(p, bits, 0.0, tail=0.0, block=1 << 12)
        assert _outside_bounds(res, old) > 1e-9
    monkeypatch.setattr(gg, "_blocked", original)
    assert _outside_bounds(gg.grid_race_law_bounds(p, bits, 0.0, tail=0.0, block=1 << 12),
                           old) <= 0.0


def _planted(monkeypatch, change):
    """grid_race_law_bounds with its kernel fed wrong input by ``change``."""
    original = gg._blocked

    def wrong(p, levels, delta, tail, block):
        return original(*change(p, levels), delta, tail, block)

    monkeypatch.setattr(gg, "_blocked", wrong)


def test_planted_ties_to_the_last_index_are_caught(monkeypatch, rng):
    """Ties to the highest index (the kernel run on the reversed vocabulary, reversed
    back): the tied tokens 1..3 leave the certified bounds. Deterministic: the tied
    tokens' exact laws differ by at least the mass of one tie, far above the bounds."""
    p = _tied_toy(rng, 20)
    original = gg._blocked

    def last_index(p, levels, delta, tail, block):
        law, *rest = original(p[::-1].copy(), levels, delta, tail, block)
        return (law[::-1].copy(), *rest)

    monkeypatch.setattr(gg, "_blocked", last_index)
    worst, _ = _violation(gg.grid_race_law_bounds, p, 10, gg.REFERENCE_OFFSET, 64)
    assert worst > 1e-6


def test_planted_off_by_one_level_is_caught(monkeypatch, rng):
    """Noise levels off by one grid step (level n read as n + 1): caught, deterministic
    (every token's law moves by order 2^-b, far above the certified bounds)."""
    p = _tied_toy(rng, 20)
    _planted(monkeypatch, lambda p, levels: (p, np.append(levels[1:], np.inf)))
    worst, _ = _violation(gg.grid_race_law_bounds, p, 10, 0.0, 64)
    assert worst > 1e-6


def test_planted_survival_off_by_one_is_caught(monkeypatch, rng):
    """Grid width 2^-b read as 2^-(b+1) in the survivals only (an off-by-one in the
    grid's exponent): caught, deterministic."""
    p = _tied_toy(rng, 20)
    original = gg._blocked
    monkeypatch.setattr(gg, "_blocked", lambda p, levels, delta, tail, block:
                        original(p, levels, delta / 2, tail, block))
    worst, _ = _violation(gg.grid_race_law_bounds, p, 10, 0.0, 64)
    assert worst > 1e-6


def test_tail_bounds_the_error(rng):
    p = rng.dirichlet(np.ones(30))
    full, _, _ = gg.grid_race_law(p, 12, 0.0, tail=0.0)
    cut, remainder, _ = gg.grid_race_law(p, 12, 0.0, tail=1e-4)
    assert remainder < 1e-4
    assert np.all(cut <= full + 1e-15) and (full - cut).sum() <= remainder + 1e-12


def test_float32_cap_of_the_reference_form():
    """The float32 sum swallows the 1e-10 near u = 1: E_1 = 2^-24 + 2^-49 + 1e-10, as
    torch computes it (checked on the tensor itself); u = 0 gives 1e-10 - log fl32(1e-10)."""
    import torch

    levels = gg.grid_noise_levels(24, gg.REFERENCE_OFFSET)
    assert levels[0] == pytest.approx(2.0 ** -24 + 2.0 ** -49 + 1e-10, rel=1e-9)
    u = torch.tensor([1 - 2.0 ** -24, 0.0], dtype=torch.float32)
    ref = (1e-10 - (u + 1e-10).log()).double().numpy()
    np.testing.assert_allclose(levels[[0, -1]], ref, rtol=2e-7)
    assert levels[-1] == pytest.approx(1e-10 - np.log(float(np.float32(1e-10))), rel=1e-12)
    assert np.isinf(gg.grid_noise_levels(8)[-1])


@pytest.mark.parametrize("call, name", [
    (lambda: gg.grid_race_law([0.5, 0.6], 8), "p"),
    (lambda: gg.grid_race_law([0.5, 0.5], 0), "bits"),
    (lambda: gg.grid_race_law([0.5, 0.5], 8, offset=-1.0), "offset"),
    (lambda: gg.grid_race_law([0.5, 0.5], 8, tail=1.0), "tail"),
    (lambda: gg.grid_race_law_brute_force([0.5, 0.5], 30), "bits"),
    (lambda: gg.grid_race_law([0.5, 0.5], 8, block=0), "block"),
    (lambda: gg.grid_race_law([0.5, 0.5], 8, threads=0), "threads"),
    (lambda: gg.grid_race_law_bounds([0.5, 0.5], 8, threads=1.5), "threads"),
    (lambda: gg.grid_race_law_bounds([0.5, 0.6], 8), "p"),
    (lambda: gg.grid_race_law_heap([0.5, 0.5], 8, tail=-1.0), "tail"),
    (lambda: gg.grid_race_law_brute_force([1.0, 0.0], 8), "p"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# ----------------------------------------------------------------- the claim, planted

def run(seed, claim=None):
    return execute_claim(claim or REGISTRY[CLAIM], "quick", seed)


def test_the_claim_holds(test_seed):
    assert run(test_seed)["verdict"] == "holds"


def _continuous_everywhere(monkeypatch):
    """The grid law (sweep and direct sum alike) replaced by the continuous model."""
    def continuous(p, bits=24, offset=0.0, tail=0.0):
        law = gt.truncated_race_law(p, gg.grid_noise_levels(bits, offset)[0])
        return law, 0.0, 0

    monkeypatch.setattr(gg, "grid_race_law", continuous)
    monkeypatch.setattr(gg, "grid_race_law_brute_force",
                        lambda p, bits, offset=0.0: continuous(p, bits, offset)[0])
    return continuous


def test_a_continuous_model_posing_as_the_grid_law_fails(monkeypatch, test_seed):
    """Only the real draws can catch it (the direct sum is planted too). Power: on the
    continuous law's own equal-mass cells the 8000 draws of the true grid law give a
    noncentral chi-square whose chance of staying below the 1e-6 critical value is
    computed here and asserted below 1e-6."""
    import toytheory.claims.catalog.decoding_masked_diffusion as module

    continuous = _continuous_everywhere(monkeypatch)
    params = REGISTRY[CLAIM].tiers["quick"]
    p = np.exp(gt.zipf_logits(params["V"]))
    p /= p.sum()
    wrong = continuous(p, params["bits"], gg.REFERENCE_OFFSET)[0]
    levels = gg.grid_noise_levels(params["bits"], gg.REFERENCE_OFFSET)
    right, _, _ = gg._sweep(p, levels, 2.0 ** -params["bits"], 1e-12)
    starts = module._equal_mass_cells(wrong, params["cells"])
    a, b = np.add.reduceat(wrong, starts), np.add.reduceat(right, starts)
    df = starts.size - 1
    miss = sps.ncx2.cdf(sps.chi2.isf(1e-6, df), df,
                        params["draws"] * float(((b - a) ** 2 / a).sum()))
    assert miss < 1e-6
    assert run(test_seed)["verdict"] == "fails"


def test_a_sweep_with_ties_to_the_last_index_fails(monkeypatch, test_seed):
    """A planted tie bug (ties to the highest index): the direct sum on the tied toy
    disagrees beyond 1e-12 (exact, no randomness).
    Power: deterministic — exact sums, no random draw."""
    original = gg.grid_race_law

    def last_index(p, bits=24, offset=0.0, tail=1e-10):
        law, remainder, steps = original(np.asarray(p)[::-1], bits, offset, tail)
        return law[::-1], remainder, steps

    monkeypatch.setattr(gg, "grid_race_law", last_index)
    assert run(test_seed)["verdict"] == "fails"


def test_a_continuous_model_as_sharp_as_the_grid_is_refuted(monkeypatch, test_seed):
    """A planted false statement: the continuous model replaced by the exact grid law, so
    its entropy loss is the grid's (ratio 1 < 1.2, exact); the witnesses are untouched.
    Power: >= 1 - 1e-6 — exact statement; the witnesses test true laws at 1e-6."""
    def as_grid(p, floor):
        return gg.grid_race_law(p, REGISTRY[CLAIM].tiers["quick"]["bits"],
                                gg.REFERENCE_OFFSET, tail=1e-12)[0]

    monkeypatch.setattr(gt, "truncated_race_law", as_grid)
    assert run(test_seed)["verdict"] == "refuted"

"""OptMATH's rejection filter on tiny knapsacks: exact rates against hand enumeration,
bad input, and the claims' planted failures."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.sampling import rejection_filter as rf

MAIN = "sampling.rejection_filter.forward_check_raises_faithfulness"


def _hand_rates(p_back, p_forward):
    """One item, two levels, capacity 1: opt = v if w == 1 else 0; every path enumerated
    with fractions (channel: flip to the other level with probability p)."""
    def law(x, p):
        return {x: 1 - p, 1 - x: p}

    faithful_accept = accept = Fraction(0)
    for v, w in itertools.product((0, 1), repeat=2):       # levels 0, 1 stand for 1, 2
        opt = lambda a, b: (a + 1) * (b == 0)              # noqa: E731
        for (nv, pv), (nw, pw) in itertools.product(law(v, p_back).items(),
                                                    law(w, p_back).items()):
            for (fv, qv), (fw, qw) in itertools.product(law(nv, p_forward).items(),
                                                        law(nw, p_forward).items()):
                pr = Fraction(1, 4) * pv * pw * qv * qw
                if opt(fv, fw) == opt(v, w):
                    accept += pr
                    if (nv, nw) == (v, w):
                        faithful_accept += pr
    faithful = (1 - p_back) ** 2
    return faithful_accept / faithful, accept, faithful_accept / accept


def test_rates_match_hand_enumeration(rng):
    pb = Fraction(int(rng.integers(1, 40)), 100)
    pf = Fraction(int(rng.integers(1, 40)), 100)
    recall, accept, precision = _hand_rates(pb, pf)
    r = rf.filter_rates(rf.KnapsackToy(n_items=1, levels=2, capacity=1), float(pb), float(pf))
    assert r.recall == pytest.approx(float(recall), abs=1e-14)
    assert r.accept == pytest.approx(float(accept), abs=1e-14)
    assert r.precision == pytest.approx(float(precision), abs=1e-14)


def test_perfect_channels_and_optimal_values():
    toy = rf.KnapsackToy()
    r = rf.filter_rates(toy, 0.0, 0.3)
    assert r.faithful == 1.0 and r.precision == 1.0
    assert rf.filter_rates(toy, 0.2, 0.0).recall == 1.0
    # values (3, 2, 1), weights (2, 2, 4), capacity 5: items 1 and 2, value 5
    opt = rf.optimal_values(toy)
    index = np.ravel_multi_index((2, 1, 0, 1, 1, 3), (4,) * 6)
    assert opt[index] == 5


@pytest.mark.parametrize("call, name", [
    (lambda: rf.filter_rates(rf.KnapsackToy(), -0.1, 0.2), "p_back"),
    (lambda: rf.filter_rates(rf.KnapsackToy(), 0.1, 1.2), "p_forward"),
    (lambda: rf.KnapsackToy(n_items=0), "n_items"),
    (lambda: rf.KnapsackToy(levels=1), "levels"),
    (lambda: rf.filter_rates(rf.KnapsackToy(n_items=4, levels=5), 0.1, 0.1), "toy"),
    (lambda: rf.simulate_filter(rf.KnapsackToy(), 0.1, 0.1, 0, np.random.default_rng(0)),
     "n"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_a_channel_that_can_keep_a_corrupted_value_fails_the_simulation(monkeypatch,
                                                                       test_seed):
    """Planted: the exact channel spreads a corruption over all levels (the same one
    included). P(accept) then moves by 0.04 to 0.09 in every setting; the 1e-6 / 12
    Clopper-Pearson half-width at 40,000 runs is under 0.014: ``fails`` with probability
    >= 1 - 1e-6 under any seed (the simulation corrupts to another level, in its code).
    Power: a miss needs the simulated rate 0.04 - 0.014 = 0.026 from its mean in every
    setting; by Hoeffding <= 2 exp(-2 * 40000 * 0.026^2) < 1e-23 for any one."""
    monkeypatch.setattr(rf, "channel_matrix", lambda L, p: (1 - p) * np.eye(L) + p / L)
    result = execute_claim(load_catalog()[MAIN], "quick", test_seed)
    assert result["verdict"] == "fails", result["message"]


def test_a_worse_than_chance_forward_model_refutes_the_filter(monkeypatch, test_seed):
    """Planted false statement: p_forward = 0.9 (worse than chance for 4 levels) in the grid;
    there precision (0.371) is below the base rate (0.377), exactly: ``refuted`` under every
    seed, with the referee's note. Power: deterministic — exact precision 0.371 against the
    base rate 0.377; no draw decides it."""
    import toytheory.claims.catalog.misc_optmath as module
    from toytheory.claims.contract import result_problems

    monkeypatch.setattr(module, "P_FORWARD", module.P_FORWARD + (0.9,))
    result = execute_claim(load_catalog()[MAIN], "quick", test_seed)
    assert result["verdict"] == "refuted", result["message"]
    assert result_problems(result) == []

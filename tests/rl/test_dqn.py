"""The minibatch DQN on Linearq: argument checks, determinism, and that it learns."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from toytheory.rl.dqn import dqn_greedy_actions, dqn_widths, fit_dqn

pytest.importorskip("numba")


@pytest.mark.parametrize("kwargs, name", [
    ({"u": 0}, "u"), ({"width": 0}, "width"), ({"seed": -1}, "seed"),
    ({"target_every": 0}, "target_every"), ({"batch": 0}, "batch"), ({"lr": 0.0}, "lr"),
    ({"n_targets": 0}, "n_targets"),
])
def test_bad_arguments_are_refused_by_name(kwargs, name):
    args = {"u": 2, "width": 2, "seed": 0, **kwargs}
    u, width, seed = args.pop("u"), args.pop("width"), args.pop("seed")
    with pytest.raises(ValueError, match=rf"^{name}:"):
        dqn_greedy_actions(u, width, seed, **args)


def test_widths_are_the_paper_widths_in_range():
    assert dqn_widths(16) == [4, 8, 16, 64]
    assert dqn_widths(32) == [8, 16, 32, 128]
    assert dqn_widths(4) == [1, 2, 4, 8, 16]


def test_a_run_depends_only_on_its_seed(test_seed):
    a = dqn_greedy_actions(4, 8, test_seed, n_targets=5, target_every=20)
    b = dqn_greedy_actions(4, 8, test_seed, n_targets=5, target_every=20)
    assert a.dtype == np.int64 and a.shape == (15,)
    assert np.array_equal(a, b)
    assert set(np.unique(a)) <= {0, 1}


def test_a_trained_dqn_reaches_the_optimum_more_often_than_an_untrained_one(test_seed):
    """Training matters: on Linearq(16) at width 64, the claim's protocol (2|S| refreshes
    of 50 steps) reaches 4u + 2 in 159 of 240 runs (rate 0.66; 1e-3 Clopper-Pearson lower
    bound 0.56), one Adam step in 1 of 240 (upper bound 0.038): an untrained greedy policy is
    the threshold 1[s >= u + 1] only by chance. With 64 runs each and the cut at 15, at
    rates 0.55 and 0.05: P(trained <= 15) = 2.7e-7 and P(untrained >= 15) = 4.7e-7 (exact
    binomial, asserted below), together below 1e-6. (The former 24 runs with the cut at 8
    missed with probability about 1e-3.)"""
    n, cut = 64, 15
    assert sps.binom.cdf(cut, n, 0.55) + sps.binom.sf(cut - 1, n, 0.05) < 1e-6
    seeds = [test_seed * 1000 + i for i in range(n)]
    trained = fit_dqn(16, [64], seeds)
    untrained = fit_dqn(16, [64], seeds, n_targets=1, target_every=1)
    k_trained, _ = trained.successes()
    k_untrained, _ = untrained.successes()
    assert k_trained > cut and k_untrained < cut, (k_trained, k_untrained)

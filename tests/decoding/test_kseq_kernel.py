"""The K-SEQ Numba kernel: alias tables by hand, thread-count independence, the step law
against an exact binomial count, bad input."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import stats as sps

from sims.decoding_speculative import _alias_table, kseq_counts
from toytheory.decoding import kseq_rho


def test_alias_table_realises_the_law_to_the_grid(rng):
    """Enumerate every column and every keep threshold: the realised law is within
    2^-(32 - c) of the float64 one, c = log2(columns)."""
    prob = rng.dirichlet(np.ones(5))
    keep, alias = _alias_table(prob, 8)
    bits = 29
    realised = np.zeros(8)
    for col in range(8):
        realised[col] += keep[col] / 2.0 ** bits / 8
        realised[alias[col]] += (2.0 ** bits - keep[col]) / 2.0 ** bits / 8
    assert np.abs(realised[:5] - prob).max() <= 2.0 ** -bits
    assert realised[5:].max() == 0.0


def test_counts_do_not_depend_on_the_thread_count(rng, test_seed):
    target, draft = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6))
    rho = kseq_rho(target, draft, 3)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = kseq_counts(target, draft, 3, rho, 50_000, test_seed)
        numba.set_num_threads(before)
        many = kseq_counts(target, draft, 3, rho, 50_000, test_seed)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one[0], many[0])
    assert one[1] == many[1]


def test_one_draft_keeps_with_the_overlap(rng, test_seed):
    """k = 1, rho = 1: a selection is kept with probability sum min(target, draft) exactly
    (speculative sampling); exact two-sided binomial test at 1e-6."""
    target, draft = rng.dirichlet(np.ones(4)), rng.dirichlet(np.ones(4))
    n = 200_000
    _, kept = kseq_counts(target, draft, 1, 1.0, n, test_seed)
    overlap = float(np.minimum(target, draft).sum())
    assert sps.binomtest(kept, n, overlap).pvalue > 1e-6


@pytest.mark.parametrize("kwargs, name", [
    ({"k": 0}, "k"), ({"n": 0}, "n"), ({"seed": -1}, "seed"), ({"rho": 0.5}, "rho"),
    ({"target": [0.5, 0.6]}, "target"),
])
def test_bad_input_names_the_argument(kwargs, name):
    args = {"target": [0.5, 0.5], "draft": [0.25, 0.75], "k": 2, "rho": 1.2, "n": 10,
            "seed": 0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        kseq_counts(**args)

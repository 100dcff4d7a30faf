"""The reusable-holdout experiment: numpy reference, fast simulator, their agreement."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory import stats
from toytheory.adaptive.holdout_experiment import (PAPER_K_VALUES,
                                                   default_thresholdout_parameters,
                                                   reusable_holdout_experiment, scaled_k_values)
from toytheory.adaptive.mechanisms import EXHAUSTED, Thresholdout

sim = pytest.importorskip("sims.adaptive_holdout")
torch = pytest.importorskip("torch")
LEVEL = 1e-6


def test_reference_experiment_records_one_half_at_k_zero_and_the_exact_truth():
    r = reusable_holdout_experiment(100, 100, reps=2, rng=0)
    assert r.standard.shape == r.thresholdout.shape == (2, 13, 3)
    np.testing.assert_array_equal(r.standard[:, 0], 0.5)
    np.testing.assert_array_equal(r.true_standard, 0.5)
    assert r.answered.all() and not r.exhausted.any()
    assert (r.budget_used <= r.params["budget"]).all()


def test_scaled_k_values_are_the_papers_thirteen_values_scaled_to_d():
    assert scaled_k_values(10_000) == PAPER_K_VALUES
    assert scaled_k_values(1000) == (0, 1, 2, 3, 4, 7, 10, 15, 20, 25, 30, 40, 50)
    T, sigma, B = default_thresholdout_parameters(10_000, 10_000, 12)
    assert (T, sigma, B) == (0.04, 0.0025, 1012)


def test_projection_columns_have_exactly_the_drawn_correlations():
    gen = torch.Generator().manual_seed(0)
    y = 2.0 * torch.randint(0, 2, (3, 500), generator=gen).double() - 1
    c = torch.randn((3, 7), generator=gen, dtype=torch.float64)
    x = sim._columns_projection(torch, y, c, gen, torch.float64)
    np.testing.assert_allclose((torch.einsum("rn,rnk->rk", y, x) / 500).numpy(), c.numpy(),
                               atol=1e-13)
    # the part orthogonal to y is standard normal there: per-entry law of x - c y
    resid = (x - y[:, :, None] * c[:, None, :]).numpy().ravel()
    assert stats.ks_1samp(resid / np.sqrt(1 - 1 / 500), stats_norm_cdf, LEVEL).verdict == "accept"


def test_the_identity_check_sees_columns_that_skip_the_projection(monkeypatch):
    def no_projection(torch_, y, c_sel, gen, dtype):
        z = torch_.randn((y.shape[0], y.shape[1], c_sel.shape[1]), generator=gen, dtype=dtype)
        return z + y[:, :, None] * c_sel[:, None, :]

    gen = torch.Generator().manual_seed(0)
    y = 2.0 * torch.randint(0, 2, (3, 500), generator=gen).double() - 1
    c = torch.randn((3, 7), generator=gen, dtype=torch.float64)
    x = no_projection(torch, y, c, gen, torch.float64)
    assert np.max(np.abs((torch.einsum("rn,rnk->rk", y, x) / 500).numpy() - c.numpy())) > 1e-3


def stats_norm_cdf(x):
    from scipy.special import ndtr
    return ndtr(x)


def _law_tests(a, b):
    return [stats.ks_2samp(a.standard[:, -1, 1], b.standard[:, -1, 1], LEVEL),
            stats.ks_2samp(a.standard[:, -1, 0], b.standard[:, -1, 0], LEVEL),
            stats.ks_2samp(a.thresholdout[:, -1, 1], b.thresholdout[:, -1, 1], LEVEL),
            stats.ks_2samp(a.standard[:, 3, 2], b.standard[:, 3, 2], LEVEL)]


def test_projection_and_direct_simulators_agree_in_law():
    a = sim.simulate_reusable_holdout(200, 200, reps=300, seed=1)
    b = sim.simulate_reusable_holdout(200, 200, reps=300, seed=2, method="direct")
    assert stats.bonferroni(_law_tests(a, b), LEVEL).verdict == "accept"


def test_simulator_agrees_in_law_with_the_numpy_reference():
    a = sim.simulate_reusable_holdout(200, 200, reps=300, seed=3)
    b = reusable_holdout_experiment(200, 200, reps=80, rng=4)
    assert stats.bonferroni(_law_tests(a, b), LEVEL).verdict == "accept"


def test_the_law_comparison_sees_columns_drawn_without_their_correlations(monkeypatch):
    def unconditioned(torch_, y, c_sel, gen, dtype):  # forgets to condition on c
        return torch_.randn((y.shape[0], y.shape[1], c_sel.shape[1]), generator=gen,
                            dtype=dtype, device=y.device)

    monkeypatch.setattr(sim, "_columns_projection", unconditioned)
    a = sim.simulate_reusable_holdout(200, 200, reps=300, seed=3)
    b = sim.simulate_reusable_holdout(200, 200, reps=300, seed=4, method="direct")
    assert stats.bonferroni(_law_tests(a, b), LEVEL).verdict == "reject"


def test_numba_thresholdout_equals_the_reference_class_fed_the_same_streams():
    budget, q1, q2 = 6, 40, 15
    rng = np.random.default_rng(11)
    t1, h1 = rng.random(q1), rng.random(q1) * 0.2 + 0.4
    t2, h2 = rng.random(q2), rng.random(q2)
    mech = Thresholdout(np.zeros((1, 1)), np.zeros((50, 1)), 0.1, 0.02, budget,
                        rng=np.random.default_rng(5))
    expected = [mech.answer_means(a, b) for a, b in zip(np.r_[t1, t2], np.r_[h1, h2])]
    g_stream, e_stream, x_stream = np.random.default_rng(5).spawn(3)
    state = sim.ThresholdoutState(g_stream.laplace(0, 1, (1, budget + 1)),
                                  e_stream.laplace(0, 1, (1, q1 + q2)),
                                  x_stream.laplace(0, 1, (1, budget)), 0.1, 0.02, budget)
    a1, ok1 = state.answer(t1[None], h1[None])
    a2, ok2 = state.answer(t2[None], h2[None])
    got = np.r_[a1[0], a2[0]]
    ok = np.r_[ok1[0], ok2[0]]
    assert mech.exhausted and not ok.all()
    for e, g, k in zip(expected, got, ok):
        assert (e is EXHAUSTED and not k) or (k and e == g)
    assert int(state.over_threshold[0]) == mech.over_threshold == budget


def test_simulator_reports_an_exhausted_budget_instead_of_a_wrong_answer():
    r = sim.simulate_reusable_holdout(100, 100, reps=5, seed=0, budget=1)
    assert r.exhausted.all() and not r.answered[:, 1:].all()
    assert np.isnan(r.thresholdout[:, :, 1][~r.answered]).all()


def test_simulator_runs_on_every_torch_device_with_the_same_law(torch_device):
    if torch_device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    a = sim.simulate_reusable_holdout(200, 200, reps=200, seed=5, device=torch_device)
    b = sim.simulate_reusable_holdout(200, 200, reps=200, seed=6)
    assert a.params["device"].startswith(torch_device)
    assert stats.bonferroni(_law_tests(a, b), LEVEL).verdict == "accept"


@pytest.mark.parametrize("kwargs, name", [(dict(n=1, d=10), "n"), (dict(n=10, d=0), "d"),
                                          (dict(n=10, d=10, k_values=[0, 20]), "k_values"),
                                          (dict(n=10, d=10, method="magic"), "method"),
                                          (dict(n=10, d=10, reps=0), "reps")])
def test_simulator_arguments_are_checked(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        sim.simulate_reusable_holdout(**kwargs)


def test_reference_arguments_are_checked():
    with pytest.raises(ValueError, match="^k_values:"):
        reusable_holdout_experiment(10, 10, k_values=[3, 1])
    with pytest.raises(ValueError, match="^budget:"):
        reusable_holdout_experiment(10, 10, budget=0)

"""The reusable-holdout experiment: numpy reference, fast simulator, their agreement."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory import stats
from toytheory.adaptive.holdout_experiment import (PAPER_K_VALUES,
                                                   default_thresholdout_parameters,
                                                   reusable_holdout_experiment, scaled_k_values)
from toytheory.adaptive.mechanisms import EXHAUSTED, Thresholdout
from tests._seeds import reseed

sim = pytest.importorskip("sims.adaptive_holdout")
torch = pytest.importorskip("torch")
LEVEL = 1e-6


def test_reference_experiment_records_one_half_at_k_zero_and_the_exact_truth():
    r = reusable_holdout_experiment(100, 100, reps=2, rng=reseed(0))
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


def _projection_draw(seed=reseed(0), n=500):
    """Labels, correlations and the columns ``sim._columns_projection`` draws from them.

    Looks the projection up on the module at call time, so a test can plant a
    bug in it with ``monkeypatch``.
    """
    gen = torch.Generator().manual_seed(seed)
    y = 2.0 * torch.randint(0, 2, (3, n), generator=gen).double() - 1
    c = torch.randn((3, 7), generator=gen, dtype=torch.float64)
    x = sim._columns_projection(torch, y, c, gen, torch.float64)
    return y, c, x


def _identity_error(y, c, x):
    """:math:`\\max |y^\\top x_j / n - c_j|`: zero (to rounding) for conditioned columns."""
    n = y.shape[1]
    return float(np.max(np.abs((torch.einsum("rn,rnk->rk", y, x) / n).numpy() - c.numpy())))


def _residual_ks(y, c, x):
    """KS against N(0, 1) of the residual :math:`x - c y`, scaled by :math:`\\sqrt{1 - 1/n}`."""
    n = y.shape[1]
    resid = (x - y[:, :, None] * c[:, None, :]).numpy().ravel()
    return stats.ks_1samp(resid / np.sqrt(1 - 1 / n), stats_norm_cdf, LEVEL)


def test_projection_columns_have_exactly_the_drawn_correlations():
    y, c, x = _projection_draw()
    assert _identity_error(y, c, x) <= 1e-13
    # the part orthogonal to y is standard normal there: per-entry law of x - c y
    assert _residual_ks(y, c, x).verdict == "accept"


def test_the_residual_ks_sees_projection_noise_twenty_percent_too_wide(monkeypatch):
    """Planted bug: the simulator's projection step draws its noise 1.2 times too wide.

    The columns still have exactly the drawn correlations (the identity check
    cannot see this bug); the KS test on the residual, at the same level,
    must reject.

    Power: the 3 x 500 x 7 = 10,500 residual entries are N(0, 1.44) instead of N(0, 1) (up
    to the rank-one projection per column), a KS distance of 0.0598; the critical distance
    at 1e-6 is sqrt(ln(2e6) / 21000) = 0.026, so by DKW a miss has probability <=
    2 exp(-2 * 10500 * 0.0336^2) < 1e-10 under any suite seed.
    """
    real = sim._columns_projection

    def too_wide(torch_, y, c_sel, gen, dtype):
        x = real(torch_, y, c_sel, gen, dtype)
        signal = y[:, :, None] * c_sel[:, None, :]
        return signal + 1.2 * (x - signal)

    monkeypatch.setattr(sim, "_columns_projection", too_wide)
    y, c, x = _projection_draw()
    assert _identity_error(y, c, x) <= 1e-13
    assert _residual_ks(y, c, x).verdict == "reject"


def _simulator_projection_calls(monkeypatch, projection):
    """Run the real simulator with ``projection`` as its projection step; record every call.

    Returns the ``(y, c_sel, columns)`` of each call the simulator made, so a
    check runs on the columns the simulator actually used.
    """
    calls = []

    def recording(torch_, y, c_sel, gen, dtype):
        x = projection(torch_, y, c_sel, gen, dtype)
        calls.append((y.clone(), c_sel.clone(), x.clone()))
        return x

    monkeypatch.setattr(sim, "_columns_projection", recording)
    sim.simulate_reusable_holdout(60, 40, k_values=[0, 2, 5], reps=3, seed=reseed(0))
    assert len(calls) == 2  # the training and the holdout columns
    return calls


def test_the_simulators_columns_have_exactly_the_drawn_correlations(monkeypatch):
    calls = _simulator_projection_calls(monkeypatch, sim._columns_projection)
    assert max(_identity_error(*call) for call in calls) <= 1e-12


def test_the_identity_check_sees_columns_that_skip_the_projection(monkeypatch):
    """Planted bug: the simulator's projection step forgets to remove the part of z along y.

    The columns the real simulator then uses have correlations off by
    :math:`y^\\top z / n \\sim N(0, 1/n)`; the identity check must see it.

    Power: n = 60, so each of the >= 15 independent correlation errors per call is
    N(0, 1/60); all below 1e-3 has probability <= P(|Z| < 0.0078)^15 = 0.0062^15 < 1e-33.
    """
    def no_projection(torch_, y, c_sel, gen, dtype):
        z = torch_.randn((y.shape[0], y.shape[1], c_sel.shape[1]), generator=gen,
                         device=y.device, dtype=dtype)
        return z + y[:, :, None] * c_sel[:, None, :]

    calls = _simulator_projection_calls(monkeypatch, no_projection)
    assert max(_identity_error(*call) for call in calls) > 1e-3


def stats_norm_cdf(x):
    from scipy.special import ndtr
    return ndtr(x)


def _law_tests(a, b):
    return [stats.ks_2samp(a.standard[:, -1, 1], b.standard[:, -1, 1], LEVEL),
            stats.ks_2samp(a.standard[:, -1, 0], b.standard[:, -1, 0], LEVEL),
            stats.ks_2samp(a.thresholdout[:, -1, 1], b.thresholdout[:, -1, 1], LEVEL),
            stats.ks_2samp(a.standard[:, 3, 2], b.standard[:, 3, 2], LEVEL)]


def test_projection_and_direct_simulators_agree_in_law():
    a = sim.simulate_reusable_holdout(200, 200, reps=300, seed=reseed(1))
    b = sim.simulate_reusable_holdout(200, 200, reps=300, seed=reseed(2), method="direct")
    assert stats.bonferroni(_law_tests(a, b), LEVEL).verdict == "accept"


def test_simulator_agrees_in_law_with_the_numpy_reference():
    a = sim.simulate_reusable_holdout(200, 200, reps=300, seed=reseed(3))
    b = reusable_holdout_experiment(200, 200, reps=80, rng=reseed(4))
    assert stats.bonferroni(_law_tests(a, b), LEVEL).verdict == "accept"


def test_the_law_comparison_sees_columns_drawn_without_their_correlations(monkeypatch):
    def unconditioned(torch_, y, c_sel, gen, dtype):  # forgets to condition on c
        return torch_.randn((y.shape[0], y.shape[1], c_sel.shape[1]), generator=gen,
                            dtype=dtype, device=y.device)

    monkeypatch.setattr(sim, "_columns_projection", unconditioned)
    a = sim.simulate_reusable_holdout(200, 200, reps=300, seed=reseed(3))
    b = sim.simulate_reusable_holdout(200, 200, reps=300, seed=reseed(4), method="direct")
    assert stats.bonferroni(_law_tests(a, b), LEVEL).verdict == "reject"


def test_numba_thresholdout_equals_the_reference_class_fed_the_same_streams():
    budget, q1, q2 = 6, 40, 15
    rng = np.random.default_rng(reseed(11))
    t1, h1 = rng.random(q1), rng.random(q1) * 0.2 + 0.4
    t2, h2 = rng.random(q2), rng.random(q2)
    mech = Thresholdout(np.zeros((1, 1)), np.zeros((50, 1)), 0.1, 0.02, budget,
                        rng=np.random.default_rng(reseed(5)))
    expected = [mech.answer_means(a, b) for a, b in zip(np.r_[t1, t2], np.r_[h1, h2])]
    g_stream, e_stream, x_stream = np.random.default_rng(reseed(5)).spawn(3)
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
    r = sim.simulate_reusable_holdout(100, 100, reps=5, seed=reseed(0), budget=1)
    assert r.exhausted.all() and not r.answered[:, 1:].all()
    assert np.isnan(r.thresholdout[:, :, 1][~r.answered]).all()


def test_simulator_runs_on_every_torch_device_with_the_same_law(torch_device):
    if torch_device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    a = sim.simulate_reusable_holdout(200, 200, reps=200, seed=reseed(5), device=torch_device)
    b = sim.simulate_reusable_holdout(200, 200, reps=200, seed=reseed(6))
    assert a.params["device"].startswith(torch_device)
    assert stats.bonferroni(_law_tests(a, b), LEVEL).verdict == "accept"


@pytest.mark.parametrize("kwargs, name", [(dict(n=1, d=10), "n"), (dict(n=10, d=0), "d"),
                                          (dict(n=10, d=10, k_values=[0, 20]), "k_values"),
                                          (dict(n=10, d=10, method="magic"), "method"),
                                          (dict(n=10, d=10, reps=0), "reps")])
def test_simulator_arguments_are_checked(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        sim.simulate_reusable_holdout(**kwargs)


@pytest.mark.parametrize("kwargs, name", [
    (dict(strength=float("nan")), "strength"),
    (dict(strength=float("inf")), "strength"),
    (dict(strength="6"), "strength"),
    (dict(k_values=[0.0, 2.5]), "k_values"),
    (dict(k_values=[0.0, 2.0]), "k_values"),
    (dict(k_values=[True, True]), "k_values"),
    (dict(budget=2.9), "budget"),
    (dict(budget=0), "budget"),
    (dict(budget=True), "budget"),
    (dict(batch=0), "batch"),
    (dict(batch=2.5), "batch"),
    (dict(batch="4"), "batch"),
    (dict(seed=-1), "seed"),
    (dict(seed=1.5), "seed"),
    (dict(seed=True), "seed"),
    (dict(seed="0"), "seed"),
    (dict(informative=2.5), "informative"),
    (dict(informative=-1), "informative"),
    (dict(informative=11), "informative"),
    (dict(informative=True), "informative"),
    (dict(threshold=float("nan")), "threshold"),
    (dict(threshold=0.0), "threshold"),
    (dict(sigma=-1.0), "sigma"),
    (dict(sigma=float("inf")), "sigma"),
    (dict(reps=2.0), "reps"),
    (dict(n=True), "n"),
    (dict(d=True), "d"),
    (dict(chunk_rows=0), "chunk_rows"),
    (dict(dtype="float64"), "dtype"),
    (dict(device="no-such-device"), "device"),
], ids=lambda v: repr(v) if not isinstance(v, dict) else ",".join(f"{k}={v[k]!r}" for k in v))
def test_simulator_refuses_bad_arguments_up_front_naming_them(kwargs, name):
    args = dict(n=10, d=10, reps=2) | kwargs
    with pytest.raises(ValueError, match=f"^{name}:"):
        sim.simulate_reusable_holdout(**args)


def test_reference_arguments_are_checked():
    with pytest.raises(ValueError, match="^k_values:"):
        reusable_holdout_experiment(10, 10, k_values=[3, 1])
    with pytest.raises(ValueError, match="^budget:"):
        reusable_holdout_experiment(10, 10, budget=0)

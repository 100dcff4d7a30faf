"""The trained eps-MLP: determinism, the on-disk cache, bad input, the DDPM sampler."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from toytheory.diffusion.hallucination import (between_modes, ddpm_sample, exact_between_mass,
                                               exact_eps_fn, filter_rates, paper_1d_law,
                                               trajectory_variance, youden_threshold)
from toytheory.diffusion.learned import TrainConfig, score_error_by_level, train_eps_mlp

TINY = dict(n_train=500, steps=60, batch=64, width=8, depth=2)


def _weights(model):
    return [p.detach().clone() for p in model.net.parameters()]


def test_training_is_bit_identical_and_seed_dependent(test_seed):
    cfg = TrainConfig.for_law(paper_1d_law(), seed=test_seed % 1000, **TINY)
    a, b = train_eps_mlp(cfg, cache_dir=False), train_eps_mlp(cfg, cache_dir=False)
    assert all(torch.equal(x, y) for x, y in zip(_weights(a), _weights(b)))
    other = train_eps_mlp(TrainConfig.for_law(paper_1d_law(), seed=test_seed % 1000 + 1,
                                              **TINY), cache_dir=False)
    assert not all(torch.equal(x, y) for x, y in zip(_weights(a), _weights(other)))


def test_cache_returns_the_same_model_and_keys_on_the_config(tmp_path):
    cfg = TrainConfig.for_law(paper_1d_law(), **TINY)
    first = train_eps_mlp(cfg, cache_dir=tmp_path)
    second = train_eps_mlp(cfg, cache_dir=tmp_path)
    assert not first.from_cache and second.from_cache
    assert all(torch.equal(x, y) for x, y in zip(_weights(first), _weights(second)))
    assert second.final_loss == first.final_loss
    other = train_eps_mlp(TrainConfig.for_law(paper_1d_law(), **{**TINY, "steps": 61}),
                          cache_dir=tmp_path)
    assert not other.from_cache
    assert len(list(tmp_path.glob("eps_mlp_*.pt"))) == 2


def test_environment_variable_moves_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TOYTHEORY_CACHE_DIR", str(tmp_path / "here"))
    train_eps_mlp(TrainConfig.for_law(paper_1d_law(), **TINY))
    assert list((tmp_path / "here").glob("eps_mlp_*.pt"))


def test_unwritable_cache_dir_says_where_and_how(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match=r"cache_dir: .*file.*TOYTHEORY_CACHE_DIR"):
        train_eps_mlp(TrainConfig.for_law(paper_1d_law(), **TINY), cache_dir=blocker / "sub")


@pytest.mark.parametrize("field, value", [("n_train", 0), ("steps", 0), ("lr", -1.0),
                                          ("width", 0), ("num_timesteps", 1)])
def test_bad_config_names_the_argument(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig.for_law(paper_1d_law(), **{**TINY, field: value})


def test_bad_timestep_and_config_type():
    model = train_eps_mlp(TrainConfig.for_law(paper_1d_law(), **TINY), cache_dir=False)
    with pytest.raises(ValueError, match="t:"):
        model.eps(np.zeros((2, 1)), 1000)
    with pytest.raises(ValueError, match="config"):
        train_eps_mlp({"steps": 1}, cache_dir=False)


def test_score_error_of_an_exact_model_is_zero(rng):
    """The error measure is zero for a model that is the exact eps (and positive for a
    perturbed one), so it can disagree."""
    law = paper_1d_law()
    cfg = TrainConfig.for_law(law, **TINY)
    model = train_eps_mlp(cfg, cache_dir=False)
    exact = exact_eps_fn(law, cfg.schedule)
    model.eps = lambda x, t: exact(x, int(np.atleast_1d(t)[0]))
    out = score_error_by_level(model, [0, 100, 900], 500, rng)
    assert np.all(out["relative_error"] < 1e-24)
    model.eps = lambda x, t: 1.1 * exact(x, int(np.atleast_1d(t)[0]))
    out = score_error_by_level(model, [0, 100, 900], 500, rng)
    assert np.allclose(out["relative_error"], 0.01, rtol=1e-9)


def test_exact_between_mass_against_quadrature():
    from scipy.integrate import quad

    law = paper_1d_law(std=0.2)
    dens = lambda v: float(np.exp(law.log_prob(np.array([[v]]))[0]))  # noqa: E731
    inside = sum(quad(dens, c - 0.3, c + 0.3, epsabs=1e-13)[0] for c in (1.0, 2.0, 3.0))
    assert abs(exact_between_mass(law, 0.3) - (1 - inside)) < 1e-9
    with pytest.raises(ValueError, match="width"):
        exact_between_mass(law, 0.6)


def test_ddpm_sampler_with_exact_eps_matches_the_law(rng):
    """The exact-eps DDPM on a wide mixture passes KS against the mixture cdf at 1e-6, and a
    sampler with eps scaled by 0.8 fails it (power: its spread is visibly too large)."""
    from scipy.stats import norm

    from toytheory import stats

    law = paper_1d_law(std=0.3)
    sched = TrainConfig.for_law(law, **TINY).schedule
    cdf = lambda v: sum(w * norm.cdf((v - m) / 0.3)  # noqa: E731
                        for w, m in zip(law.weights, law.means[:, 0]))
    exact = exact_eps_fn(law, sched)
    x, path = ddpm_sample(exact, sched, 3000, 1, rng, last=5)
    assert stats.ks_1samp(x[:, 0], cdf, 1e-6).verdict == "accept"
    assert np.allclose(path[-1], x)
    y, _ = ddpm_sample(lambda v, t: 0.8 * exact(v, t), sched, 3000, 1, rng, last=1)
    assert stats.ks_1samp(y[:, 0], cdf, 1e-6).verdict == "reject"


def test_filter_rates_and_youden():
    score = np.array([0.1, 0.2, 0.3, 5.0, 6.0, 0.25])
    hall = np.array([0, 0, 0, 1, 1, 1], bool)
    thr = youden_threshold(score, hall)
    assert 0.3 <= thr < 5.0
    assert filter_rates(score, hall, thr) == {"removed_halluc": 2, "n_halluc": 3,
                                              "kept_support": 3, "n_support": 3}
    assert trajectory_variance(np.array([[[1.0]], [[3.0]]]))[0] == 1.0
    assert between_modes(np.array([[1.2], [1.5]]), [[1.0], [2.0]], 0.25).tolist() == [
        False, True]
    with pytest.raises(ValueError, match="hallucinated"):
        youden_threshold(score, np.zeros(6, bool))


def test_between_mass_simulator_counts_and_caches(tmp_path, test_seed):
    from sims.diffusion_imperfect import between_mass_vs_training

    rows = between_mass_vs_training([(300, 30), (300, 40)], 50, test_seed % 1000,
                                    base=TINY, cache_dir=tmp_path)
    assert [r["steps"] for r in rows] == [30, 40]
    assert all(0 <= r["between"] <= r["n"] == 50 for r in rows)
    assert len(list(tmp_path.glob("eps_mlp_*.pt"))) == 2
    with pytest.raises(ValueError, match="n_samples"):
        between_mass_vs_training([(300, 30)], 0, 0, base=TINY, cache_dir=tmp_path)

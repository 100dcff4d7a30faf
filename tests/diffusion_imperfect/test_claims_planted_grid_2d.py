"""The 2-D grid mode-interpolation claims catch planted bugs and planted false statements."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from toytheory.claims import execute_claim, load_catalog

REGISTRY = load_catalog()
MASS = "diffusion.imperfect.mode_interpolation_grid_2d"
FILTER = "diffusion.imperfect.trajectory_variance_filter_2d"


def run_quick(claim_id, seed, **overrides):
    claim = REGISTRY[claim_id]
    if overrides:
        claim = claim.with_params("quick", **overrides)
    return execute_claim(claim, "quick", seed)


def test_an_undertrained_network_fails_the_loss_target(monkeypatch, tmp_path, test_seed):
    """Planted toolkit bug: the network trained for 30 steps instead of 3000. Its excess
    DDPM loss over the exact loss is then far above the target 0.03 (measured near 0.5; the
    training is seeded by the configuration, so only the 1000 loss draws vary with the
    seed, by a few per cent): ``fails`` with probability >= 1 - 1e-6."""
    from toytheory.diffusion.hallucination import QUICK_TRAIN_2D
    from toytheory.diffusion.learned import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    r = run_quick(MASS, test_seed, train=dict(QUICK_TRAIN_2D, steps=30), n_loss=1000,
                  n_samples=50, n_exact=50, n_err=50)
    assert r["verdict"] == "fails"
    target = [n for n in r["numbers"] if "loss target" in n["name"]]
    assert target and not target[0]["passed"]


def test_a_network_equal_to_the_exact_score_is_refuted(monkeypatch, test_seed):
    """Planted false statement: the 'trained' network's eps is the exact eps (loss target
    then met exactly: excess 0). Its score jumps between (0, 0) and (2, 0) as the exact one
    does (slope ratio 1 against the bound 0.1, no sampling): ``refuted`` with probability
    1."""
    from toytheory.diffusion.hallucination import paper_2d_law
    from toytheory.diffusion.learned import exact_eps_diagonal

    import toytheory.diffusion.hallucination as hal

    original = hal.trained_2d_model
    law = paper_2d_law()

    def exact_network(train=None, cache_dir=None):
        model = original(train, cache_dir)
        schedule_acp = model.schedule.alphas_cumprod

        def eps(x, t):
            x = np.asarray(x, float)
            t = np.broadcast_to(np.asarray(t), (x.shape[0],)).astype(int)
            return exact_eps_diagonal(law, x, np.sqrt(schedule_acp[t]),
                                      np.sqrt(1 - schedule_acp[t]))

        model.eps = eps
        return model

    monkeypatch.setattr(hal, "trained_2d_model", exact_network)
    r = run_quick(MASS, test_seed, n_samples=100, n_exact=100, n_err=100, n_loss=500)
    assert r["verdict"] == "refuted"


def test_sampler_whose_last_x0_hat_is_off_fails(monkeypatch, test_seed):
    """Planted toolkit bug: the recorded x0-hat path shifted by 1e-3. The witness compares
    the last x0-hat with the final sample exactly (tolerance 1e-9): ``fails`` with
    probability 1."""
    import toytheory.diffusion.hallucination as hal

    original = hal.ddpm_sample

    def shifted(*args, **kw):
        x, path = original(*args, **kw)
        return x, path + 1e-3

    monkeypatch.setattr(hal, "ddpm_sample", shifted)
    r = run_quick(FILTER, test_seed, n_cal=600, n_test=100, n_loss=500)
    assert r["verdict"] == "fails"


def test_a_perfect_detector_is_not_refuted(monkeypatch, test_seed):
    """Planted true statement: a detector that flags exactly the samples between modes (it
    reads the last x0-hat, the final sample). Retention is then 1 (the Clopper-Pearson
    interval of about 900 kept of 900 lies above 0.96 at 1e-6 at any seed) and removal 1,
    so the claim cannot be ``refuted`` (it holds or, with too few hallucinations to decide
    0.95, is inconclusive)."""
    import toytheory.diffusion.hallucination as hal

    means = hal.paper_2d_law().means

    def perfect(path):
        path = np.asarray(path)
        n = path.shape[1]
        return hal.between_modes(path[-1], means, 0.25).astype(float) + 1e-6 * np.arange(n) / n

    monkeypatch.setattr(hal, "trajectory_variance", perfect)
    r = run_quick(FILTER, test_seed, n_cal=800, n_test=1000, n_loss=500)
    assert r["verdict"] in ("holds", "inconclusive")

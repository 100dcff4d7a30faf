"""The mode-interpolation claims catch planted bugs and planted false statements."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from toytheory.claims import execute_claim, load_catalog

REGISTRY = load_catalog()


def run_quick(claim_id, seed, **overrides):
    claim = REGISTRY[claim_id]
    if overrides:
        claim = claim.with_params("quick", **overrides)
    return execute_claim(claim, "quick", seed)


def test_wrong_exact_eps_fails_the_exact_sampler_witnesses(monkeypatch, test_seed):
    """Planted: the "exact" eps of the wrong law (mode std 0.15 instead of 0.05). The
    exact-score DDPM then puts about 9.5% of 1500 samples farther than 0.25 from every mode
    (the witness bound is 1e-3; the Clopper-Pearson lower end at 1e-6 is near 6%, below it
    with probability < 1e-6): ``fails`` with probability >= 1 - 1e-6 under any seed."""
    import toytheory.diffusion.hallucination as hal

    original = hal.exact_eps_fn

    def wrong(law, schedule):
        return original(hal.paper_1d_law(std=0.15), schedule)

    monkeypatch.setattr(hal, "exact_eps_fn", wrong)
    r = run_quick("diffusion.imperfect.mode_interpolation_mass", test_seed, n_exact=1500,
                  n_samples=500, n_err=200)
    assert r["verdict"] == "fails"


def test_a_network_equal_to_the_exact_score_is_refuted(monkeypatch, test_seed):
    """Planted false statement: the 'trained' network is the exact eps. Its score is not
    smooth between modes (slope ratio 1 against the bound 0.1, exact, seed-free), so the
    claim is ``refuted`` with probability 1."""
    import toytheory.claims.catalog.diffusion_imperfect_hallucination as mod
    from toytheory.diffusion.hallucination import exact_eps_fn, paper_1d_law

    real = mod.trained

    def exact_network(train):
        model = real(train)
        eps = exact_eps_fn(paper_1d_law(), model.schedule)
        model.eps = lambda x, t: eps(x, int(np.atleast_1d(t)[0]))
        return model

    monkeypatch.setattr(mod, "trained", exact_network)
    r = run_quick("diffusion.imperfect.mode_interpolation_mass", test_seed, n_exact=300,
                  n_samples=300, n_err=200)
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
    r = run_quick("diffusion.imperfect.trajectory_variance_filter", test_seed, n_cal=1500,
                  n_test=300)
    assert r["verdict"] == "fails"


def test_a_perfect_detector_is_not_refuted(monkeypatch, test_seed):
    """Planted true statement: a detector that flags exactly the samples between modes (it
    reads the final sample, the last x0-hat). Retention is then 1 (interval above 0.96 at
    any seed) and removal 1, so the claim cannot be ``refuted`` (it holds or, with too few
    hallucinations to decide 0.95, is inconclusive)."""
    import toytheory.diffusion.hallucination as hal

    monkeypatch.setattr(hal, "trajectory_variance",
                        lambda path: hal.between_modes(np.asarray(path)[-1], [[1.0], [2.0],
                                                                               [3.0]], 0.25)
                        .astype(float) + 1e-6 * np.arange(np.asarray(path).shape[1])
                        / np.asarray(path).shape[1])
    r = run_quick("diffusion.imperfect.trajectory_variance_filter", test_seed, n_cal=3000,
                  n_test=3000)
    assert r["verdict"] in ("holds", "inconclusive")


def test_guidance_that_changes_eps_at_gamma_zero_fails(monkeypatch, test_seed):
    """Planted toolkit bug: the guided eps is 1.0001 times the model's even at gamma = 0.
    The bitwise witness (gamma = 0 equals the unguided sampler on the same noise) then
    fails: ``fails`` with probability 1."""
    import toytheory.diffusion.hallucination as hal

    original = hal.retrieval_guided_eps

    def off(eps_fn, schedule, database, gamma, t_start):
        inner = original(eps_fn, schedule, database, gamma, t_start)
        return lambda x, t: 1.0001 * inner(x, t)

    monkeypatch.setattr(hal, "retrieval_guided_eps", off)
    r = run_quick("diffusion.imperfect.retrieval_anchoring_mitigates_interpolation", test_seed,
                  n=200)
    assert r["verdict"] == "fails"

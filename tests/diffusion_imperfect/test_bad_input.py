"""Bad input to the imperfect-denoiser modules raises ValueError naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.diffusion import quantisation as qz
from toytheory.diffusion import region_caching as rc
from toytheory.diffusion import score_rates as sr
from toytheory.diffusion import skip_tuning as sk


def test_bits_below_two():
    with pytest.raises(ValueError, match="bits"):
        qz.quantise(np.ones(3), 1)
    with pytest.raises(ValueError, match="bits"):
        qz.run_sampler(qz.toy_problem(n_steps=2), np.zeros((1, 8)), bits=0, act_range=1.0)


def test_unknown_calibration_and_rule():
    with pytest.raises(ValueError, match="calibration"):
        qz.calibration_range(qz.toy_problem(n_steps=3), "random")
    with pytest.raises(ValueError, match="rule"):
        qz.calibration_range(qz.toy_problem(n_steps=3), "uniform", rule="max")


def test_negative_rho():
    lam = sk.default_spectrum(4)
    for fn in (lambda: sk.skip_gain(lam, 1.0, -0.1), lambda: sk.sampler_gains(lam, -1, 3),
               lambda: sk.frechet_after_sampling(lam, -0.5, 3),
               lambda: sk.denoising_loss(lam, 1.0, -2)):
        with pytest.raises(ValueError, match="rho"):
            fn()
    assert sk.skip_gain(lam, 1.0, 0.0).shape == (4,)        # rho = 0 is allowed


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5, float("nan")])
def test_fraction_outside_unit_interval(fraction):
    prob = rc.toy_problem(d=8, structured=2)
    with pytest.raises(ValueError, match="fraction"):
        rc.ras_sample(prob, np.zeros((1, 8)), 5, fraction)
    with pytest.raises(ValueError, match="fraction"):
        rc.caching_sweep(prob, [fraction], n=2, n_steps=5)


def test_too_few_samples_for_the_plugin_covariance():
    with pytest.raises(ValueError, match=r"n: must be at least d \+ 2"):
        sr.plugin_estimate(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="n: must be at least"):
        sr.expected_kl_plugin(5, 3)
    with pytest.raises(ValueError, match="n: must be at least"):
        sr.expected_score_error_plugin(7, np.eye(3))
    assert np.isfinite(sr.expected_score_error_plugin(8, np.eye(3)))


def test_exact_formulas_against_direct_values():
    """d = 1 by hand: E 1/chi2_m = 1/(m-2), E 1/chi2_m^2 = 1/((m-2)(m-4))."""
    n, m = 11, 10
    by_hand = (1 + 1 / n) * m * m / ((m - 2) * (m - 4)) - 2 * m / (m - 2) + 1
    assert sr.expected_score_error_plugin(n, np.eye(1)) == pytest.approx(by_hand, rel=1e-13)
    # the zero-noise error given the estimate is zero at the truth, positive elsewhere
    assert sr.score_error_given_estimate([0.0], [[1.0]], [0.0], [[1.0]]) == 0.0
    assert sr.score_error_given_estimate([0.0], [[1.0]], [0.1], [[1.0]]) == pytest.approx(0.01)


def test_quantisation_is_exact_at_high_precision_and_round_to_nearest():
    assert np.allclose(qz.quantise([0.0, 0.6, 1.0, -1.0], 2), [0.0, 1.0, 1.0, -1.0])
    assert np.allclose(qz.quantise([3.0, -3.0], 3, scale_max=1.0), [1.0, -1.0])
    prob = qz.toy_problem(d=3, n_steps=5)
    z = np.random.default_rng(0).standard_normal((4, 3))
    assert np.allclose(qz.run_sampler(prob, z, 30, act_range=100.0), qz.run_sampler(prob, z),
                       atol=1e-6)


def test_bartlett_moments_bad_input_and_d_one():
    """d = 1: E 1/chi2_m = 1/(m-2), E 1/chi2_m^2 = 1/((m-2)(m-4)), by hand."""
    from fractions import Fraction

    e1, e2 = sr.bartlett_inverse_moments(1, 10)
    assert (Fraction(str(e1[0])), Fraction(str(e2[0]))) == (Fraction(1, 8), Fraction(1, 48))
    with pytest.raises(ValueError, match="m: must be at least"):
        sr.bartlett_inverse_moments(3, 6)
    with pytest.raises(ValueError, match="d"):
        sr.bartlett_inverse_moments(0, 10)


def test_output_bound_holds_and_bad_input():
    """The interval-arithmetic bound covers the quantised sampler on a grid of x_T."""
    prob = qz.toy_problem(d=4, n_steps=10)
    z = np.linspace(-3.0, 3.0, 2001)
    for bits, r in ((None, None), (4, 2.0), (8, 0.5)):
        out = qz.run_sampler(prob, np.repeat(z[:, None], 4, axis=1), bits, r)
        assert np.all(np.abs(out) <= qz.output_bound(prob, bits, r, zmax=3.0))
    with pytest.raises(ValueError, match="act_range"):
        qz.output_bound(prob, 8, None)
    with pytest.raises(ValueError, match="zmax"):
        qz.output_bound(prob, None, None, zmax=0.0)


def test_exact_eps_diagonal_and_between_mass_2d(rng):
    """The vectorised exact eps equals the law's own prediction; the 2-D grid's exact mass
    between modes is the own-mode Rayleigh tail exp(-12.5) (the other modes' share is below
    1e-300); bad input names the argument."""
    from toytheory.diffusion import hallucination as hal
    from toytheory.diffusion import learned as ln
    from toytheory.diffusion.laws import GaussianMixture

    law = hal.paper_2d_law()
    x = 3.0 * rng.standard_normal((7, 2))
    a, s = rng.uniform(0.1, 1.0), rng.uniform(0.01, 1.0)
    got = ln.exact_eps_diagonal(law, x, np.full(7, a), np.full(7, s))
    assert np.allclose(got, law.predict(x, a, s, "eps"), rtol=1e-10, atol=1e-12)
    assert abs(hal.exact_between_mass(law, 0.25) / np.exp(-12.5) - 1) < 1e-9
    with pytest.raises(ValueError, match="alpha, sigma"):
        ln.exact_eps_diagonal(law, x, np.ones(3), np.ones(7))
    aniso = GaussianMixture.diagonal([0.5, 0.5], [[0.0, 0.0], [3.0, 0.0]],
                                     [[0.01, 0.02], [0.01, 0.02]])
    with pytest.raises(ValueError, match="law"):
        hal.exact_between_mass(aniso, 0.25)
    with pytest.raises(ValueError, match="width"):
        hal.exact_between_mass(law, 1.5)
    with pytest.raises(ValueError, match="spacing"):
        hal.paper_2d_law(spacing=0.0)

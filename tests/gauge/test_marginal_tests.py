"""The projection KS family: exact CDFs, calibrated acceptance, and power against a planted bug."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.gauge import toys
from toytheory.gauge.marginal_tests import (projected_mixture_cdf, projection_ks_family,
                                            unit_directions)
from tests._seeds import reseed

SCHED = toys.schedule()


def test_projected_cdf_is_the_mixture_cdf_of_the_projection():
    from scipy.integrate import quad

    law = toys.gmm_2d()
    u = np.array([0.6, 0.8])
    cdf = projected_mixture_cdf(law, u)
    # density of the projection by differentiating, integrated back with quad
    z = np.array([-1.0, 0.3, 2.0])
    eps = 1e-5
    dens = lambda v: (cdf(np.array([v + eps]))[0] - cdf(np.array([v - eps]))[0]) / (2 * eps)  # noqa: E731
    assert quad(dens, -30, z[1], limit=200)[0] == pytest.approx(cdf(z)[1], abs=1e-6)
    # the empirical CDF at 0.3 (p = 0.532) of n = 400,000 draws: Hoeffding bounds a miss by
    # 2 exp(-2 n 0.005^2) = 4e-9 (at the former n = 200,000 the tolerance was 4.5 sd of the
    # indicator mean, failing with probability 7e-6)
    x = law.sample_data(400_000, np.random.default_rng(reseed(0))) @ u
    assert abs(np.mean(x <= 0.3) - cdf(np.array([0.3]))[0]) < 5e-3


def test_exact_samples_are_accepted_and_shifted_samples_rejected():
    """Planted bug: shift the samples by 0.1 sd; the family must reject at 1e-6.

    Power: along the diagonal at t = 0.75 the shift moves the projected law by 0.115 in KS
    distance (two samples of 400,000); the Bonferroni critical distance for 8 tests of 5000
    points is sqrt(ln(1.6e7) / 10000) = 0.041, so by DKW a miss has probability <=
    2 exp(-2 * 5000 * 0.07^2) < 1e-20 under any suite seed."""
    law = toys.gmm_2d()
    rng = np.random.default_rng(reseed(1))
    samples = {}
    for t in (0.25, 0.75):
        a, s = (float(v) for v in SCHED.marginal(t))
        samples[t] = law.sample(5000, a, s, rng)
    dirs = unit_directions(2, 4)
    fam, records = projection_ks_family(samples, law, SCHED, dirs, 1e-6)
    assert fam.verdict == "accept" and len(records) == 8
    shifted = {t: x + 0.1 * np.sqrt(np.trace(law.covariance())) for t, x in samples.items()}
    assert projection_ks_family(shifted, law, SCHED, dirs, 1e-6)[0].verdict == "reject"


def test_bad_directions_are_refused():
    law = toys.gmm_2d()
    with pytest.raises(ValueError, match="direction"):
        projected_mixture_cdf(law, np.zeros(2))
    with pytest.raises(ValueError, match="direction"):
        projected_mixture_cdf(law, np.ones(3))

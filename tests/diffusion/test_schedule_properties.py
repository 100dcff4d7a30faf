"""Property tests of the noise schedules over drawn schedule parameters and drawn times.

The schedule comes from :func:`toytheory.testing.diffusion.schedules` (VP linear and
cosine, DDPM and scaled-linear tables of drawn length, VE, EDM, each with drawn
parameters) and the times from float strategies over the whole range, ends included.
Settings come from the project's hypothesis profile (``ci`` by default: 50 examples,
derandomised), loaded in ``tests/conftest.py``.

Properties: :math:`\\alpha^2 + \\sigma^2 = 1` under VP (:math:`\\alpha = 1` under VE);
:math:`\\lambda` strictly decreasing; ``t_from_log_snr`` and ``t_from_sigma_ve`` invert
``log_snr`` and ``sigma_ve``; ``from_ve`` inverts ``to_ve``, whose noise level is
:math:`\\sigma/\\alpha`, and the VE point has the VE law (the density of the diffused law
changes by the Jacobian :math:`\\alpha^{-d}` only). Each property has a planted bug that
it rejects.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from toytheory.diffusion.laws import Gaussian
from toytheory.diffusion.schedules import VE, VPLinear
from toytheory.testing.diffusion import schedule_times, schedules
from tests._seeds import reseed

EPS = np.finfo(float).eps
COORDINATES = st.lists(st.floats(-1e3, 1e3, allow_subnormal=False), min_size=1, max_size=4)


def _times(data, schedule):
    return data.draw(schedule_times(schedule, interior=False), label="t")


def _ordered_times(data, schedule):
    """``t1 < t2`` in the schedule's range, at least 1e-6 of the range apart."""
    lo, hi = schedule.t_min, schedule.t_max
    span = hi - lo
    u = data.draw(st.floats(0.0, 1.0), label="u")
    gap = data.draw(st.floats(1e-6, 1.0), label="gap")
    t1 = lo + u * (1.0 - gap) * span
    return t1, min(t1 + gap * span, hi)


# ----------------------------------------------------------------------------- alpha, sigma

def _variance_defect(schedule, t):
    a, s = schedule.marginal(t)
    return float(a * a + s * s - 1.0) if schedule.variance_preserving else float(a - 1.0)


@given(schedules(), st.data())
def test_vp_schedules_preserve_variance_and_ve_schedules_keep_alpha_one(schedule, data):
    t = _times(data, schedule)
    assert abs(_variance_defect(schedule, t)) <= 8 * EPS


class _SigmaTooLarge:
    """Planted bug: a VP schedule whose sigma is 1e-6 too large (relative)."""

    variance_preserving = True

    def __init__(self, base):
        self.base = base

    def marginal(self, t):
        a, s = self.base.marginal(t)
        return a, s * (1 + 1e-6)


def test_variance_property_rejects_a_sigma_off_by_1e_6():
    bad = _SigmaTooLarge(VPLinear())
    assert abs(_variance_defect(bad, 0.5)) > 8 * EPS


# ----------------------------------------------------------------------------- log-SNR

def _decreases(schedule, t1, t2):
    """Whether log_snr decreases strictly from ``t1`` to ``t2 > t1`` and along a grid
    between them."""
    grid = np.unique(np.append(np.linspace(t1, t2, 17), [t1, t2]))
    return bool(schedule.log_snr(t1) > schedule.log_snr(t2)
                and np.all(np.diff(schedule.log_snr(grid)) < 0))


@given(schedules(), st.data())
def test_log_snr_is_strictly_decreasing(schedule, data):
    t1, t2 = _ordered_times(data, schedule)
    assume(t2 > t1)
    assert _decreases(schedule, t1, t2), (t1, t2)


class _Backwards:
    """Planted bug: a schedule whose time runs backwards, t -> t_max - t."""

    def __init__(self, base):
        self.base = base

    def log_snr(self, t):
        return self.base.log_snr(self.base.t_max - np.asarray(t) + self.base.t_min)


def test_monotonicity_property_rejects_a_schedule_running_backwards():
    assert _decreases(VE(0.01, 50.0), 0.2, 0.7)
    assert not _decreases(_Backwards(VE(0.01, 50.0)), 0.2, 0.7)


def _round_trip_t(schedule, t):
    """``t_from_log_snr(log_snr(t))``, or None where log_snr is +inf (sigma = 0)."""
    lam = float(schedule.log_snr(t))
    if not np.isfinite(lam):
        return None
    return float(schedule.t_from_log_snr(lam))


def _time_tolerance(t):
    return 1e-9 * max(1.0, abs(t))


@given(schedules(), st.data())
def test_t_from_log_snr_inverts_log_snr(schedule, data):
    t = _times(data, schedule)
    back = _round_trip_t(schedule, t)
    if back is None:  # lambda = +inf: only at the start of a VP/EDM schedule
        assert t == schedule.t_min or float(schedule.sigma(t)) == 0.0
        return
    assert abs(back - t) <= _time_tolerance(t), (t, back)


@given(schedules(), st.data())
def test_log_snr_inverts_t_from_log_snr(schedule, data):
    lo = float(schedule.log_snr(schedule.t_max))
    hi = float(schedule.log_snr(schedule.t_min))
    hi = hi if np.isfinite(hi) else 40.0
    lam = data.draw(st.floats(lo, hi), label="lambda")
    t = float(schedule.t_from_log_snr(lam))
    assert schedule.t_min <= t <= schedule.t_max
    assert float(schedule.log_snr(t)) == pytest.approx(lam, rel=1e-9, abs=1e-9)


@given(schedules(), st.data())
def test_t_from_sigma_ve_inverts_sigma_ve(schedule, data):
    t = _times(data, schedule)
    s_ve = float(schedule.sigma_ve(t))
    if s_ve == 0.0:  # sigma = 0 at the start: no VE noise level to invert
        assert t == schedule.t_min or float(schedule.sigma(t)) == 0.0
        return
    assert float(schedule.sigma_ve(schedule.t_from_sigma_ve(s_ve))) == pytest.approx(
        s_ve, rel=1e-12)
    assert abs(float(schedule.t_from_sigma_ve(s_ve)) - t) <= _time_tolerance(t)


class _InverseOff:
    """Planted bug: an inverse t(lambda) 1e-6 too large (relative)."""

    def __init__(self, base):
        self.base = base

    def log_snr(self, t):
        return self.base.log_snr(t)

    def t_from_log_snr(self, lam):
        return self.base.t_from_log_snr(lam) * (1 + 1e-6)


def test_round_trip_property_rejects_an_inverse_off_by_1e_6():
    sch = VPLinear()
    t = 0.4
    assert abs(_round_trip_t(sch, t) - t) <= _time_tolerance(t)
    assert abs(_round_trip_t(_InverseOff(sch), t) - t) > _time_tolerance(t)


# ----------------------------------------------------------------------------- VP <-> VE

@given(schedules(), st.data(), COORDINATES)
def test_from_ve_inverts_to_ve_and_the_ve_noise_level_is_sigma_over_alpha(schedule, data, x):
    t = _times(data, schedule)
    x = np.asarray(x)
    a, s = (float(v) for v in schedule.marginal(t))
    x_ve, s_ve = schedule.to_ve(x, t)
    np.testing.assert_allclose(x_ve, x / a, rtol=4 * EPS, atol=0.0)
    assert float(s_ve) == pytest.approx(s / a, rel=4 * EPS, abs=0.0)
    assert float(s_ve) == pytest.approx(float(schedule.sigma_ve(t)), rel=1e-12, abs=0.0)
    np.testing.assert_allclose(schedule.from_ve(x_ve, t), x, rtol=4 * EPS,
                               atol=4 * EPS * np.abs(x).max())
    # and the other way round
    back, _ = schedule.to_ve(schedule.from_ve(x, t), t)
    np.testing.assert_allclose(back, x, rtol=4 * EPS, atol=4 * EPS * np.abs(x).max())


LAW = Gaussian([0.5, -1.0], [[1.0, 0.4], [0.4, 0.5]])


def _ve_density_defect(schedule, t, x, ve_level=None):
    """``log p_t(x) - [log p^VE_{sigma/alpha}(x/alpha) - d log alpha]`` for ``LAW``: zero iff
    the VE point of ``x`` follows the VE-diffused law at noise level sigma/alpha."""
    a, s = (float(v) for v in schedule.marginal(t))
    x_ve, s_ve = schedule.to_ve(x, t)
    s_ve = float(s_ve) if ve_level is None else ve_level
    lhs = LAW.log_prob(x, a, s)
    rhs = LAW.log_prob(x_ve, 1.0, s_ve) - LAW.dim * np.log(a)
    return float(np.max(np.abs(lhs - rhs) / (1.0 + np.abs(lhs))))


@given(schedules(), st.data())
def test_the_ve_point_follows_the_ve_law_at_sigma_over_alpha(schedule, data):
    t = _times(data, schedule)
    a, s = (float(v) for v in schedule.marginal(t))
    assume(s > 0)  # the Gaussian has a density at sigma = 0 too, but keep it away from 0
    x = LAW.sample(5, a, s, rng=data.draw(st.integers(0, 2**32 - 1), label="seed"))
    assert _ve_density_defect(schedule, t, x) <= 1e-10


def test_ve_law_property_rejects_the_noise_level_sigma_instead_of_sigma_over_alpha():
    sch = VPLinear()
    t = 0.6
    a, s = (float(v) for v in sch.marginal(t))
    x = LAW.sample(5, a, s, rng=reseed(0))
    assert _ve_density_defect(sch, t, x) <= 1e-10
    assert _ve_density_defect(sch, t, x, ve_level=s) > 1e-3  # planted: sigma, not sigma/alpha


# ----------------------------------------------------------------------------- regressions

@pytest.mark.parametrize("s", [0.0390625, 0.03125, 0.008, 1e-3, 0.05])
def test_cosine_schedule_is_exact_at_zero_and_accurate_just_after_it(s):
    # log cos(phase(t)) - log cos(phase(0)) came out a few ulps above 0 near t = 0 for
    # some s (the first two), and sigma = sqrt(1 - alpha^2) was NaN; the inverse lost
    # every digit of a tiny t (arccos of a number that rounds to cos(phase(0)))
    from toytheory.diffusion.schedules import VPCosine

    sch = VPCosine(s)
    assert float(sch.sigma(0.0)) == 0.0 and float(sch.alpha(0.0)) == 1.0
    assert float(sch.log_snr(0.0)) == np.inf
    for t in (1e-300, 2.2e-16, 1e-12, 1e-6, 0.5):
        a, sig = (float(v) for v in sch.marginal(t))
        assert np.isfinite(sig) and sig > 0 and abs(a * a + sig * sig - 1) <= 8 * EPS
        s_ve = float(sch.sigma_ve(t))
        assert float(sch.t_from_sigma_ve(s_ve)) == pytest.approx(t, rel=1e-12)

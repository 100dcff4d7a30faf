"""The standard toy problems of the gauge claims, notebook, tests and benchmark.

Fixed, documented constructions so that every consumer checks the same thing:

- :func:`gmm_2d`: a three-component anisotropic Gaussian mixture in 2-D;
- :func:`gmm_3d`: a two-component mixture in 3-D;
- :func:`gaussian_3d`: a correlated Gaussian in 3-D;
- :func:`gauge_fields_2d`, :func:`gauge_field_3d`: gauge fields of those laws;
- :func:`wrong_potential`: a conservative perturbation :math:`\\nabla\\chi`;
- :func:`split_field_2d`, :func:`split_field_3d`: fields with known exact split
  :math:`s = (\\nabla\\log p_t + \\nabla\\chi) + r`.
"""

from __future__ import annotations

import numpy as np

from .functions import PlaneWave, Quadratic
from .gauge_fields import (GaussianGaugeField, SkewTensorGaugeField,
                           StreamFunctionGaugeField2D, J2)

__all__ = ["schedule", "gmm_2d", "gmm_3d", "gaussian_3d", "gauge_fields_2d", "gauge_field_3d",
           "gaussian_gauge_field", "wrong_potential", "split_field_2d", "split_field_3d", "BOX_2D",
           "BOX_3D"]

#: boxes on which the densities at t in [0, 1] are below 1e-7 of their maximum on the faces
BOX_2D = ((-8.0, -8.0), (8.0, 8.0))
BOX_3D = ((-7.0, -7.0, -7.0), (7.0, 7.0, 7.0))


def _rotation(theta):
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


def schedule():
    """The VP linear schedule (beta 0.1 to 20) used throughout."""
    from ..diffusion.schedules import VPLinear

    return VPLinear()


def gmm_2d():
    """Three anisotropic components with unequal weights."""
    from ..diffusion.laws import GaussianMixture

    covs = []
    for theta, (a, b) in zip((0.3, -0.8, 1.2), ((0.6, 0.15), (0.35, 0.2), (0.5, 0.25))):
        r = _rotation(theta)
        covs.append(r @ np.diag([a, b]) @ r.T)
    return GaussianMixture([0.25, 0.45, 0.30], [[-2.0, 0.5], [1.5, 1.0], [0.5, -1.8]],
                           np.array(covs))


def gmm_3d():
    """Two components in 3-D."""
    from ..diffusion.laws import GaussianMixture

    c1 = np.array([[0.5, 0.2, 0.0], [0.2, 0.4, 0.1], [0.0, 0.1, 0.3]])
    c2 = np.array([[0.3, -0.1, 0.05], [-0.1, 0.6, 0.0], [0.05, 0.0, 0.4]])
    return GaussianMixture([0.4, 0.6], [[-1.2, 0.5, 0.3], [1.0, -0.4, -0.2]], np.stack([c1, c2]))


def gaussian_3d():
    """A correlated Gaussian in 3-D."""
    from ..diffusion.laws import Gaussian

    cov = np.array([[1.0, 0.4, -0.2], [0.4, 0.6, 0.1], [-0.2, 0.1, 0.3]])
    return Gaussian([0.5, -0.3, 0.2], cov)


def gauge_fields_2d(law=None, sched=None):
    """A stream-function field (:math:`\\psi = 1.5\\,p_t\\sin(0.8x - 0.6y)`) and a score rotation."""
    law = gmm_2d() if law is None else law
    sched = schedule() if sched is None else sched
    return [StreamFunctionGaugeField2D(law, sched, h=PlaneWave(1.0, [0.8, -0.6], 0.3),
                                       amplitude=1.5),
            SkewTensorGaugeField(law, sched, J2, amplitude=1.0)]


def gauge_field_3d(law=None, sched=None):
    """:math:`r = C(\\nabla h + h\\nabla\\log p_t)` with a fixed skew C and a plane wave h (d = 3)."""
    law = gmm_3d() if law is None else law
    sched = schedule() if sched is None else sched
    c = np.array([[0.0, 1.0, -0.5], [-1.0, 0.0, 0.8], [0.5, -0.8, 0.0]])
    return SkewTensorGaugeField(law, sched, c, h=PlaneWave(1.2, [0.5, -0.7, 0.4], 0.1))


def gaussian_gauge_field(law=None, sched=None):
    """:math:`r = 1.5\\,\\Sigma_t A(x - m_t)` for :func:`gaussian_3d`."""
    law = gaussian_3d() if law is None else law
    sched = schedule() if sched is None else sched
    a = np.array([[0.0, 1.0, 0.3], [-1.0, 0.0, -0.6], [-0.3, 0.6, 0.0]])
    return GaussianGaugeField(law, sched, a, amplitude=1.5)


def wrong_potential(d: int = 2, amplitude: float = 1.0):
    """A conservative perturbation :math:`\\nabla\\chi`, :math:`\\chi = 0.6\\sin(\\omega^T x)`."""
    from .fields import Potential

    omega = np.array([0.7, 0.4, -0.3, 0.2, 0.1])[:d]
    return Potential(PlaneWave(0.6, omega, 0.2), amplitude=amplitude)


def split_field_2d(t: float, law=None, sched=None):
    """A field on :math:`p_t` with a known exact split.

    Returns
    -------
    field, exact_gradient, exact_remainder, log_density, score : callables on (m, 2) points
        :math:`s = \\nabla\\log p_t + \\nabla\\chi + r`, :math:`\\nabla\\phi = \\nabla\\log p_t + \\nabla\\chi`,
        :math:`r` (the stream-function gauge field), :math:`\\log p_t` and :math:`\\nabla\\log p_t`.
    """
    law = gmm_2d() if law is None else law
    sched = schedule() if sched is None else sched
    a, s = (float(v) for v in sched.marginal(t))
    gauge = gauge_fields_2d(law, sched)[0]
    chi = Quadratic(np.array([[0.3, 0.1], [0.1, -0.2]]), [0.2, -0.1])
    wave = PlaneWave(0.5, [0.9, 0.5])
    return _split_field(law, a, s, t, gauge, (chi.grad, wave.grad))


def _split_field(law, a: float, s: float, t: float, gauge, potential_grads):
    """The five callables of a split toy: the score, the score plus the gradients
    ``potential_grads`` (added left to right), the gauge field, their sum, and
    :math:`\\log p_t` (shared by :func:`split_field_2d` and :func:`split_field_3d`)."""

    def score(x):
        return law.score(x, a, s)

    def exact_gradient(x):
        out = law.score(x, a, s)
        for grad in potential_grads:
            out = out + grad(x)
        return out

    def exact_remainder(x):
        return gauge(x, t)

    def field(x):
        return exact_gradient(x) + exact_remainder(x)

    def log_density(x):
        return law.log_prob(x, a, s)

    return field, exact_gradient, exact_remainder, log_density, score


def split_field_3d(t: float, law=None, sched=None):
    """A 3-D field on :math:`p_t` with a known exact split (the 3-D benchmark problem).

    :math:`s = (\\nabla\\log p_t + \\nabla\\chi) + r` on :func:`gmm_3d`, with
    :math:`\\chi = 0.5\\sin(0.6x - 0.4y + 0.5z)` and :math:`r` the skew-tensor gauge
    field of :func:`gauge_field_3d`.

    Parameters
    ----------
    t : float
        The diffusion time, inside the schedule's range.
    law : GaussianMixture, optional
        Default :func:`gmm_3d`.
    sched : NoiseSchedule, optional
        Default :func:`schedule`.

    Returns
    -------
    field, exact_gradient, exact_remainder, log_density, score : callables on (m, 3) points
        As for :func:`split_field_2d`.
    """
    law = gmm_3d() if law is None else law
    sched = schedule() if sched is None else sched
    a, s = (float(v) for v in sched.marginal(t))
    gauge = gauge_field_3d(law, sched)
    chi = PlaneWave(0.5, [0.6, -0.4, 0.5])
    return _split_field(law, a, s, t, gauge, (chi.grad,))

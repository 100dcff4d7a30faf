r"""Gauge fields: time-dependent :math:`r_t` with :math:`\nabla\cdot(p_t r_t) = 0` exactly.

Adding such an :math:`r_t` to the score changes neither the continuity equation
nor, therefore, any marginal of the probability-flow ODE (Horvat & Pfister,
"On gauge freedom, conservativity and intrinsic dimensionality estimation in
diffusion models", the gauge-freedom condition
:math:`\nabla\cdot r + r^T\nabla\log p_t = 0`; REFERENCE.md §4). Three exact
constructions:

Gaussian data, :math:`p_t = N(m_t, \Sigma_t)` (:class:`GaussianGaugeField`)
    :math:`r = \Sigma_t A (x - m_t)` with :math:`A` skew-symmetric:
    :math:`\nabla\cdot r = \operatorname{tr}(\Sigma_t A) = 0` and
    :math:`r^T\nabla\log p_t = -(x-m_t)^T A^T (x - m_t) = 0`. (Every linear gauge
    field of a Gaussian has this form: :math:`\Sigma_t^{-1}M` must be skew.)
Any density in d > 2: a skew-symmetric tensor field (:class:`SkewTensorGaugeField`)
    :math:`r_i = p^{-1}\sum_j \partial_j B_{ij}` with :math:`B_{ij} = -B_{ji}`, so that
    :math:`\nabla\cdot(p r) = \sum_{ij}\partial_i\partial_j B_{ij} = 0`. We take
    :math:`B = a(t)\,p_t\,h\,C` with a constant skew :math:`C` and a smooth scalar
    :math:`h` (:mod:`toytheory.gauge.functions`):

    .. math:: r = a(t)\,C\,(\nabla h + h\nabla\log p_t),

    finite wherever :math:`p_t` underflows. :math:`h \equiv 1` gives the
    score rotation :math:`r = a\,C\nabla\log p_t`.
Any 2-D density: a stream function (:class:`StreamFunctionGaugeField2D`)
    :math:`r = p^{-1}\nabla^\perp\psi`, :math:`\nabla^\perp = (\partial_2, -\partial_1)`;
    with :math:`\psi = a(t)\,p_t\,h` this is the tensor construction with
    :math:`C = J = \begin{pmatrix}0&1\\-1&0\end{pmatrix}`.

The identities are proved symbolically in ``proofs/gauge_divergence_free.py``
and checked numerically by :meth:`GaugeField.flux_divergence`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .._validation import as_float_array, check_int, check_real
from .densities import as_density
from .functions import Quadratic, ScalarFunction

__all__ = ["GaugeField", "GaussianGaugeField", "SkewTensorGaugeField",
           "StreamFunctionGaugeField2D", "random_skew", "J2"]

J2 = np.array([[0.0, 1.0], [-1.0, 0.0]])


def random_skew(d: int, rng=None, scale: float = 1.0) -> np.ndarray:
    """A random skew-symmetric (d, d) matrix with standard-normal upper entries times ``scale``.

    Parameters
    ----------
    d : int
        The dimension, at least 1 (for d = 1 the only skew matrix is zero).
    rng : numpy.random.Generator, int or None
    scale : float, default 1
        A finite, non-negative factor on the entries.

    Returns
    -------
    (d, d) array
        :math:`A = -A^T`.

    Raises
    ------
    ValueError
        ``d: ...`` unless ``d`` is an integer >= 1; ``scale: ...`` unless it is
        finite and >= 0.
    """
    from .._random import as_generator

    d = check_int("d", d, low=1)
    scale = check_real("scale", scale, low=0.0)
    g = as_generator(rng)
    m = g.standard_normal((d, d)) * scale
    return np.triu(m, 1) - np.triu(m, 1).T


def check_skew(name: str, value) -> np.ndarray:
    """A finite skew-symmetric square matrix."""
    a = as_float_array(name, value, ndim=2)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"{name}: must be square (got {a.shape})")
    scale = max(1.0, float(np.max(np.abs(a))) if a.size else 1.0)
    if not np.allclose(a, -a.T, rtol=0.0, atol=1e-12 * scale):
        raise ValueError(f"{name}: must be skew-symmetric (max |A + A^T| = "
                         f"{np.max(np.abs(a + a.T)):.3g})")
    return 0.5 * (a - a.T)


def _amplitude(amplitude):
    """The amplitude :math:`a(t)` as a callable that returns a finite float.

    A number is checked once; a callable's output is checked at every call, so
    that a NaN or infinite amplitude raises ``ValueError`` naming ``amplitude``
    instead of silently turning the whole field into NaN.
    """
    if amplitude is None:
        return lambda t: 1.0
    if callable(amplitude):
        def checked(t):
            raw = amplitude(t)
            try:
                value = np.asarray(raw, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"amplitude: must return a real number "
                                 f"(got {type(raw).__name__} at t = {t!r})") from exc
            if value.shape != ():
                raise ValueError(f"amplitude: must return a scalar "
                                 f"(got shape {value.shape} at t = {t!r})")
            if not np.isfinite(value):
                raise ValueError(f"amplitude: must return a finite number "
                                 f"(got {float(value)!r} at t = {t!r})")
            return float(value)
        return checked
    value = check_real("amplitude", amplitude)
    return lambda t: value


class GaugeField:
    """A time-dependent gauge field :math:`r_t` of a diffused density (abstract).

    Attributes
    ----------
    density : object with log_prob, score, score_jacobian (see :mod:`toytheory.gauge.densities`)
    schedule : toytheory.diffusion.schedules.NoiseSchedule
    dim : int
    """

    def __init__(self, density, schedule):
        from ..diffusion.schedules import NoiseSchedule

        if not isinstance(schedule, NoiseSchedule):
            raise ValueError(f"schedule: must be a NoiseSchedule (got {type(schedule).__name__})")
        self.density = as_density(density)
        self.schedule = schedule
        self.dim = self.density.dim

    def _noise(self, t):
        a, s = self.schedule.marginal(t)
        return float(a), float(s)

    def _x(self, x):
        x = as_float_array("x", x, ndim=2)
        if x.shape[1] != self.dim:
            raise ValueError(f"x: must have {self.dim} columns (got shape {x.shape})")
        return x

    def __call__(self, x, t):
        """:math:`r_t(x)`, shape (n, d)."""
        raise NotImplementedError  # pragma: no cover

    def jacobian(self, x, t):
        """:math:`\\partial r_t/\\partial x`, shape (n, d, d) (rows: components of r)."""
        raise NotImplementedError  # pragma: no cover

    def torch(self, device="cpu", dtype=None) -> Callable:
        """``r(x_tensor, t_float) -> tensor`` for the torch simulators."""
        raise NotImplementedError  # pragma: no cover

    def value_and_jacobian(self, x, t, score=None, score_jacobian=None):
        """``(r_t(x), dr_t/dx)``; ``score``/``score_jacobian`` of :math:`p_t` may be passed in."""
        return self(x, t), self.jacobian(x, t)

    def divergence(self, x, t):
        """:math:`\\nabla\\cdot r_t`, shape (n,)."""
        return np.trace(self.jacobian(x, t), axis1=1, axis2=2)

    def flux_divergence(self, x, t):
        """:math:`\\nabla\\cdot(p_t r_t)/p_t = \\nabla\\cdot r_t + r_t^T\\nabla\\log p_t`, (n,): zero."""
        x = self._x(x)
        a, s = self._noise(t)
        return self.divergence(x, t) + np.sum(self(x, t) * self.density.score(x, a, s), axis=1)

    def antisymmetry(self, x, t):
        """:math:`\\|J - J^T\\|_F/\\sqrt2` of the Jacobian J of :math:`r_t`, (n,).

        The score's Jacobian is symmetric, so this is the non-conservativity of
        :math:`\\nabla\\log p_t + r_t` (in 2-D: :math:`|\\operatorname{curl}|`).
        """
        j = self.jacobian(x, t)
        return np.linalg.norm(j - np.swapaxes(j, 1, 2), axis=(1, 2)) / np.sqrt(2.0)


class GaussianGaugeField(GaugeField):
    """:math:`r_t(x) = a(t)\\,\\Sigma_t A (x - m_t)` for Gaussian data, A skew-symmetric.

    Parameters
    ----------
    law : toytheory.diffusion.laws.Gaussian
    schedule : NoiseSchedule
    A : (d, d) skew-symmetric array
    amplitude : float or callable t -> float, optional
        Default 1. A callable must return a finite real number at every t
        (checked at each call: otherwise ``ValueError`` naming ``amplitude``).
    """

    def __init__(self, law, schedule, A, amplitude=None):
        from ..diffusion.laws import Gaussian

        if not isinstance(law, Gaussian):
            raise ValueError(f"law: must be a toytheory.diffusion.laws.Gaussian "
                             f"(got {type(law).__name__})")
        super().__init__(law, schedule)
        self.law = law
        self.A = check_skew("A", A)
        if self.A.shape != (self.dim, self.dim):
            raise ValueError(f"A: must have shape ({self.dim}, {self.dim}) (got {self.A.shape})")
        self.amplitude = _amplitude(amplitude)

    def __repr__(self):
        return f"GaussianGaugeField(d={self.dim})"

    def matrix(self, t) -> np.ndarray:
        """:math:`a(t)\\Sigma_t A`, shape (d, d)."""
        a, s = self._noise(t)
        mean, cov = self.law.marginal_moments(a, s)
        return self.amplitude(t) * cov @ self.A

    def _mean(self, t):
        a, s = self._noise(t)
        return a * self.law.mean_vector

    def __call__(self, x, t):
        x = self._x(x)
        return (x - self._mean(t)) @ self.matrix(t).T

    def jacobian(self, x, t):
        x = self._x(x)
        return np.broadcast_to(self.matrix(t), (x.shape[0], self.dim, self.dim)).copy()

    def torch(self, device="cpu", dtype=None):
        import torch

        dtype = torch.float64 if dtype is None else dtype

        def field(x, t):
            m = torch.as_tensor(self.matrix(float(t)), dtype=dtype, device=x.device)
            c = torch.as_tensor(self._mean(float(t)), dtype=dtype, device=x.device)
            return (x - c) @ m.T
        return field


class SkewTensorGaugeField(GaugeField):
    """:math:`r_t = a(t)\\,C(\\nabla h + h\\nabla\\log p_t)`, from :math:`B = a\\,p_t h\\,C` (d >= 2).

    Parameters
    ----------
    density : GaussianMixture or density object
    schedule : NoiseSchedule
    C : (d, d) skew-symmetric array
    h : ScalarFunction, optional
        Default :math:`h \\equiv 1` (then :math:`r = a\\,C\\nabla\\log p_t`).
    amplitude : float or callable t -> float, optional
        Default 1. A callable must return a finite real number at every t
        (checked at each call: otherwise ``ValueError`` naming ``amplitude``).
    """

    def __init__(self, density, schedule, C, h: ScalarFunction | None = None, amplitude=None):
        super().__init__(density, schedule)
        if self.dim < 2:
            raise ValueError("density: gauge fields need dimension >= 2")
        self.C = check_skew("C", C)
        if self.C.shape != (self.dim, self.dim):
            raise ValueError(f"C: must have shape ({self.dim}, {self.dim}) (got {self.C.shape})")
        self.h = Quadratic.constant(self.dim, 1.0) if h is None else h
        if not isinstance(self.h, ScalarFunction) or self.h.dim != self.dim:
            raise ValueError(f"h: must be a ScalarFunction on R^{self.dim}")
        self.amplitude = _amplitude(amplitude)

    def __repr__(self):
        return f"{type(self).__name__}(d={self.dim}, h={self.h!r})"

    def __call__(self, x, t):
        x = self._x(x)
        a, s = self._noise(t)
        inner = self.h.grad(x) + self.h.value(x)[:, None] * self.density.score(x, a, s)
        return self.amplitude(t) * inner @ self.C.T

    def jacobian(self, x, t):
        x = self._x(x)
        a, s = self._noise(t)
        score = self.density.score(x, a, s)
        gh = self.h.grad(x)
        inner = (self.h.hess(x) + score[:, :, None] * gh[:, None, :]
                 + self.h.value(x)[:, None, None] * self.density.score_jacobian(x, a, s))
        return self.amplitude(t) * (self.C[None] @ inner)

    def value_and_jacobian(self, x, t, score=None, score_jacobian=None):
        x = self._x(x)
        if score is None or score_jacobian is None:
            a, s = self._noise(t)
            score = self.density.score(x, a, s)
            score_jacobian = self.density.score_jacobian(x, a, s)
        amp = self.amplitude(t)
        h, gh = self.h.value(x), self.h.grad(x)
        value = amp * (gh + h[:, None] * score) @ self.C.T
        inner = (self.h.hess(x) + score[:, :, None] * gh[:, None, :]
                 + h[:, None, None] * score_jacobian)
        return value, amp * (self.C[None] @ inner)

    def torch(self, device="cpu", dtype=None):
        import torch

        dtype = torch.float64 if dtype is None else dtype
        if not hasattr(self.density, "torch_score"):
            raise ValueError("density: has no torch_score; the torch field needs one")
        score_t = self.density.torch_score(device=device, dtype=dtype)
        c_t = torch.as_tensor(self.C, dtype=dtype, device=device)

        def field(x, t):
            a, s = self._noise(float(t))
            inner = self.h.grad(x) + self.h.value(x)[:, None] * score_t(x, a, s)
            return self.amplitude(float(t)) * inner @ c_t.T
        return field


class StreamFunctionGaugeField2D(SkewTensorGaugeField):
    """:math:`r_t = p_t^{-1}\\nabla^\\perp\\psi_t` with :math:`\\psi_t = a(t)\\,p_t\\,h` (d = 2).

    .. math:: r_t = a(t)\\,J(\\nabla h + h\\nabla\\log p_t), \\quad
              J = \\begin{pmatrix}0 & 1\\\\ -1 & 0\\end{pmatrix}

    Any stream function can be written :math:`\\psi = p\\,h` with :math:`h = \\psi/p`;
    parametrising by :math:`h` keeps :math:`r` finite where :math:`p_t` underflows.

    Parameters
    ----------
    density : 2-D GaussianMixture or density object
    schedule : NoiseSchedule
    h : ScalarFunction, optional (default 1)
    amplitude : float or callable t -> float, optional
        Default 1. A callable must return a finite real number at every t
        (checked at each call: otherwise ``ValueError`` naming ``amplitude``).
    """

    def __init__(self, density, schedule, h: ScalarFunction | None = None, amplitude=None):
        dens = as_density(density)
        if dens.dim != 2:
            raise ValueError(f"density: must be 2-dimensional (got d = {dens.dim})")
        super().__init__(dens, schedule, J2, h, amplitude)

    def stream_function(self, x, t):
        """:math:`\\psi_t(x) = a(t)\\,p_t(x)\\,h(x)`, shape (n,)."""
        x = self._x(x)
        a, s = self._noise(t)
        return self.amplitude(t) * np.exp(self.density.log_prob(x, a, s)) * self.h.value(x)

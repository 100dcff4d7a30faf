r"""Model score fields: the exact score plus gauge fields plus gradients of potentials.

.. math:: s_t(x) = \nabla\log p_t(x) + \sum_i r^{(i)}_t(x) + \sum_j a_j(t)\,\nabla\chi_j(x)

The gauge terms (:mod:`toytheory.gauge.gauge_fields`) leave every marginal of
the probability-flow ODE unchanged although they make :math:`s` non-conservative;
the potential terms keep :math:`s` conservative but change the marginals
(Horvat & Pfister, "On gauge freedom, conservativity and intrinsic
dimensionality estimation in diffusion models": conservativity is neither
necessary nor sufficient). A :class:`ModelField` gives the field, its exact
Jacobian and divergence in numpy, the probability-flow velocity
:math:`v = f(t)x - \tfrac12 g^2(t)s`, and a torch callable for
:func:`sims.diffusion_torch.pf_ode_rk4`.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .._validation import as_float_array
from .densities import as_density
from .functions import ScalarFunction
from .gauge_fields import GaugeField, _amplitude

__all__ = ["Potential", "ModelField"]


class Potential:
    """A conservative perturbation :math:`a(t)\\nabla\\chi(x)` with :math:`\\chi` a ScalarFunction.

    Parameters
    ----------
    chi : ScalarFunction
    amplitude : float or callable t -> float, optional
        Default 1. A callable must return a finite real number at every t
        (checked at each call: otherwise ``ValueError`` naming ``amplitude``).
    """

    def __init__(self, chi: ScalarFunction, amplitude=None):
        if not isinstance(chi, ScalarFunction):
            raise ValueError(f"chi: must be a ScalarFunction (got {type(chi).__name__})")
        self.chi = chi
        self.dim = chi.dim
        self.amplitude = _amplitude(amplitude)

    def __repr__(self):
        return f"Potential({self.chi!r})"

    def __call__(self, x, t):
        return self.amplitude(t) * self.chi.grad(x)

    def jacobian(self, x, t):
        return self.amplitude(t) * self.chi.hess(x)


def _terms(name, value, kind, dim):
    """A tuple of ``kind`` objects of dimension ``dim`` from an iterable (ValueError else)."""
    try:
        items = tuple(value)
    except TypeError:
        raise ValueError(f"{name}: must be a sequence (e.g. a list) of {kind.__name__} "
                         f"objects (got {type(value).__name__})") from None
    for i, item in enumerate(items):
        if not isinstance(item, kind):
            raise ValueError(f"{name}: must contain only {kind.__name__} objects "
                             f"(entry {i} is {type(item).__name__})")
        if item.dim != dim:
            raise ValueError(f"{name}: must have the density's dimension {dim} "
                             f"(entry {i} has dimension {item.dim})")
    return items


class ModelField:
    """:math:`s_t = \\nabla\\log p_t + \\sum r_t + \\sum a\\nabla\\chi` under a schedule.

    Parameters
    ----------
    density : GaussianMixture or density object
    schedule : NoiseSchedule
    gauges : sequence of GaugeField, optional
    potentials : sequence of Potential, optional

    Raises
    ------
    ValueError
        ``schedule: ...`` for anything but a NoiseSchedule; ``gauges: ...`` or
        ``potentials: ...`` unless each is a sequence of GaugeField
        (Potential) objects of the density's dimension.
    """

    def __init__(self, density, schedule, gauges: Sequence[GaugeField] = (),
                 potentials: Sequence[Potential] = ()):
        from ..diffusion.schedules import NoiseSchedule

        if not isinstance(schedule, NoiseSchedule):
            raise ValueError(f"schedule: must be a NoiseSchedule (got {type(schedule).__name__})")
        self.density = as_density(density)
        self.schedule = schedule
        self.dim = self.density.dim
        self.gauges = _terms("gauges", gauges, GaugeField, self.dim)
        self.potentials = _terms("potentials", potentials, Potential, self.dim)

    def __repr__(self):
        return (f"ModelField(d={self.dim}, gauges={len(self.gauges)}, "
                f"potentials={len(self.potentials)})")

    @property
    def is_exact_score(self) -> bool:
        return not self.gauges and not self.potentials

    def _x(self, x):
        x = as_float_array("x", x, ndim=2)
        if x.shape[1] != self.dim:
            raise ValueError(f"x: must have {self.dim} columns (got shape {x.shape})")
        return x

    def _noise(self, t):
        a, s = self.schedule.marginal(t)
        return float(a), float(s)

    def __call__(self, x, t):
        """:math:`s_t(x)`, shape (n, d)."""
        x = self._x(x)
        a, s = self._noise(t)
        out = self.density.score(x, a, s)
        for g in self.gauges:
            out = out + g(x, t)
        for p in self.potentials:
            out = out + p(x, t)
        return out

    def jacobian(self, x, t):
        """:math:`\\partial s_t/\\partial x`, shape (n, d, d)."""
        x = self._x(x)
        a, s = self._noise(t)
        out = self.density.score_jacobian(x, a, s)
        for g in self.gauges:
            out = out + g.jacobian(x, t)
        for p in self.potentials:
            out = out + p.jacobian(x, t)
        return out

    def divergence(self, x, t):
        """:math:`\\nabla\\cdot s_t`, shape (n,) (the exact trace of the Jacobian)."""
        return np.trace(self.jacobian(x, t), axis1=1, axis2=2)

    def antisymmetry(self, x, t):
        """:math:`\\|\\partial s - \\partial s^T\\|_F/\\sqrt2`, (n,): zero iff locally conservative."""
        j = self.jacobian(x, t)
        return np.linalg.norm(j - np.swapaxes(j, 1, 2), axis=(1, 2)) / np.sqrt(2.0)

    # ------------------------------------------------------------------ probability flow
    def velocity(self, x, t):
        """:math:`v_t(x) = f(t)\\,x - \\tfrac12 g^2(t)\\,s_t(x)`, shape (n, d)."""
        x = self._x(x)
        f = float(self.schedule.drift(t))
        g2 = float(self.schedule.diffusion_sq(t))
        return f * x - 0.5 * g2 * self(x, t)

    def velocity_jacobian(self, x, t):
        """:math:`\\partial v_t/\\partial x = f I - \\tfrac12 g^2\\partial s_t`, (n, d, d)."""
        f = float(self.schedule.drift(t))
        g2 = float(self.schedule.diffusion_sq(t))
        return f * np.eye(self.dim)[None] - 0.5 * g2 * self.jacobian(x, t)

    def velocity_and_jacobian(self, x, t):
        """``(v_t(x), dv_t/dx)`` in one pass (each density and gauge term evaluated once)."""
        x = self._x(x)
        a, s = self._noise(t)
        f = float(self.schedule.drift(t))
        g2 = float(self.schedule.diffusion_sq(t))
        if hasattr(self.density, "score_and_jacobian"):
            score, hess = self.density.score_and_jacobian(x, a, s)
        else:
            score, hess = self.density.score(x, a, s), self.density.score_jacobian(x, a, s)
        field, jac = score, hess
        for g in self.gauges:
            gv, gj = g.value_and_jacobian(x, t, score, hess)
            field, jac = field + gv, jac + gj
        for p in self.potentials:
            field, jac = field + p(x, t), jac + p.jacobian(x, t)
        return f * x - 0.5 * g2 * field, f * np.eye(self.dim)[None] - 0.5 * g2 * jac

    def velocity_divergence(self, x, t):
        """:math:`\\nabla\\cdot v_t = f d - \\tfrac12 g^2\\nabla\\cdot s_t`, (n,)."""
        f = float(self.schedule.drift(t))
        g2 = float(self.schedule.diffusion_sq(t))
        return f * self.dim - 0.5 * g2 * self.divergence(x, t)

    def torch(self, device="cpu", dtype=None) -> Callable:
        """``s(x_tensor, t_float) -> tensor`` for :mod:`sims.diffusion_torch`."""
        import torch

        dtype = torch.float64 if dtype is None else dtype
        if not hasattr(self.density, "torch_score"):
            raise ValueError("density: has no torch_score; the torch field needs one")
        score_t = self.density.torch_score(device=device, dtype=dtype)
        gauges_t = [g.torch(device=device, dtype=dtype) for g in self.gauges]
        potentials = self.potentials

        def field(x, t):
            a, s = self._noise(float(t))
            out = score_t(x, a, s)
            for g in gauges_t:
                out = out + g(x, t)
            for p in potentials:
                out = out + p(x, float(t))
            return out
        return field

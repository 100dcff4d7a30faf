r"""Smooth scalar functions with exact gradients and Hessians, for numpy and torch alike.

They parametrise the fields of this package: a stream function
:math:`\psi = p\,h` (:mod:`toytheory.gauge.gauge_fields`) or a potential
:math:`\chi = h` added to a score (:mod:`toytheory.gauge.fields`). Each takes
points ``x`` of shape (n, d), numpy or torch (the namespace comes from
``array_api_compat``), and returns ``value`` (n,), ``grad`` (n, d) and
``hess`` (n, d, d).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_real

__all__ = ["ScalarFunction", "Quadratic", "PlaneWave"]


def _namespace(x):
    from array_api_compat import array_namespace, device

    xp = array_namespace(x)
    return xp, device(x)


class ScalarFunction:
    """A smooth :math:`h: \\mathbb{R}^d \\to \\mathbb{R}` (abstract)."""

    dim: int

    def value(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def grad(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def hess(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def _check(self, x):
        if isinstance(x, np.ndarray) or not hasattr(x, "device"):
            x = as_float_array("x", x, ndim=2)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x: must have shape (n, {self.dim}) (got {tuple(x.shape)})")
        return x


class Quadratic(ScalarFunction):
    """:math:`h(x) = \\tfrac12 x^T Q x + b^T x + c` (constants and affine functions included).

    Parameters
    ----------
    Q : (d, d) array, symmetric
    b : (d,) array, optional
    c : float, default 0
    """

    def __init__(self, Q, b=None, c: float = 0.0):
        q = as_float_array("Q", Q, ndim=2)
        if q.shape[0] != q.shape[1] or q.shape[0] < 1:
            raise ValueError(f"Q: must be square (got {q.shape})")
        if not np.allclose(q, q.T, rtol=0, atol=1e-12 * max(1.0, np.abs(q).max())):
            raise ValueError("Q: must be symmetric")
        self.dim = q.shape[0]
        self.Q = 0.5 * (q + q.T)
        self.b = np.zeros(self.dim) if b is None else as_float_array("b", b, ndim=1)
        if self.b.shape != (self.dim,):
            raise ValueError(f"b: must have shape ({self.dim},) (got {self.b.shape})")
        self.c = check_real("c", c)

    @classmethod
    def constant(cls, dim: int, c: float = 1.0) -> "Quadratic":
        """:math:`h \\equiv c`."""
        return cls(np.zeros((dim, dim)), None, c)

    def __repr__(self):
        return f"Quadratic(d={self.dim})"

    def _params(self, x):
        xp, dev = _namespace(x)
        return (xp, xp.asarray(self.Q, dtype=x.dtype, device=dev),
                xp.asarray(self.b, dtype=x.dtype, device=dev))

    def value(self, x):
        x = self._check(x)
        xp, q, b = self._params(x)
        return 0.5 * xp.sum(xp.matmul(x, q) * x, axis=-1) + xp.matmul(x, b[:, None])[:, 0] + self.c

    def grad(self, x):
        x = self._check(x)
        xp, q, b = self._params(x)
        return xp.matmul(x, q) + b[None, :]

    def hess(self, x):
        x = self._check(x)
        xp, q, _ = self._params(x)
        return xp.broadcast_to(q[None, :, :], (x.shape[0], self.dim, self.dim))


class PlaneWave(ScalarFunction):
    """:math:`h(x) = A\\sin(\\omega^T x + \\varphi)`.

    Parameters
    ----------
    amplitude : float
    frequency : (d,) array
    phase : float, default 0
    """

    def __init__(self, amplitude: float, frequency, phase: float = 0.0):
        self.amplitude = check_real("amplitude", amplitude)
        self.frequency = as_float_array("frequency", frequency, ndim=1)
        if self.frequency.size < 1:
            raise ValueError("frequency: must have at least one entry")
        self.dim = self.frequency.size
        self.phase = check_real("phase", phase)

    def __repr__(self):
        return f"PlaneWave(A={self.amplitude}, omega={self.frequency.tolist()})"

    def _arg(self, x):
        xp, dev = _namespace(x)
        w = xp.asarray(self.frequency, dtype=x.dtype, device=dev)
        return xp, w, xp.matmul(x, w[:, None])[:, 0] + self.phase

    def value(self, x):
        x = self._check(x)
        xp, _, u = self._arg(x)
        return self.amplitude * xp.sin(u)

    def grad(self, x):
        x = self._check(x)
        xp, w, u = self._arg(x)
        return self.amplitude * xp.cos(u)[:, None] * w[None, :]

    def hess(self, x):
        x = self._check(x)
        xp, w, u = self._arg(x)
        outer = w[:, None] * w[None, :]
        return -self.amplitude * xp.sin(u)[:, None, None] * outer[None, :, :]

r"""What every solver shares: the signature, the model adapter, the noise source.

Every sampler in :mod:`toytheory.diffusion.solvers` is called as

.. code-block:: python

    x0 = sample_xxx(model, x_T, grid, *, prediction=None, generator=None,
                    callback=None, **options)

``model(x, t)`` returns one *named prediction* at model time ``t`` of
``grid.schedule``: ``"x0"`` (:math:`\hat x_0`), ``"eps"`` (:math:`\hat\varepsilon`),
``"v"`` (:math:`\alpha\hat\varepsilon - \sigma\hat x_0`) or ``"score"``.
``prediction`` names it; when omitted it is read from ``model.prediction``
(:class:`~toytheory.diffusion.process.ExactModel` has one). The solver converts
with the exact identities at the point's :math:`(\alpha, \sigma)`:

.. math:: x = \alpha\hat x_0 + \sigma\hat\varepsilon,\quad
          \hat v = \alpha\hat\varepsilon - \sigma\hat x_0,\quad
          \hat\varepsilon = -\sigma\nabla\log p_t .

``generator`` (a numpy Generator or seed for numpy input, a ``torch.Generator``
for torch input) feeds the stochastic samplers (DDIM with :math:`\eta > 0`,
SDE-DPM-Solver++); deterministic samplers accept and ignore it, so that every
sampler can be called the same way.

``x_T`` is a numpy array (float64) or a torch tensor of shape (n, d); every
step is a linear combination with Python-float coefficients computed in
float64 from the grid, so numpy and torch run the same arithmetic (they agree
to rounding in float64) and the torch path runs batched on any device.
``callback`` receives, after every step ``i``, a dict with ``i``, ``t``,
``t_next``, ``x`` (the state the step started from), ``denoised`` (the data
prediction at ``x``, where the solver evaluated one) and ``x_next``.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..._validation import all_finite_torch as _all_finite_torch

from . import _fused
from .grids import TimeGrid

PREDICTIONS = ("x0", "eps", "v", "score")

__all__ = ["PREDICTIONS", "SolverContext", "lincomb", "check_order", "check_choice"]


def _is_torch(x) -> bool:
    mod = type(x).__module__
    return mod.startswith("torch")


def lincomb(terms):
    """:math:`\\sum_k c_k y_k` for ``terms = [(c_k, y_k), ...]`` (floats, arrays or tensors).

    Evaluated left to right into one fresh buffer (numpy ``*=``/``+=``, torch
    ``mul``/``add_(alpha=)``) so that numpy and torch do the same operations and
    no more temporaries than needed are allocated.
    """
    terms = [(c, y) for c, y in ((float(c), y) for c, y in terms) if c != 0.0]
    if not terms:
        raise ValueError("terms: need at least one non-zero coefficient")
    lazy = _fused.LinearCombination
    if any(type(y) is lazy for _, y in terms) or (_fused.is_fused() and _is_torch(terms[0][1])):
        flat = _fused.flatten(terms)
        if not flat:
            return terms[0][1].mul(0.0) if _is_torch(terms[0][1]) else np.multiply(terms[0][1], 0.0)
        if _fused.is_fused():
            return _fused.LinearCombination(flat)
        terms = flat
    c0, y0 = terms[0]
    if _is_torch(y0):
        out = y0.mul(c0)
        for c, y in terms[1:]:
            out.add_(y, alpha=c)
        return out
    out = np.multiply(y0, c0)
    for c, y in terms[1:]:
        out += c * y
    return out


def check_order(name: str, order, low: int = 1, high: int | None = None) -> int:
    from ..._validation import check_int

    return check_int(name, order, low=low, high=high)


def check_choice(name: str, value, choices) -> str:
    if value not in choices:
        raise ValueError(f"{name}: must be one of {tuple(choices)} (got {value!r})")
    return value


def _check_torch_output(out, x):
    """A model's output for the torch tensor ``x``, as a tensor of ``x``'s shape.

    Finiteness is checked once, on the result of the solve: a full pass per step
    would cost as much as the step itself on large batches, and non-finite
    values propagate to the result.
    """
    import torch

    if not isinstance(out, torch.Tensor):
        out = torch.as_tensor(np.asarray(out), dtype=x.dtype, device=x.device)
    if out.shape != x.shape:
        raise ValueError(f"model: returned shape {tuple(out.shape)} for input shape "
                         f"{tuple(x.shape)}")
    return out


def _check_x(x_T):
    if _is_torch(x_T):
        import torch

        if x_T.ndim != 2:
            raise ValueError(f"x_T: must have shape (n, d) (got {tuple(x_T.shape)})")
        if x_T.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"x_T: must be float32 or float64 (got {x_T.dtype})")
        if not _all_finite_torch(x_T):
            raise ValueError("x_T: must contain only finite values")
        return x_T
    from ..._validation import as_float_array

    return as_float_array("x_T", x_T, ndim=2)


class SolverContext:
    """Model, grid and conversions for one solve (internal).

    Parameters
    ----------
    model : callable
        ``model(x, t) -> prediction``.
    x_T : (n, d) array or tensor
    grid : TimeGrid
    prediction : str or None
    callback : callable or None
    """

    def __init__(self, model: Callable, x_T, grid, prediction=None, callback=None):
        if not callable(model):
            raise ValueError(f"model: must be callable as model(x, t) (got {type(model).__name__})")
        if not isinstance(grid, TimeGrid):
            raise ValueError(f"grid: must be a TimeGrid (build one with "
                             f"toytheory.diffusion.solvers.grids; got {type(grid).__name__})")
        if prediction is None:
            prediction = getattr(model, "prediction", None)
            if prediction is None:
                raise ValueError("prediction: must be given (one of "
                                 f"{PREDICTIONS}) when the model has no .prediction attribute")
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction: must be one of {PREDICTIONS} (got {prediction!r})")
        if callback is not None and not callable(callback):
            raise ValueError("callback: must be callable or None")
        self.model = model
        self.grid = grid
        self.schedule = grid.schedule
        self.prediction = prediction
        self.callback = callback
        self.x_T = _check_x(x_T)
        self.torch = _is_torch(self.x_T)
        self.nfe = 0
        self._pool = None

    # -------------------------------------------------------------- points
    def point(self, i: int):
        """``(t, alpha, sigma, lambda)`` of grid point ``i``."""
        return self.grid.point(i)

    def at_log_snr(self, lam: float):
        """``(t, alpha, sigma, lambda)`` at an intermediate log-SNR (single-step stages)."""
        t = float(self.schedule.t_from_log_snr(lam))
        a, s = (float(v) for v in self.schedule.marginal(t))
        return t, a, s, float(self.schedule.log_snr(t))

    # -------------------------------------------------------------- model
    def m(self, y):
        """A concrete array for ``y`` (fused mode keeps lazy linear combinations; on the
        CPU they are evaluated into this solve's :class:`~._fused.BufferPool`)."""
        if type(y) is not _fused.LinearCombination:
            return y
        on_cpu = y.device.type == "cpu"
        if self._pool is None and on_cpu:
            self._pool = _fused.BufferPool()
        return _fused.materialize(y, self._pool if on_cpu else None)

    def raw(self, x, t: float):
        x = self.m(x)
        out = self.model(x, t)
        self.nfe += 1
        if self.torch:
            return _check_torch_output(out, x)
        out = np.asarray(out, dtype=float)
        if out.shape != x.shape:
            raise ValueError(f"model: returned shape {out.shape} for input shape {x.shape}")
        if not np.all(np.isfinite(out)):
            raise ValueError(f"model: returned non-finite values at t = {t!r}")
        return out

    def to_data(self, raw, x, a: float, s: float):
        """:math:`\\hat x_0` from the raw prediction at :math:`(\\alpha, \\sigma)`."""
        kind = self.prediction
        if kind == "x0":
            return raw
        if kind == "eps":
            return lincomb([(1.0 / a, x), (-s / a, raw)])
        if kind == "v":
            n2 = a * a + s * s
            return lincomb([(a / n2, x), (-s / n2, raw)])
        return lincomb([(1.0 / a, x), (s * s / a, raw)])  # score

    def to_noise(self, raw, x, a: float, s: float):
        """:math:`\\hat\\varepsilon` from the raw prediction at :math:`(\\alpha, \\sigma)`."""
        kind = self.prediction
        if kind == "eps":
            return raw
        if kind == "x0":
            return lincomb([(1.0 / s, x), (-a / s, raw)])
        if kind == "v":
            n2 = a * a + s * s
            return lincomb([(s / n2, x), (a / n2, raw)])
        return lincomb([(-s, raw)])  # score

    def data(self, x, t, a, s):
        return self.to_data(self.raw(x, t), x, a, s)

    def noise(self, x, t, a, s):
        return self.to_noise(self.raw(x, t), x, a, s)

    def finish(self, x):
        """The concrete result; a torch result is checked for non-finite values here."""
        x = self.m(x)
        if self.torch:
            import torch

            if not _all_finite_torch(x):
                raise ValueError("model: the solve produced non-finite values (a model output "
                                 "or a step overflowed)")
        return x

    # -------------------------------------------------------------- callback
    def report(self, i: int, x, x_next, denoised=None, **extra):
        if self.callback is None:
            return
        t, _, _, _ = self.point(i)
        t_next, _, _, _ = self.point(i + 1)
        info = {"i": i, "t": t, "t_next": t_next, "x": self.m(x),
                "denoised": None if denoised is None else self.m(denoised),
                "x_next": self.m(x_next)}
        info.update({k: self.m(v) for k, v in extra.items()})
        self.callback(info)

    # -------------------------------------------------------------- noise
    def noise_source(self, generator=None, noise=None, n_draws: int | None = None):
        """A callable ``draw(k) -> standard normal like x_T`` for the k-th injected draw.

        ``noise`` (explicit draws, shape (n_draws, n, d), or (n, n_draws * d) as
        :func:`~toytheory.diffusion.affine.affine_map_of` passes them) takes
        precedence over ``generator`` (numpy Generator / seed for numpy input,
        ``torch.Generator`` for torch input).
        """
        x = self.x_T
        n, d = int(x.shape[0]), int(x.shape[1])
        if noise is not None:
            if self.torch:
                import torch

                z = torch.as_tensor(noise, dtype=x.dtype, device=x.device)
                shape = tuple(z.shape)
            else:
                z = np.asarray(noise, dtype=float)
                shape = z.shape
            if n_draws is not None and shape == (n, n_draws * d):
                z = z.reshape(n, n_draws, d)
                z = z.permute(1, 0, 2) if self.torch else np.transpose(z, (1, 0, 2))
                shape = tuple(z.shape)
            if n_draws is not None and shape != (n_draws, n, d):
                raise ValueError(f"noise: must have shape ({n_draws}, {n}, {d}) or "
                                 f"({n}, {n_draws * d}) (got {shape})")
            return lambda k: z[k]
        if self.torch:
            import torch

            if generator is not None and not isinstance(generator, torch.Generator):
                raise ValueError("generator: must be a torch.Generator for torch input")
            return lambda k: torch.randn(x.shape, generator=generator, dtype=x.dtype,
                                         device=x.device)
        from ..._random import as_generator

        gen = as_generator(generator)
        return lambda k: gen.standard_normal((n, d))


def phi(h: float, k: int) -> float:
    """:math:`\\varphi_k(h)` with :math:`\\varphi_0 = e^h`, :math:`\\varphi_{k+1}(h) =
    (\\varphi_k(h) - 1/k!)/h`, evaluated stably (series for small :math:`|h|`)."""
    if abs(h) < 1e-3 * (k + 1):
        # sum_j h^j / (j + k)!
        total, term = 0.0, 1.0 / math.factorial(k)
        for j in range(20):
            total += term
            term *= h / (j + k + 1)
        return total
    value = math.exp(h)
    for j in range(k):
        value = (value - 1.0 / math.factorial(j)) / h
    return value

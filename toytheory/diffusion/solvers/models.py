r"""Model callables for solvers: a fast exact affine model for Gaussian data, perturbed models.

:class:`AffineGaussianModel` is the exact model of Gaussian data written as
one affine map per call, :math:`\text{prediction} = x M_t^T + c_t`, with

.. math:: \hat x_0 = \mu + \alpha\Sigma(\alpha^2\Sigma + \sigma^2 I)^{-1}(x - \alpha\mu)

(one ``addmm`` in torch: what a benchmark of the solver's own cost needs). It
agrees with :class:`~toytheory.diffusion.process.ExactModel` to rounding.

:class:`PerturbedModel` plants a known error into any model, in
:math:`\hat\varepsilon` coordinates, for the seed claims that need an
imperfect denoiser (exposure bias, approximation error):

.. math:: \tilde\varepsilon(x, t) = (1 + \kappa(t))\,\hat\varepsilon(x, t + \delta)
          + \beta(t)

with a constant or callable scale :math:`\kappa`, time offset :math:`\delta`
and bias :math:`\beta` (a vector). For Gaussian data and constant
:math:`\kappa`, :math:`\beta` the perturbed model is still affine, so solver
laws stay exact.
"""

from __future__ import annotations

import numpy as np

from ..._validation import as_float_array, check_real
from ..laws import Gaussian
from ..schedules import NoiseSchedule
from ._base import PREDICTIONS
from ._fused import (BufferPool, _kernel_namespace, run_cpu_kernel,
                     static_blocks_source)

__all__ = ["AffineGaussianModel", "PerturbedModel"]


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


_SMALL_D = 8
_CACHE_SIZE = 4096
_POOLED_BYTES = 16 << 20   # output buffers kept for reuse: at most 4 of 16 MiB
_KERNELS: dict = {}


def _affine_rows_source(d: int, parallel: bool = False) -> str:
    """Source of an unrolled ``out = x @ mt + c`` for dimension ``d`` (one pass over x;
    ``parallel``: one block of rows per thread).

    The rows are read through flat views (``x.reshape(-1)[d i + k]``): two-dimensional
    indexing keeps LLVM from vectorising the interleaved loads (about 3x slower at d = 2).
    """
    lines = [f"def affine_rows_{d}(x, mt, c, out):",
             "    xf = x.reshape(-1)",
             "    of = out.reshape(-1)",
             "    n = x.shape[0]"]
    for j in range(d):
        lines.append(f"    c{j} = c[{j}]")
        for k in range(d):
            lines.append(f"    m{k}{j} = mt[{k}, {j}]")
    body = [f"r = {d} * i"] + [f"x{k} = xf[r + {k}]" for k in range(d)]
    body += [f"of[r + {j}] = c{j} + " + " + ".join(f"x{k} * m{k}{j}" for k in range(d))
             for j in range(d)]
    if parallel:
        lines += static_blocks_source("n", body)
    else:
        lines += ["    for i in range(n):"] + ["        " + line for line in body]
    return "\n".join(lines) + "\n"


def _affine_rows_kernel(d: int, parallel: bool = False):
    """A Numba kernel for ``out = x @ mt + c`` with the d x d product unrolled, or None
    without Numba. For small d a BLAS call on an (n, d) x (d, d) product costs several
    passes over x; the unrolled loop costs one (about 4x faster at d = 2)."""
    key = (d, parallel)
    if key not in _KERNELS:
        try:
            import numba
        except ImportError:  # pragma: no cover - numba is an extra
            _KERNELS[key] = None
        else:
            namespace = _kernel_namespace()
            exec(compile(_affine_rows_source(d, parallel), f"<affine_rows_{d}>", "exec"),
                 namespace)
            _KERNELS[key] = numba.njit(nogil=True, parallel=parallel)(
                namespace[f"affine_rows_{d}"])
    return _KERNELS[key]


class AffineGaussianModel:
    """The exact model of :math:`N(\\mu, \\Sigma)` data as one affine map per call.

    Parameters
    ----------
    law : Gaussian
    schedule : NoiseSchedule
    prediction : {"x0", "eps", "v", "score"}
    device, dtype :
        For torch inputs (the maps are cached per time on that device).

    Attributes
    ----------
    calls : int
    """

    def __init__(self, law: Gaussian, schedule: NoiseSchedule, prediction: str = "x0",
                 device="cpu", dtype=None):
        if not isinstance(law, Gaussian):
            raise ValueError(f"law: must be a Gaussian (got {type(law).__name__})")
        if not isinstance(schedule, NoiseSchedule):
            raise ValueError(f"schedule: must be a NoiseSchedule (got {type(schedule).__name__})")
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction: must be one of {PREDICTIONS} (got {prediction!r})")
        self.law = law
        self.schedule = schedule
        self.prediction = prediction
        self.device = device
        self.dtype = dtype
        self._eig = law.spectrum
        self._mu = law.mean_vector
        self._cache: dict = {}
        self._outputs = None   # BufferPool of CPU outputs, reused once callers drop them
        self.calls = 0

    def affine_map(self, t: float):
        """``(M, c)`` (float64 numpy) with prediction ``= x @ M.T + c`` at time ``t``."""
        a, s = (float(v) for v in self.schedule.marginal(float(t)))
        lam, u = self._eig
        mu = self._mu
        # x0 = mu + alpha S (a^2 S + s^2)^{-1} (x - a mu) = K x + (mu - a K mu)
        k = (u * (a * lam / (a * a * lam + s * s))) @ u.T
        cx = mu - a * (k @ mu)
        eye = np.eye(mu.size)
        kind = self.prediction
        if kind == "x0":
            return k, cx
        if kind == "eps":          # (x - a x0)/s
            return (eye - a * k) / s, -a * cx / s
        if kind == "v":            # a eps - s x0
            return a * (eye - a * k) / s - s * k, -a * a * cx / s - s * cx
        # score = -eps/s
        return -(eye - a * k) / (s * s), a * cx / (s * s)

    @staticmethod
    def _time_key(t) -> float:
        """The one time of a call (a float, a 0-d array or tensor, or a constant batch)."""
        if type(t) is float:
            return t
        if _is_torch(t):
            t = t.detach().cpu().numpy()
        t_arr = np.asarray(t, float)
        if t_arr.ndim:
            if not np.all(t_arr == t_arr.flat[0]):
                raise ValueError("t: AffineGaussianModel takes one time per call")
            t_arr = t_arr.flat[0]
        return float(t_arr)

    def _torch_map(self, key: float, x):
        """``(mt, c, mt_np, c_np)`` at time ``key`` for ``x``'s dtype and device, cached
        (the numpy views are ``None`` off the CPU)."""
        ck = (key, x.dtype, x.device)
        entry = self._cache.get(ck)
        if entry is None:
            import torch

            m, c = self.affine_map(key)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            mt = torch.as_tensor(m.T.copy(), dtype=x.dtype, device=x.device)
            ct = torch.as_tensor(c, dtype=x.dtype, device=x.device)
            on_cpu = x.device.type == "cpu"
            entry = (mt, ct, mt.numpy() if on_cpu else None, ct.numpy() if on_cpu else None)
            self._cache[ck] = entry
        return entry

    def __call__(self, x, t):
        self.calls += 1
        key = self._time_key(t)
        if not _is_torch(x):
            m, c = self.affine_map(key)
            return np.asarray(x, float) @ m.T + c
        import torch

        mt, c, mt_np, c_np = self._torch_map(key, x)
        if mt_np is None:
            return torch.addmm(c, x, mt)
        if x.shape[1] <= _SMALL_D and not x.requires_grad:
            d = int(x.shape[1])
            kernel = _affine_rows_kernel(d)
            if kernel is not None:
                xc = x.contiguous()
                if self._outputs is None:
                    self._outputs = BufferPool(size=4, max_bytes=_POOLED_BYTES)
                out = self._outputs.take(xc)
                size = xc.numel()
                run_cpu_kernel(lambda parallel: _affine_rows_kernel(d, parallel), size,
                               xc.numpy(), mt_np, c_np, out.numpy())
                return out
        out = torch.matmul(x, mt)   # on CPU faster than addmm for small d
        return out.add_(c)


class PerturbedModel:
    """A model with a planted error in :math:`\\hat\\varepsilon` coordinates.

    Parameters
    ----------
    model : callable
        ``model(x, t)`` returning its own ``prediction``.
    schedule : NoiseSchedule
    eps_scale : float or callable
        :math:`\\kappa` (or :math:`\\kappa(t)`):
        :math:`\\tilde\\varepsilon = (1 + \\kappa)\\hat\\varepsilon`.
    time_offset : float
        :math:`\\delta`: the model is queried at :math:`t + \\delta` (clipped to the schedule).
    eps_bias : (d,) array or callable, optional
        :math:`\\beta` (or :math:`\\beta(t)`) added to :math:`\\tilde\\varepsilon`.
    prediction : str, optional
        The wrapped model's prediction kind (default ``model.prediction``).

    The output has the wrapped model's prediction kind.
    """

    def __init__(self, model, schedule: NoiseSchedule, *, eps_scale=0.0, time_offset: float = 0.0,
                 eps_bias=None, prediction=None):
        if not callable(model):
            raise ValueError("model: must be callable")
        if not isinstance(schedule, NoiseSchedule):
            raise ValueError("schedule: must be a NoiseSchedule")
        self.model = model
        self.schedule = schedule
        self.prediction = prediction if prediction is not None else getattr(model, "prediction",
                                                                             None)
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"prediction: must be one of {PREDICTIONS} (got {self.prediction!r})")
        if not callable(eps_scale):
            check_real("eps_scale", eps_scale, low=-1.0, low_open=True)
        self.eps_scale = eps_scale
        self.time_offset = check_real("time_offset", time_offset)
        if eps_bias is not None and not callable(eps_bias):
            eps_bias = as_float_array("eps_bias", eps_bias, ndim=1)
        self.eps_bias = eps_bias

    def _value(self, v, t):
        return float(v(t)) if callable(v) else float(v)

    def _coef(self, t, x):
        a, s = self.schedule.marginal(t)
        if np.ndim(a):
            a = np.asarray(a, float)[:, None]
            s = np.asarray(s, float)[:, None]
            if _is_torch(x):
                import torch

                a = torch.as_tensor(a, dtype=x.dtype, device=x.device)
                s = torch.as_tensor(s, dtype=x.dtype, device=x.device)
            return a, s
        return float(a), float(s)

    def __call__(self, x, t):
        t_arr = np.asarray(t.detach().cpu().numpy() if _is_torch(t) else t, float)
        if t_arr.ndim and (callable(self.eps_scale) or callable(self.eps_bias)):
            raise ValueError("t: one time per point needs constant eps_scale and eps_bias")
        t = t_arr if t_arr.ndim else float(t_arr)
        tq = np.clip(t_arr + self.time_offset, self.schedule.t_min, self.schedule.t_max)
        tq = tq if t_arr.ndim else float(tq)
        if _is_torch(x) and t_arr.ndim:
            import torch

            raw = self.model(x, torch.as_tensor(tq, dtype=torch.float64))
        else:
            raw = self.model(x, tq)
        a, s = self._coef(tq, x)
        kind = self.prediction
        if kind == "eps":
            eps = raw
        elif kind == "x0":
            eps = (x - a * raw) / s
        elif kind == "v":
            eps = (s * x + a * raw) / (a * a + s * s)
        else:
            eps = -s * raw
        eps = eps * (1.0 + (float(self.eps_scale) if not callable(self.eps_scale)
                            else self._value(self.eps_scale, t)))
        if self.eps_bias is not None:
            bias = self.eps_bias(t) if callable(self.eps_bias) else self.eps_bias
            if _is_torch(x):
                import torch

                bias = torch.as_tensor(np.asarray(bias, float), dtype=x.dtype, device=x.device)
            eps = eps + bias
        # back to the model's own kind at the *requested* time t
        a, s = self._coef(t, x)
        if kind == "eps":
            return eps
        if kind == "x0":
            return (x - s * eps) / a
        if kind == "v":
            x0 = (x - s * eps) / a
            return a * eps - s * x0
        return -eps / s


class DiagonalMixtureModel:
    """The exact model of a mixture with *diagonal* covariances, numpy, with minimal overhead.

    .. math:: \\hat x_0(x) = \\sum_k w_k(x)\\Big(\\mu_k
              + \\frac{\\alpha v_k}{\\alpha^2 v_k + \\sigma^2}
              \\odot(x - \\alpha\\mu_k)\\Big),\\quad
              w = \\operatorname{softmax}_k\\Big(\\log\\pi_k - \\tfrac12\\sum_i
              \\Big[\\frac{(x_i - \\alpha\\mu_{ki})^2}{\\alpha^2 v_{ki} + \\sigma^2}
              + \\log(\\alpha^2 v_{ki} + \\sigma^2)\\Big]\\Big)

    (REFERENCE.md section 1, the mixture score). It is the same function as
    :class:`~toytheory.diffusion.process.ExactModel` for such laws (tests hold
    them to 1e-12), without the per-call validation, for claims that need
    thousands of evaluations.

    Parameters
    ----------
    law : GaussianMixture with diagonal covariances (``GaussianMixture.diagonal`` /
        ``.isotropic`` / ``Gaussian.diagonal``)
    schedule : NoiseSchedule
    prediction : {"x0", "eps", "v", "score"}
    """

    def __init__(self, law, schedule: NoiseSchedule, prediction: str = "eps"):
        from ..laws import GaussianMixture

        if not isinstance(law, GaussianMixture) or law.eigvecs is not None:
            raise ValueError("law: must be a GaussianMixture with diagonal covariances")
        if not isinstance(schedule, NoiseSchedule):
            raise ValueError(f"schedule: must be a NoiseSchedule (got {type(schedule).__name__})")
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction: must be one of {PREDICTIONS} (got {prediction!r})")
        self.law = law
        self.schedule = schedule
        self.prediction = prediction
        with np.errstate(divide="ignore"):
            self._logw = np.log(law.weights)
        self._mu = law.means
        self._var = law.eigvals
        self.calls = 0

    def __call__(self, x, t):
        self.calls += 1
        x = np.asarray(x, float)
        t = np.asarray(t, float)
        a, s = self.schedule.marginal(t)
        a = np.asarray(a, float).reshape(-1, 1, 1) if t.ndim else float(a)
        s = np.asarray(s, float).reshape(-1, 1, 1) if t.ndim else float(s)
        r = x[:, None, :] - a * self._mu[None]              # (n, K, d)
        var = a * a * self._var[None] + s * s                # (n|1, K, d)
        logits = self._logw[None] - 0.5 * np.sum(r * r / var + np.log(var), axis=-1)
        logits -= logits.max(axis=1, keepdims=True)
        w = np.exp(logits)
        w /= w.sum(axis=1, keepdims=True)
        x0 = np.einsum("nk,nkd->nd", w, self._mu[None] + a * self._var[None] * r / var)
        a2 = a[:, 0, :] if t.ndim else a
        s2 = s[:, 0, :] if t.ndim else s
        kind = self.prediction
        if kind == "x0":
            return x0
        eps = (x - a2 * x0) / s2
        if kind == "eps":
            return eps
        if kind == "v":
            return a2 * eps - s2 * x0
        return -eps / s2

"""The diffused mixture laws in torch (CPU or CUDA, float32 or float64).

:class:`TorchMixture` runs the same kernel as the numpy reference
(:mod:`toytheory.diffusion._mixture_core`, through ``array_api_compat``), so
in float64 the two agree to rounding (the tests hold them to 1e-10). Inputs
are torch tensors; ``alpha`` and ``sigma`` are Python floats or tensors of
shape (n,).
"""

from __future__ import annotations

import numpy as np

from .._validation import all_finite_torch
from . import _mixture_core as core
from ._mixture_core import PREDICTIONS
from ..threads import bounded_threads, chunk_workers, parallel_map

__all__ = ["TorchMixture"]

_MAX_CHUNK_ELEMENTS = 2**21   # the CPU's minimum chunk of points stops at this many numbers


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is an extra
        raise ImportError("toytheory.diffusion.torch_laws needs torch: "
                          "pip install 'toytheory[torch]'") from exc
    return torch


class TorchMixture:
    """Torch view of a :class:`~toytheory.diffusion.laws.GaussianMixture` (or Gaussian, or
    delta mixture).

    Parameters
    ----------
    law : GaussianMixture
    device : str or torch.device
    dtype : torch.dtype, default torch.float64
    chunk_elements : int, optional
        Points are processed in chunks of ``chunk_elements // (K d)`` (default
        2**18 on the CPU but at least 2048 points where that stays within 2**21,
        2**27 on CUDA).
    """

    def __init__(self, law, device="cpu", dtype=None, chunk_elements: int | None = None):
        torch = _torch()
        from array_api_compat import array_namespace

        self.law = law
        self.dtype = torch.float64 if dtype is None else dtype
        if self.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype: must be torch.float32 or torch.float64 (got {dtype})")
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device: CUDA requested but no CUDA device is available")
        t = lambda a: None if a is None else torch.as_tensor(  # noqa: E731
            np.ascontiguousarray(a), dtype=self.dtype, device=self.device)
        with np.errstate(divide="ignore"):
            self.log_weights = t(np.log(law.weights))
        self.means = t(law._means)
        self.means_proj = t(law._means_proj)
        self.eigvals = t(law._eigvals)
        self.eigvecs = t(law._eigvecs)
        # the components of positive weight, as the kernel takes them
        self._kernel = tuple(t(a) for a in law._kernel_arrays())
        self.dim = law.dim
        self.n_components = law.n_components
        self.is_singular = law.is_singular
        self._min_chunk_points = 1
        if chunk_elements is None:
            # CPU: chunks that stay in cache, but not so few points that the per-chunk
            # overhead dominates (K = 8, d = 64, 2e5 points, measured: 512-point chunks
            # 372 ms, 2048-point chunks 308 ms); GPU: large chunks (fewer launches)
            chunk_elements = 2**18 if self.device.type == "cpu" else 2**27
            self._min_chunk_points = 2048 if self.device.type == "cpu" else 1
        self._chunk_elements = int(chunk_elements)
        self.xp = array_namespace(self.means)

    def __repr__(self):
        return f"TorchMixture({self.law!r}, device={self.device}, dtype={self.dtype})"

    def _noise(self, value, name, n):
        torch = _torch()
        v = torch.as_tensor(value, dtype=self.dtype, device=self.device)
        if v.ndim > 1 or (v.ndim == 1 and v.shape[0] not in (1, n)):
            raise ValueError(f"{name}: must be a scalar or have one entry per point ({n})")
        if not all_finite_torch(v):
            raise ValueError(f"{name}: must contain only finite values")
        return v.reshape(1, -1, 1)

    def _evaluate(self, x, alpha, sigma, want):
        torch = _torch()
        x = torch.as_tensor(x, dtype=self.dtype, device=self.device)
        single = x.ndim == 1
        if single:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x: must have shape (n, {self.dim}) (got {tuple(x.shape)})")
        if not all_finite_torch(x):
            raise ValueError("x: must contain only finite values")
        n = x.shape[0]
        a = self._noise(alpha, "alpha", n)
        s = self._noise(sigma, "sigma", n)
        if bool((a <= 0).any()):
            raise ValueError("alpha: must be > 0")
        if bool((s < 0).any()):
            raise ValueError("sigma: must be >= 0")
        if self.is_singular and bool((s == 0).any()):
            raise ValueError("sigma: must be > 0 because a component covariance is singular")
        if self.is_singular and bool((s * s < self.xp.finfo(s.dtype).tiny).any()):
            raise ValueError("sigma: too small for a singular component covariance: 1/sigma^2 "
                             f"would overflow {s.dtype} (got min {float(s.min())!r})")
        plan = core.make_plan(self.xp, n, a, s, *self._kernel, want=want)
        k_pos = self._kernel[1].shape[0]
        step = core.chunk_size(k_pos, self.dim, self._chunk_elements)
        if self._min_chunk_points > step:
            # more points per chunk, but never (n, K d) intermediates beyond 2^21 numbers
            # (K = 64, d = 64: 2048 points would make 64 MB arrays, page-faulted per chunk)
            step = max(step, min(self._min_chunk_points,
                                 core.chunk_size(k_pos, self.dim, _MAX_CHUNK_ELEMENTS)))
        # torch.split, not slicing: under autograd each slice's backward would
        # materialise a zero gradient of the full size
        xs = torch.split(x, step) if n else (x,)
        a_s = (a,) * len(xs) if a.shape[1] == 1 else torch.split(a, step, dim=1)
        s_s = (s,) * len(xs) if s.shape[1] == 1 else torch.split(s, step, dim=1)
        if x.device.type == "cpu" and (x.requires_grad or a.requires_grad
                                       or s.requires_grad):
            # autograd through the chunks: in this thread (grad mode is per thread), many
            # small CPU ops, bounded threads (toytheory.threads)
            with bounded_threads(torch_too=True):
                parts = [core.evaluate_chunk(self.xp, x_c, a_c, s_c, plan)
                         for x_c, a_c, s_c in zip(xs, a_s, s_s)]
        elif x.device.type == "cpu":
            # independent chunks of many small ops: worker threads, one torch and one BLAS
            # thread each (toytheory.threads)
            def chunk(i):
                with torch.no_grad():
                    return core.evaluate_chunk(self.xp, xs[i], a_s[i], s_s[i], plan)

            parts = parallel_map(chunk, range(len(xs)), chunk_workers(), torch_too=True)
        else:
            parts = [core.evaluate_chunk(self.xp, x_c, a_c, s_c, plan)
                     for x_c, a_c, s_c in zip(xs, a_s, s_s)]
        out = {k: (torch.cat([p[k] for p in parts], dim=0) if len(parts) != 1
                   else parts[0][k]) for k in want}
        if "weights" in out:
            out["weights"] = self.law._scatter_weights(out["weights"], xp=torch)
        if single:
            out = {k: v[0] for k, v in out.items()}
        return out

    def log_prob(self, x, alpha=1.0, sigma=0.0):
        """:math:`\\log p_t(x)`, shape (n,)."""
        return self._evaluate(x, alpha, sigma, ("log_prob",))["log_prob"]

    def score(self, x, alpha=1.0, sigma=0.0):
        """:math:`\\nabla\\log p_t(x)`, shape (n, d)."""
        return self._evaluate(x, alpha, sigma, ("score",))["score"]

    def denoise(self, x, alpha=1.0, sigma=0.0):
        """:math:`E[x_0 \\mid x_t = x]`, shape (n, d)."""
        return self._evaluate(x, alpha, sigma, ("x0",))["x0"]

    def posterior(self, x, alpha=1.0, sigma=0.0):
        """:math:`P(k \\mid x_t = x)`, shape (n, K)."""
        return self._evaluate(x, alpha, sigma, ("weights",))["weights"]

    def predict(self, x, alpha, sigma, kind: str = "x0"):
        """``"x0"``, ``"eps"``, ``"v"`` or ``"score"`` (see :mod:`toytheory.diffusion.laws`)."""
        torch = _torch()
        if kind not in PREDICTIONS:
            raise ValueError(f"kind: must be one of {PREDICTIONS} (got {kind!r})")
        if kind == "x0":
            return self.denoise(x, alpha, sigma)
        if kind == "score":
            return self.score(x, alpha, sigma)
        out = self._evaluate(x, alpha, sigma, ("score", "x0"))
        a = torch.as_tensor(alpha, dtype=self.dtype, device=self.device)
        s = torch.as_tensor(sigma, dtype=self.dtype, device=self.device)
        if a.ndim == 1 and out["score"].ndim == 2:
            a, s = a[:, None], s[:, None]
        eps = -s * out["score"]
        return eps if kind == "eps" else a * eps - s * out["x0"]

r"""Fused element-wise work for the torch path: lazy linear combinations, one pass each.

Every solver step is a linear combination of tensors with Python-float
coefficients. In fused mode (:func:`fused_elementwise`) :func:`~._base.lincomb`
does not compute anything: it returns a :class:`LinearCombination` of *base*
tensors (model outputs, states, draws), flattening nested combinations and
merging repeated bases, and the combination is evaluated in one pass,
:math:`\text{out}_i = \sum_k c_k\,y_{k,i}`, only when a concrete tensor is
needed (a model input, a callback, the result). A DPM-Solver++(2M) step, for
instance, becomes one pass over :math:`x_i, \hat\varepsilon_i, x_{i-1},
\hat\varepsilon_{i-1}` instead of about fifteen.

The pass is a ``torch.compile``-d kernel on CUDA (the coefficients travel as
a tensor, so one compilation per number of terms serves every step) and a
Numba loop on CPU tensors (through their numpy views); anything else falls
back to the unfused ``mul``/``add_`` sequence. numpy inputs are never lazy.
"""

from __future__ import annotations

import contextlib
import threading

_STATE = threading.local()


def is_fused() -> bool:
    return getattr(_STATE, "fused", False)


@contextlib.contextmanager
def fused_elementwise(enabled: bool = True):
    """Within the block, torch solvers evaluate each step's linear combination in one pass.

    Examples
    --------
    >>> from toytheory.diffusion.solvers import fused_elementwise   # doctest: +SKIP
    >>> with fused_elementwise():                                   # doctest: +SKIP
    ...     x0 = sample_dpmpp_2m(model, x_T_cuda, grid)
    """
    old = is_fused()
    _STATE.fused = bool(enabled)
    try:
        yield
    finally:
        _STATE.fused = old


class LinearCombination:
    """:math:`\\sum_k c_k y_k` over torch tensors of one shape, not yet evaluated."""

    __slots__ = ("terms",)

    def __init__(self, terms):
        self.terms = terms

    @property
    def shape(self):
        return self.terms[0][1].shape

    @property
    def dtype(self):
        return self.terms[0][1].dtype

    @property
    def device(self):
        return self.terms[0][1].device

    def evaluate(self):
        return evaluate(self.terms)


def flatten(terms):
    """Expand nested combinations and merge repeated base tensors (by identity)."""
    merged: dict = {}
    order = []
    for c, y in terms:
        parts = y.terms if isinstance(y, LinearCombination) else ((1.0, y),)
        for c2, z in parts:
            key = id(z)
            if key in merged:
                merged[key][0] += c * c2
            else:
                merged[key] = [c * c2, z]
                order.append(key)
    return [(merged[k][0], merged[k][1]) for k in order if merged[k][0] != 0.0]


def materialize(y):
    """A concrete tensor for ``y`` (evaluates a :class:`LinearCombination`)."""
    return y.evaluate() if isinstance(y, LinearCombination) else y


# ---------------------------------------------------------------------- kernels
_COMPILED: dict = {}
_NUMBA: dict = {}


def _unfused(terms):
    c0, y0 = terms[0]
    out = y0.mul(c0)
    for c, y in terms[1:]:
        out.add_(y, alpha=c)
    return out


def _sum_kernel(coef, *ys):
    out = ys[0] * coef[0]
    for k in range(1, len(ys)):
        out = out + ys[k] * coef[k]
    return out


def _cuda(terms):
    import torch

    k = len(terms)
    ys = [y for _, y in terms]
    key = (k, ys[0].dtype)
    fn = _COMPILED.get(key)
    if fn is None:
        fn = torch.compile(_sum_kernel, dynamic=False, fullgraph=True)
        _COMPILED[key] = fn
    coef = torch.tensor([c for c, _ in terms], dtype=ys[0].dtype).to(ys[0].device,
                                                                       non_blocking=True)
    return fn(coef, *ys)


def _lincomb_source(k: int) -> str:
    """Source of ``out[i] = c0 y0[i] + ... + c_{k-1} y_{k-1}[i]`` unrolled over the k terms."""
    args = ", ".join(f"y{j}" for j in range(k))
    body = " + ".join(f"c{j} * y{j}[i]" for j in range(k))
    lines = [f"def lincomb_{k}(coef, out, {args}):"]
    lines += [f"    c{j} = coef[{j}]" for j in range(k)]
    lines += ["    for i in range(out.size):", f"        out[i] = {body}"]
    return "\n".join(lines) + "\n"


def _numba_kernel(k: int):
    """The Numba pass for k terms (unrolled, so that the loop vectorises), compiled once."""
    fn = _NUMBA.get(k)
    if fn is None:
        import numba

        namespace: dict = {}
        exec(compile(_lincomb_source(k), f"<lincomb_{k}>", "exec"), namespace)
        fn = numba.njit(nogil=True)(namespace[f"lincomb_{k}"])
        _NUMBA[k] = fn
    return fn


def _cpu(terms):
    import numpy as np
    import torch

    ys = [y.contiguous() for _, y in terms]
    out = torch.empty_like(ys[0])
    views = [y.numpy().reshape(-1) for y in ys]
    coef = np.array([c for c, _ in terms], dtype=views[0].dtype)
    _numba_kernel(len(views))(coef, out.numpy().reshape(-1), *views)
    return out


def evaluate(terms):
    """One pass :math:`\\sum_k c_k y_k` for torch tensors ``terms = [(c, y), ...]``."""
    if len(terms) == 1:
        return terms[0][1].mul(terms[0][0])
    y0 = terms[0][1]
    if y0.requires_grad or any(y.dtype != y0.dtype or y.shape != y0.shape for _, y in terms):
        return _unfused(terms)
    if y0.device.type == "cuda":
        return _cuda(terms)
    if y0.device.type == "cpu":
        try:
            return _cpu(terms)
        except ImportError:  # pragma: no cover - numba is an extra
            return _unfused(terms)
    return _unfused(terms)

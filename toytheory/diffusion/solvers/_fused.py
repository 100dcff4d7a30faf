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

On CPU a solve's states are written into a :class:`BufferPool`: a fresh
allocation of a large tensor costs page faults on first touch (about a fifth of
a step's time at 10^5 x 2 float32), so a buffer is reused once nothing but the
pool holds it, neither a Python reference (a callback's dict, a lazy
combination in the solver's history, a model's cache) nor a view of its storage
(a slice, a numpy array).
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


@contextlib.contextmanager
def tracing(tracer):
    """Within the block, every evaluated combination is reported to
    ``tracer.on_evaluate(terms, out)`` (used by :class:`~.plan.SolvePlan`)."""
    old = getattr(_STATE, "tracer", None)
    _STATE.tracer = tracer
    try:
        yield
    finally:
        _STATE.tracer = old


class LinearCombination:
    """:math:`\\sum_k c_k y_k` over torch tensors of one shape, not yet evaluated.

    Evaluated at most once: :func:`materialize` keeps the tensor (so a state that
    a callback saw is not computed again when the next step needs it).
    """

    __slots__ = ("terms", "value")

    def __init__(self, terms):
        self.terms = terms
        self.value = None

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
        return materialize(self)


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


def materialize(y, pool=None):
    """A concrete tensor for ``y`` (evaluates a :class:`LinearCombination` once, into a
    buffer of ``pool`` where one is free, and keeps it)."""
    if not isinstance(y, LinearCombination):
        return y
    if y.value is None:
        y.value = evaluate(y.terms, pool)
    return y.value


def _storage_use_count(t) -> int:
    import torch

    return torch._C._storage_Use_Count(t.untyped_storage()._cdata)


class BufferPool:
    """Reusable output tensors for one solve on the CPU.

    A buffer is handed out again only when the pool's own references are the
    only ones left: its Python reference count and its storage's use count
    equal those of a buffer nobody else has seen (calibrated when the pool is
    made, through the same code path). Anything that keeps a state (the
    returned tensor, a callback that stores ``info``, a view, a numpy array of
    it) keeps it out of reuse. Without the private storage counter (another
    torch) the pool hands out fresh tensors.

    Parameters
    ----------
    size : int
        Buffers kept at most (2M holds three states alive at once).
    max_bytes : int or None
        Larger buffers are handed out but not kept (a long-lived owner, such as a
        model, then retains at most ``size * max_bytes``).
    """

    def __init__(self, size: int = 4, max_bytes: int | None = None):
        self.size = size
        self.max_bytes = max_bytes
        self._bufs: list = []
        self._lock = threading.Lock()   # a model shared by threads: one taker at a time
        self.reused = 0
        try:
            import torch

            probe = [torch.empty(1)]
            for buf in probe:
                self._baseline = self._counts(buf)
        except (AttributeError, RuntimeError):  # pragma: no cover - private API gone
            self._baseline = None

    @staticmethod
    def _counts(buf):
        import sys

        return sys.getrefcount(buf), _storage_use_count(buf)

    @property
    def tracks_references(self) -> bool:
        """Whether this torch exposes the storage counter the pool's checks rely on."""
        return self._baseline is not None

    def holds(self, buf) -> bool:
        """Whether ``buf`` is one of the pool's buffers (which hold one reference to it)."""
        with self._lock:
            return any(b is buf for b in self._bufs)

    def take(self, like):
        """A contiguous tensor shaped like ``like``, free to overwrite."""
        import torch

        with self._lock:
            return self._take(like, torch)

    def _take(self, like, torch):
        if self._baseline is not None:
            for buf in self._bufs:
                if (buf.shape == like.shape and buf.dtype == like.dtype
                        and buf.device == like.device and self._counts(buf) == self._baseline):
                    self.reused += 1
                    return buf
        buf = torch.empty(like.shape, dtype=like.dtype, device=like.device)
        small = self.max_bytes is None or buf.numel() * buf.element_size() <= self.max_bytes
        if self._baseline is not None and len(self._bufs) < self.size and small:
            self._bufs.append(buf)
        return buf


# ---------------------------------------------------------------------- kernels
_COMPILED: dict = {}
_NUMBA: dict = {}


def _unfused(terms):
    c0, y0 = terms[0]
    out = y0.mul(c0)
    for c, y in terms[1:]:
        out.add_(y, alpha=c)
    return out


def _compiled_source(k: int) -> str:
    """Source of ``y0 * coef[0] + ... + y_{k-1} * coef[k-1]`` for ``torch.compile``."""
    args = ", ".join(f"y{j}" for j in range(k))
    body = " + ".join(f"y{j} * coef[{j}]" for j in range(k))
    return f"def sum_{k}(coef, {args}):\n    return {body}\n"


def _compiled_kernel(k: int):
    """The compiled pass for k terms: one function (one code object) per k, compiled with
    dynamic shapes, so that dynamo's per-code-object cache holds a dtype or two, not one
    entry per (k, dtype, shape) (past its limit of 8 it would run eagerly, unfused)."""
    fn = _COMPILED.get(k)
    if fn is None:
        import torch

        namespace: dict = {}
        exec(compile(_compiled_source(k), f"<sum_{k}>", "exec"), namespace)
        fn = torch.compile(namespace[f"sum_{k}"], dynamic=True, fullgraph=True)
        _COMPILED[k] = fn
    return fn


_COMPILE_FAILED: set = set()   # (terms, dtype) whose torch.compile failed: unfused from then on
_COMPILE_WORKED: set = set()


def _cuda(terms):
    """The compiled pass. torch.compile compiles on the first call and needs Triton and a C
    compiler there; where that first call fails, the combination (and every later one
    with as many terms and this dtype) runs unfused, with a RuntimeWarning, instead of
    failing the solve. A failure after a success is an error and is raised."""
    import torch

    k = len(terms)
    ys = [y for _, y in terms]
    key = (k, ys[0].dtype)
    if key in _COMPILE_FAILED:
        return _unfused(terms)
    fn = _compiled_kernel(k)
    coef = torch.tensor([c for c, _ in terms], dtype=ys[0].dtype).to(ys[0].device,
                                                                       non_blocking=True)
    try:
        out = fn(coef, *ys)
    except Exception as err:   # noqa: BLE001 - any compiler failure, reported below
        if key in _COMPILE_WORKED:
            raise
        import warnings

        _COMPILE_FAILED.add(key)
        warnings.warn(f"fused_elementwise: torch.compile failed for {k} terms of {ys[0].dtype} "
                      f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
                      f"these combinations run unfused", RuntimeWarning, stacklevel=2)
        return _unfused(terms)
    _COMPILE_WORKED.add(key)
    return out


_PARALLEL_MIN = 1 << 21   # elements below which the kernels run on one thread. Measured on the
                          # 2-core machine, a 20-step 2M replay (SolvePlan) of n x 2 float32:
                          # n = 1e5 serial 4.81 ms, two threads 4.94; 5e5, 21.8 and 21.6;
                          # 2e6, 91.8 and 91.4: the passes are bandwidth-bound there, so
                          # threads only pay off where one core cannot saturate memory
_ALIGN = 16               # block boundaries fall on multiples of this many elements


def static_blocks_source(n: str, body: list[str], indent: str = "    ") -> list[str]:
    """Numba source lines running ``body`` (which uses ``i``) for ``i`` in ``range(n)``,
    split into one contiguous block per Numba thread under ``prange``.

    One block per thread, not many small chunks: each core streams one contiguous
    range of every array. Measured alone on 2 cores, a 4-term pass over 2e5
    float32 elements took 96 us in two blocks, 117 us in chunks of 2^14 and
    135 us on one thread; inside a whole solve neither split beat one thread
    (see :data:`_PARALLEL_MIN`).
    """
    pad = indent + "        "
    align = f"+ {_ALIGN - 1}) // {_ALIGN} * {_ALIGN}"
    return [f"{indent}n_blocks = get_num_threads()",
            f"{indent}block = (({n} + n_blocks - 1) // n_blocks {align}",
            f"{indent}for b in prange(n_blocks):",
            f"{indent}    for i in range(b * block, min({n}, (b + 1) * block)):"] + \
        [pad + line for line in body]


def _kernel_namespace() -> dict:
    import numba

    return {"prange": numba.prange, "get_num_threads": numba.get_num_threads}


def cpu_threads(n_elements: int) -> int:
    """Threads for a CPU kernel over ``n_elements``: torch's intra-op thread count (so
    that ``torch.set_num_threads`` governs these kernels as it governs torch's own),
    capped by Numba's pool, and 1 below :data:`_PARALLEL_MIN` elements."""
    if n_elements < _PARALLEL_MIN:
        return 1
    import numba
    import torch

    return max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))


def run_cpu_kernel(kernel, n_elements: int, *args):
    """``kernel(False)(*args)`` (the serial kernel), or ``kernel(True)(*args)`` on
    :func:`cpu_threads` threads."""
    threads = cpu_threads(n_elements)
    if threads == 1:
        return kernel(False)(*args)
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return kernel(True)(*args)
    finally:
        numba.set_num_threads(before)


def _lincomb_source(k: int, parallel: bool = False, inplace: int | None = None) -> str:
    """Source of ``out[i] = c0 y0[i] + ... + c_{k-1} y_{k-1}[i]`` unrolled over the k terms
    (``parallel``: one contiguous block per thread, :func:`static_blocks_source`;
    ``inplace = j``: term j is ``out`` itself, read before it is overwritten).

    An in-place pass is generated with ``out[i]`` in the sum rather than handed
    ``out`` twice: with two names for one array LLVM falls back to its scalar
    loop (3.6x slower at 2e4 float32 elements, measured), with one it
    vectorises, and it saves the write-allocate traffic of a separate output
    (94 against 133 us at 2e5 elements).
    """
    names = ["out" if j == inplace else f"y{j}" for j in range(k)]
    args = ", ".join(name for name in names if name != "out")
    body = " + ".join(f"c{j} * {name}[i]" for j, name in enumerate(names))
    suffix = "" if inplace is None else f"_into_{inplace}"
    lines = [f"def lincomb_{k}{suffix}(coef, out, {args}):"]
    lines += [f"    c{j} = coef[{j}]" for j in range(k)]
    if parallel:
        lines += ["    n = out.size"] + static_blocks_source("n", [f"out[i] = {body}"])
    else:
        lines += ["    for i in range(out.size):", f"        out[i] = {body}"]
    return "\n".join(lines) + "\n"


def _numba_kernel(k: int, parallel: bool = False, inplace: int | None = None):
    """The Numba pass for k terms (unrolled, so that the loop vectorises), compiled once."""
    key = (k, parallel, inplace)
    fn = _NUMBA.get(key)
    if fn is None:
        import numba

        namespace = _kernel_namespace()
        source = _lincomb_source(k, parallel, inplace)
        name = source[4:source.index("(")]
        exec(compile(source, f"<{name}>", "exec"), namespace)
        fn = numba.njit(nogil=True, parallel=parallel)(namespace[name])
        _NUMBA[key] = fn
    return fn


def _cpu(terms, pool=None, into=None):
    import numpy as np
    import torch

    ys = [y.contiguous() for _, y in terms]
    views = [y.numpy().reshape(-1) for y in ys]
    coef = np.array([c for c, _ in terms], dtype=views[0].dtype)
    k = len(views)
    inplace = None
    if into is not None:
        inplace = next((j for j, y in enumerate(ys) if y is into), None)
    if inplace is None:
        out = torch.empty_like(ys[0]) if pool is None else pool.take(ys[0])
        out_view = out.numpy().reshape(-1)
    else:
        out = into
        out_view = views.pop(inplace)
    n = out.numel()
    run_cpu_kernel(lambda parallel: _numba_kernel(k, parallel, inplace), n, coef, out_view,
                   *views)
    return out


def evaluate(terms, pool=None, into=None):
    """One pass :math:`\\sum_k c_k y_k` for torch tensors ``terms = [(c, y), ...]``
    (on CPU into a free buffer of ``pool`` when one is given, or into ``into``, one
    of the terms' tensors, which the caller no longer needs; elsewhere ``into`` is
    ignored)."""
    out = _evaluate(terms, pool, into)
    tracer = getattr(_STATE, "tracer", None)
    if tracer is not None:
        tracer.on_evaluate(terms, out)
    return out


def _evaluate(terms, pool, into=None):
    if len(terms) == 1:
        return terms[0][1].mul(terms[0][0])
    y0 = terms[0][1]
    if y0.requires_grad or any(y.dtype != y0.dtype or y.shape != y0.shape for _, y in terms):
        return _unfused(terms)
    if y0.device.type == "cuda":
        return _cuda(terms)
    if y0.device.type == "cpu":
        try:
            return _cpu(terms, pool, into)
        except ImportError:  # pragma: no cover - numba is an extra
            return _unfused(terms)
    return _unfused(terms)

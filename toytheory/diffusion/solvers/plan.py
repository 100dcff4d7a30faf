r"""Traced solves: record a deterministic torch solve once, replay it with little Python.

In fused mode (:func:`~._fused.fused_elementwise`) a deterministic solver does
two kinds of work on tensors: model calls :math:`y = f(x, t)` and one-pass
linear combinations :math:`z = \sum_k c_k y_k`. The times and the
coefficients come from the grid and the options alone, never from the data,
so the sequence of operations is the same for every batch.
:class:`SolvePlan` runs the solver once on a one-row probe, with a tracing
model, and records that sequence::

    model(slot 0, t_0) -> slot 1
    comb((c_0, c_1), (slot 0, slot 1)) -> slot 2
    ...

A call of the plan replays it on a real batch: the same model calls at the
same times, the same kernels with the same coefficient vectors in the same
order, so the result equals the fused solve bit for bit. What the replay saves
is the solver's own Python (history lists, the coefficient arithmetic of every
step, the bookkeeping of lazy combinations) and memory traffic:

* a state that no later operation reads is overwritten in place by the
  combination that reads it last (x_{i+1} goes into x_{i-1}'s buffer in a
  multistep solver), through a kernel that names it once so that it still
  vectorises; only a buffer the plan made and nobody else holds is reused (a
  model may keep the tensors it was called with: its reference keeps them
  intact);
* on the CPU the other combinations are written into a
  :class:`~._fused.BufferPool` that lives with the plan (one per thread), so a
  solve of the same shape reuses the previous solve's buffers once nothing
  else holds them.

Measured on the 2-core machine (benchmarks/bench_diffusion_solvers.py, 20
steps of DPM-Solver++(2M) on 10^5 x 2 float32, two torch threads, medians):
the fused solve 5.85 ms, its replay 3.90 ms, the model calls alone 0.66 ms.

Only solvers whose operations are fixed by the grid can be planned: the ones
in :data:`PLANNABLE`. A solver that draws noise (DDIM with ``eta > 0``, the SDE
solvers, churn) is refused while tracing: a draw is not a recorded operation.

References: the solvers themselves (see :mod:`toytheory.diffusion.solvers`);
this is a replay of their fused torch path, not a different method.
"""

from __future__ import annotations

import sys
import threading

from . import _fused
from ._base import PREDICTIONS, _all_finite_torch, _check_torch_output, _is_torch
from .grids import TimeGrid

__all__ = ["SolvePlan", "PLANNABLE"]

#: Names of the samplers whose operations depend on the grid and options only.
PLANNABLE = ("sample_ddim", "sample_dpm_solver", "sample_dpm_solver_singlestep",
             "sample_dpmpp_2s", "sample_dpm_solver_multistep", "sample_dpmpp_2m",
             "sample_dpmpp_3m", "sample_unipc", "sample_deis", "sample_euler", "sample_heun",
             "sample_plms", "sample_hb", "sample_ghvb", "sample_dpmpp_2m_hb", "sample_dc_solver")

_MODEL, _COMB = 0, 1
_POOLED_BYTES = 16 << 20    # CPU buffers kept between solves: at most 8 of 16 MiB


def _plannable_solvers() -> dict:
    from .. import solvers

    return {getattr(solvers, name): name for name in PLANNABLE}


def _slot_counts(slots: list, i: int):
    """The reference count of ``slots[i]`` and its storage's use count, as seen here."""
    tensor = slots[i]
    return sys.getrefcount(tensor), _fused._storage_use_count(tensor)


_SOLE: list = []


def _sole_counts(in_pool: bool):
    """What :func:`_slot_counts` returns for a tensor held by the slot list alone (plus
    one reference when a :class:`~._fused.BufferPool` keeps it), calibrated once through
    the same function."""
    if not _SOLE:
        import torch

        _SOLE.append(_slot_counts([torch.empty(1)], 0))
    refs, storage = _SOLE[0]
    return refs + int(in_pool), storage


class _Untraceable(Exception):
    pass


class _Tracer:
    """Labels every tensor the solve produces through a recorded operation."""

    def __init__(self):
        self.slots: dict = {}   # id(tensor) -> slot
        self.keep: list = []    # the traced tensors, alive so that ids are not reused
        self.ops: list = []

    def label(self, tensor) -> int:
        slot = len(self.keep)
        self.keep.append(tensor)
        self.slots[id(tensor)] = slot
        return slot

    def slot_of(self, tensor, role: str) -> int:
        slot = self.slots.get(id(tensor))
        if slot is None or self.keep[slot] is not tensor:
            raise _Untraceable(f"a {role} that no recorded operation produced (a noise draw "
                               f"or an operation outside the solver's linear combinations)")
        return slot

    def on_evaluate(self, terms, out) -> None:
        ins = tuple(self.slot_of(y, "combination term") for _, y in terms)
        self.ops.append((_COMB, tuple(float(c) for c, _ in terms), ins, self.label(out)))


class _TracingModel:
    def __init__(self, tracer: _Tracer, prediction: str):
        self.tracer = tracer
        self.prediction = prediction

    def __call__(self, x, t):
        slot = self.tracer.slot_of(x, "model input")
        out = x.new_zeros(x.shape)
        self.tracer.ops.append((_MODEL, slot, t, self.tracer.label(out)))
        return out


class SolvePlan:
    """A deterministic torch solve, recorded once and replayed on any batch.

    Parameters
    ----------
    solver : callable
        One of the samplers named in :data:`PLANNABLE` (e.g.
        :func:`~toytheory.diffusion.solvers.sample_dpmpp_2m`).
    grid : TimeGrid
    prediction : {"x0", "eps", "v", "score"}
        What the models given to the plan return.
    **options
        The solver's options (``order``, ``lower_order_final``, ...); not
        ``callback`` (a replay has no steps to report) nor ``generator``.

    Attributes
    ----------
    nfe : int
        Model calls per solve.
    n_combinations : int
        One-pass linear combinations per solve.

    Raises
    ------
    ValueError
        A solver outside :data:`PLANNABLE`; a ``callback`` or ``generator``
        option; options under which the solver draws noise; or whatever the
        solver itself refuses (too few steps for the order, ...).

    Examples
    --------
    >>> plan = SolvePlan(sample_dpmpp_2m, grid, prediction="eps")   # doctest: +SKIP
    >>> x0 = plan(model, x_T)            # equal to the fused solve, bit for bit  # doctest: +SKIP
    """

    def __init__(self, solver, grid, *, prediction: str, **options):
        import torch

        name = _plannable_solvers().get(solver)
        if name is None:
            raise ValueError(f"solver: must be one of the samplers {PLANNABLE} (their operations "
                             f"are fixed by the grid; got {getattr(solver, '__name__', solver)!r})")
        if not isinstance(grid, TimeGrid):
            raise ValueError(f"grid: must be a TimeGrid (got {type(grid).__name__})")
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction: must be one of {PREDICTIONS} (got {prediction!r})")
        for key in ("callback", "generator", "noise"):
            if options.get(key) is not None:
                raise ValueError(f"{key}: a SolvePlan replays a deterministic solve without "
                                 f"{key}s; call the solver directly")
        self.solver_name = name
        self.grid = grid
        self.prediction = prediction
        self.options = dict(options)
        tracer = _Tracer()
        probe = torch.zeros((1, 1), dtype=torch.float64)
        x_slot = tracer.label(probe)
        try:
            with _fused.tracing(tracer), _fused.fused_elementwise():
                result = solver(_TracingModel(tracer, prediction), probe, grid,
                                prediction=prediction, **options)
            result_slot = tracer.slot_of(result, "result")
        except _Untraceable as err:
            raise ValueError(f"options: under {options!r} {name} uses {err}; it cannot be "
                             f"planned") from None
        self._x_slot = x_slot
        self._result_slot = result_slot
        self._n_slots = len(tracer.keep)
        self._program = self._compile(tracer.ops, result_slot)
        self.nfe = sum(op[0] == _MODEL for op in tracer.ops)
        self.n_combinations = sum(op[0] == _COMB for op in tracer.ops)
        self._local = threading.local()

    @staticmethod
    def _compile(ops, result_slot):
        """Each op with the slots that no later op reads (released after it) and, for a
        combination, the input slot it may overwrite: one of the plan's own
        combination outputs that no later op reads (``None`` when there is none)."""
        last_use: dict = {}
        for k, op in enumerate(ops):
            for slot in ((op[1],) if op[0] == _MODEL else op[2]):
                last_use[slot] = k
        dead: list = [[] for _ in ops]
        for slot, k in last_use.items():
            if slot != result_slot:
                dead[k].append(slot)
        own = {op[3] for op in ops if op[0] == _COMB}
        program = []
        for k, op in enumerate(ops):
            into = None
            if op[0] == _COMB:
                into = next((s for s in op[2] if s in own and s != result_slot
                             and last_use[s] == k and op[2].count(s) == 1), None)
            program.append((op, tuple(dead[k]), into))
        return program

    def _pool(self):
        pool = getattr(self._local, "pool", None)   # one per thread: a plan shared by threads
        if pool is None:
            pool = self._local.pool = _fused.BufferPool(size=8, max_bytes=_POOLED_BYTES)
        return pool

    def __call__(self, model, x_T):
        """Replay the solve: ``model(x, t)`` returns the plan's ``prediction``.

        Parameters
        ----------
        model : callable
            Where it has a ``prediction`` attribute, it must be the plan's.
        x_T : (n, d) torch tensor, float32 or float64, finite

        Returns
        -------
        (n, d) tensor
            Equal bit for bit to ``solver(model, x_T, grid, prediction=...,
            **options)`` run under :func:`~._fused.fused_elementwise`.
        """
        from ._base import _check_x

        if not callable(model):
            raise ValueError(f"model: must be callable as model(x, t) (got {type(model).__name__})")
        declared = getattr(model, "prediction", None)
        if declared is not None and declared != self.prediction:
            raise ValueError(f"model: returns {declared!r} predictions, but the plan was "
                             f"recorded for {self.prediction!r}")
        if not _is_torch(x_T):
            raise ValueError("x_T: a SolvePlan replays torch tensors (got "
                             f"{type(x_T).__name__}); call the solver directly for numpy")
        x_T = _check_x(x_T)
        pool = self._pool() if x_T.device.type == "cpu" else None
        evaluate = _fused.evaluate
        slots: list = [None] * self._n_slots
        slots[self._x_slot] = x_T
        for op, dead, into in self._program:
            if op[0] == _MODEL:   # (no local name for the input: it would count as a holder)
                slots[op[3]] = _check_torch_output(model(slots[op[1]], op[2]), slots[op[1]])
            else:
                # overwrite a dead input only when the plan holds it alone (a model may have
                # kept the tensor it was called with)
                target = slots[into] if (into is not None and pool is not None
                                         and pool.tracks_references
                                         and _slot_counts(slots, into)
                                         == _sole_counts(pool.holds(slots[into]))) else None
                slots[op[3]] = evaluate(list(zip(op[1], [slots[s] for s in op[2]])), pool,
                                        target)
                target = None
            for s in dead:
                slots[s] = None
        result = slots[self._result_slot]
        if not _all_finite_torch(result):
            raise ValueError("model: the solve produced non-finite values (a model output "
                             "or a step overflowed)")
        return result

    def __repr__(self) -> str:
        return (f"SolvePlan({self.solver_name}, {self.grid.n_steps} steps, "
                f"prediction={self.prediction!r}, nfe={self.nfe}, "
                f"combinations={self.n_combinations})")

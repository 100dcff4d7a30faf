"""Probability-flow simulations of model fields, with snapshots of the marginals.

A thin driver around :func:`sims.diffusion_torch.pf_ode_rk4` (the simulator of
Diffusion I, which integrates any score callable from its definition): start
from exact samples of :math:`p_T`, integrate the flow of a field, and keep the
points at chosen grid times. It calls no exact density or CDF.

Small problems (a few thousand points in d <= 5) run faster on one torch
thread, and much faster on a shared, oversubscribed machine; the thread
count is restored afterwards.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from .diffusion_torch import pf_ode_rk4

__all__ = ["torch_threads", "pf_ode_snapshots"]


@contextmanager
def torch_threads(n: int | None):
    """Run the block with ``torch.set_num_threads(n)`` (None: leave as is)."""
    import torch

    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def pf_ode_snapshots(score_fn, schedule, x_start, t_grid, keep_times, *, device="cpu",
                     threads: int | None = 1) -> dict:
    """Integrate the probability-flow ODE of ``score_fn`` and return the points at ``keep_times``.

    Parameters
    ----------
    score_fn : callable
        ``score_fn(x_tensor, t_float) -> tensor``.
    schedule : NoiseSchedule
    x_start : (n, d) numpy array
        Points at ``t_grid[0]``.
    t_grid : (m,) array
        Monotone time grid.
    keep_times : sequence of float
        Grid times (after the first) at which to keep the points.
    device : str
    threads : int or None
        Torch intra-op threads during the run.

    Returns
    -------
    dict
        ``{t: (n, d) numpy array}`` for every t in ``keep_times``.
    """
    import torch

    grid = np.asarray(t_grid, dtype=float)
    wanted = {}
    for t in keep_times:
        hits = np.flatnonzero(np.isclose(grid[1:], t, rtol=0.0, atol=1e-12))
        if hits.size != 1:
            raise ValueError(f"keep_times: {t} is not a time of t_grid (after its first)")
        wanted[int(hits[0])] = float(grid[1 + hits[0]])
    out = {}

    def callback(i, t, x):
        if i in wanted:
            out[wanted[i]] = x.detach().cpu().numpy().copy()

    with torch_threads(threads):
        x = torch.as_tensor(np.ascontiguousarray(x_start), dtype=torch.float64, device=device)
        pf_ode_rk4(score_fn, schedule, x, grid, callback=callback)
    return out

"""FKC weighted SDE (Feynman–Kac correctors, product of experts): numpy and torch particles.

Contenders (same path, same step count, one process, ``benchmarks/_timing.py``):

- ``plain numpy``: :func:`benchmarks.workloads.plain_numpy_fkc`, the weight rate
  :func:`toytheory.diffusion.fkc.fkc_log_weight_rate` evaluated at every particle each step;
- ``fkc_simulate``: :func:`toytheory.diffusion.fkc.fkc_simulate` (numpy, the rate as one
  quadratic form per step);
- ``torch``: :func:`torch_fkc` below, the same algorithm as ``fkc_simulate`` on torch tensors
  (CPU here; CUDA when present). toytheory has no Numba or torch FKC kernel (issue 16 item 10
  asked for them): this port, in the benchmark, measures what one would gain.

Agreement before timing: every contender's self-normalised weighted mean at the end is within
0.05 standard deviations (per coordinate) of the exact target mean :math:`\\pi_0` of the
product path (at these sizes the Monte Carlo error is far below that, and 200 Euler–Maruyama
steps bias it by under 0.01).

Sizes: issue 16's 10^6 particles x 200 steps in d = 2 on the CPU (``--quick``: 2x10^4);
on CUDA 10^7 particles x 200 steps in d = 64 (``--quick``: 10^5).

Run: ``.venv/bin/python -m benchmarks.bench_diffusion_fkc [--quick] [--gpu-only]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks._timing import Contender, compare

RESULTS = Path(__file__).parent / "results" / "bench_diffusion_fkc.json"


def make_path(d: int, seed: int = 0):
    """The product-of-experts path of two Gaussians in ``d`` dimensions (VPLinear); d = 2
    is the claims' 2-D case."""
    from toytheory.diffusion.fkc import product_path
    from toytheory.diffusion.schedules import VPLinear

    if d == 2:
        return product_path(VPLinear(), mean1=[1.0, 0.0], cov1=[[1.0, 0.0], [0.0, 0.5]],
                            mean2=[0.0, 1.0], cov2=[[0.6, 0.2], [0.2, 0.8]])
    rng = np.random.default_rng(seed)
    covs = []
    for _ in range(2):
        a = rng.standard_normal((d, d)) / np.sqrt(d)
        covs.append(a @ a.T * 0.5 + 0.5 * np.eye(d))
    return product_path(VPLinear(), mean1=rng.standard_normal(d), cov1=covs[0],
                        mean2=rng.standard_normal(d), cov2=covs[1])


def torch_fkc(path, n_particles: int, n_steps: int, seed: int, device="cpu",
              dtype=None, ess_fraction: float = 0.5):
    """:func:`toytheory.diffusion.fkc.fkc_simulate` (one system, ``t_end = 0``) in torch.

    The per-step coefficients (weight-rate quadratic form, drift, diffusion) are the numpy
    ones from :mod:`toytheory.diffusion.fkc`; the particles, weights and systematic
    resampling are torch tensors on ``device``. Returns ``(x, log_w)`` as torch tensors.
    """
    import torch

    from toytheory.diffusion.fkc import _grid, _quadratic_coefficients

    dtype = dtype or torch.float64
    gen = torch.Generator(device=device).manual_seed(seed)
    d = path.dim

    def t(a):
        return torch.as_tensor(np.asarray(a, float), dtype=dtype, device=device)

    m0, c0 = path.target(path.t_max)
    x = t(m0) + torch.randn(n_particles, d, generator=gen, device=device,
                            dtype=dtype) @ t(np.linalg.cholesky(c0)).T
    log_w = torch.zeros(n_particles, dtype=dtype, device=device)
    grid = _grid(path, 0.0, n_steps)
    offsets = torch.arange(n_particles, dtype=dtype, device=device)
    for t0, t1 in zip(grid[:-1], grid[1:]):
        h = float(t0 - t1)
        Q, q, c = _quadratic_coefficients(path, t0, None)
        log_w += h * (((x @ t(Q)) * x).sum(dim=1) + x @ t(q) + float(c))
        A, a = path.reverse_drift_affine(t0)
        g = np.sqrt(float(path.schedule.diffusion_sq(t0)))
        noise = torch.randn(x.shape, generator=gen, device=device, dtype=dtype)
        x = x + (x @ t(A).T + t(a)) * h + (g * np.sqrt(h)) * noise
        w = torch.exp(log_w - log_w.max())
        ess = w.sum() ** 2 / (w * w).sum()
        if float(ess) < ess_fraction * n_particles:
            cum = torch.cumsum(w / w.sum(), 0)
            cum[-1] = 1.0
            u = (torch.rand(1, generator=gen, device=device, dtype=dtype) + offsets) / n_particles
            idx = torch.searchsorted(cum, u, right=True).clamp_(0, n_particles - 1)
            x = x[idx]
            log_w.zero_()
    return x, log_w


def weighted_mean_error(path, x, log_w) -> float:
    """max over coordinates of |weighted mean - exact target mean| / target sd."""
    x, lw = np.asarray(x, float).reshape(-1, path.dim), np.asarray(log_w, float).ravel()
    w = np.exp(lw - lw.max())
    mean = (w[:, None] * x).sum(0) / w.sum()
    m, c = path.target(0.0)
    return float(np.max(np.abs(mean - m) / np.sqrt(np.diag(c))))


def bench_cpu(n, steps, repeat):
    import torch

    from benchmarks.workloads import plain_numpy_fkc
    from toytheory.diffusion.fkc import fkc_simulate

    path = make_path(2)
    runs = {
        "plain numpy (rate at every particle)":
            lambda: plain_numpy_fkc(path, n, steps, np.random.default_rng(1)),
        "fkc_simulate (numpy)":
            lambda: fkc_simulate(path, n, steps, np.random.default_rng(1)),
        f"torch CPU ({torch.get_num_threads()} threads)":
            lambda: torch_fkc(path, n, steps, 1),
    }
    for name, fn in runs.items():
        x, lw = fn()
        err = weighted_mean_error(path, x, lw)
        print(f"{name}: weighted mean vs exact target, {err:.3g} sd")
        assert err <= 0.05, f"{name}: weighted mean {err:.3g} sd from the target"
    table = compare(f"FKC weighted SDE, {n} particles x {steps} steps, d = 2 (CPU)",
                    [Contender(k, v) for k, v in runs.items()], repeat=repeat,
                    baseline="plain numpy (rate at every particle)", work=n * steps,
                    work_unit="particle-steps")
    table.print()
    table.save(RESULTS)


def bench_gpu(n, steps, d, repeat):
    import torch

    path = make_path(d)
    sync = torch.cuda.synchronize
    name = torch.cuda.get_device_name()
    for dtype in (torch.float32, torch.float64):
        t0 = time.perf_counter()
        x, lw = torch_fkc(path, n, steps, 1, device="cuda", dtype=dtype)
        sync()
        err = weighted_mean_error(path, x.double().cpu(), lw.double().cpu())
        print(f"CUDA {dtype}: first run {time.perf_counter() - t0:.2f} s, weighted mean vs "
              f"exact target {err:.3g} sd" + ("" if err <= 0.05 else "  <-- above 0.05"))
        del x, lw
        table = compare(f"FKC weighted SDE, {n} particles x {steps} steps, d = {d}, "
                        f"{dtype} on {name}",
                        [Contender(f"torch CUDA {dtype}",
                                   lambda dtype=dtype: torch_fkc(path, n, steps, 1, "cuda",
                                                                 dtype), sync)],
                        repeat=repeat, work=n * steps, work_unit="particle-steps")
        table.print()
        table.save(RESULTS)


def main(argv=None):
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--gpu-only", action="store_true", help="skip the CPU rows")
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args(argv)
    if not args.gpu_only:
        bench_cpu(20_000 if args.quick else 1_000_000, 200,
                  args.repeat or (2 if args.quick else 3))
    if torch.cuda.is_available():
        bench_gpu(100_000 if args.quick else 10_000_000, 200, 64, args.repeat or 3)
    else:
        print("no CUDA device: the GPU rows (10^7 particles x 200 steps, d = 64) are skipped")


if __name__ == "__main__":
    main()

"""FKC weighted reverse SDE with systematic resampling: Numba and torch vs plain numpy.

The product of two 2-D Gaussian experts on VP-linear (the path of
``diffusion.guided.fkc_naive_misses_target``), Euler–Maruyama from t = 1 to 0, FKC weights
(REFERENCE.md section 3) and systematic resampling when ESS < n/2 (issue 16, item 10).
Contenders, side by side in one process:

- ``numpy, in place`` (the baseline): :func:`numpy_fkc_smc` below, the same algorithm written
  the way a numpy user would write it fast: the same per-step coefficients as the Numba and
  torch simulators (:func:`sims.diffusion_guided_fkc.path_coefficients`), vectorised over all
  particles, preallocated buffers and ``out=`` arithmetic, numpy's ziggurat normals drawn in
  place, systematic resampling of the low-ESS systems only, one BLAS thread (its best
  setting: with OpenBLAS's default two threads it ran 5-10 times slower on the loaded
  machine, which is what inflated the 90.8 s below);
- ``numpy (toytheory fkc_simulate)``: :func:`toytheory.diffusion.fkc.fkc_simulate`, the
  library's reference implementation (allocating; weight coefficients per step from exact
  evaluations);
- ``Numba prange`` / ``Numba, 1 thread``: :func:`sims.diffusion_guided_fkc.fkc_smc_numba`
  (one jitted call for the whole run, parallel over systems, each system's particles kept in
  cache through all steps, weight and move fused per particle, ziggurat normals on
  per-system xoshiro256+ streams);
- ``torch``: :func:`sims.diffusion_guided_fkc.fkc_smc_torch` (all systems batched,
  coordinate-major buffers updated in place, weight and move as two small matrix products
  per step; CPU with one torch thread and Box–Muller normals, or CUDA with ``--device cuda``).

Before timing, each contender's weighted mean is checked against the exact target mean.

Measured 2026-12-07, machine loaded by ~8 helpers (load average 15-19 on 2 cores), 10^6
particles x 20 steps (the per-step cost of the 200-step run: same memory footprint),
3 interleaved rounds, medians: numpy in place 10.28 s, Numba prange 1.85 s (5.57x),
Numba 1 thread 1.91 s (5.38x), torch CPU 10.79 s (0.95x). Under that load the two threads
get no second core (1 thread ~ 2 threads); the ratio on an idle two-core machine is not
measured here.
Measured 2026-12-08 (contiguous-coordinate kernel), machine loaded (load average 4-5), the
full size: Numba 2.2-2.35 s against the in-place numpy peer's 15.4-15.8 s run alone in its
own process with one BLAS thread (6.6-7.2x); ``benchmarks.suite`` (peer ``fkc_simulate``)
8.38x. In this script's interleaved run the in-place numpy row took 90.8 s (median of 2),
six times its time alone: read its ratio with care on a loaded machine.
Measured 2026-12-08 03:35-03:38 UTC, machine loaded (load average 4.5-5.3), the full size,
2 interleaved rounds after a warm-up: numpy in place (1 BLAS thread) 19.2 / 16.8 s, torch
CPU 1 thread 10.3 / 7.9 s (1.87x / 2.14x), the previous torch simulator (allocating, torch's
float64 ``normal_``) 21.6 / 16.5 s (0.89x / 1.02x). What bounds torch on the CPU: the
normals. For 2x10^6 float64 normals (one step), one thread, loaded: numpy's ziggurat 27 ms;
torch's ``normal_`` 51-53 ms (a scalar loop); the Box–Muller used now 30 ms, of which 12.4
ms are torch's float64 uniforms alone (mt19937, 6.2 ns each). Per step at 10^6 particles
torch spends ~30 ms on normals and ~20 ms on the weight, move, ESS and resampling (profiled),
against the numpy peer's ~85 ms: even free arithmetic would leave torch under 3x, so issue
16's 5x is out of reach for torch on this CPU without a faster generator than torch's; two
torch threads were no faster than one on the loaded machine (10^6 x 20 steps, 4 interleaved
rounds, load average 3.5-3.8: 1.15-1.37 s against 1.11-1.17 s; idle not measured).
``benchmarks.suite`` at the full size (03:38-03:40 UTC, loaded, load average 3.8-4.8, 2
rounds): ``fkc_numba`` 7.24x [6.04, 8.71] (peer 15.2 s, Numba 2.1 s), ``fkc_torch_cpu``
1.85x [1.61, 2.07] (torch 8.15 s). Again at 04:27-04:29 UTC (load average 4-5), after
both simulators took the precomputed coefficients as the peer does (``coefficients=``):
``fkc_numba`` 9.80x [8.44, 11.21], ``fkc_torch_cpu`` 1.83x [1.78, 1.87].
Default size: 10^6 particles (7813 systems of 128) x 200 steps in d = 2. ``--quick``: 2x10^4
particles x 50 steps. ``--gpu-large``: 10^7 particles in d = 64 (torch on CUDA only, an
annealed isotropic path). Run: ``.venv/bin/python -m benchmarks.bench_diffusion_fkc [--quick]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks._timing import Contender, compare

RESULTS = Path(__file__).parent / "results" / "bench_diffusion_fkc.json"
PARTICLES = 128


def weighted_mean(x, lw):
    w = np.exp(lw - lw.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    return np.einsum("rn,rnd->d", w, x) / x.shape[0]


def numpy_fkc_smc(co, x0, seed, ess_fraction=0.5, blas_threads=1):
    """Plain numpy FKC SMC, in place: ``co`` from ``path_coefficients``, ``x0`` (R, n, d).
    Returns ``(x, log_w)``.

    ``blas_threads``: the BLAS threads of its ``(N, d) x (d, d)`` products, scoped to the call
    (threadpoolctl; ``None``: the library default). One thread is the peer's best setting:
    measured 2026-12-08 on the 2-core machine loaded (load average 5-6), 10^6 particles x 20
    steps, OpenBLAS at its default 2 threads took 9.6-22.7 s against 2.0-2.1 s with one."""
    if blas_threads is not None:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=int(blas_threads), user_api="blas"):
            return numpy_fkc_smc(co, x0, seed, ess_fraction, None)
    rng = np.random.default_rng(seed)
    x = np.array(x0, float, copy=True)
    R, n, d = x.shape
    flat = x.reshape(-1, d)
    lw = np.zeros((R, n))
    buf = np.empty_like(flat)
    z = np.empty_like(flat)
    g = np.empty(R * n)
    w = np.empty((R, n))
    rows = np.arange(R)
    for j in range(co["h"].size):
        np.matmul(flat, co["Q"][j], out=buf)           # G = x^T Q x + q.x + c (Q symmetric)
        buf += co["q"][j]
        buf *= flat
        np.sum(buf, axis=1, out=g)
        g += co["c"][j]
        g *= co["h"][j]
        lw += g.reshape(R, n)
        np.matmul(flat, co["A"][j].T, out=buf)         # x += (A x + a) h + g sqrt(h) z
        buf += co["a"][j]
        buf *= co["h"][j]
        rng.standard_normal(out=z)
        z *= co["gh"][j]
        flat += buf
        flat += z
        np.subtract(lw, lw.max(axis=1, keepdims=True), out=w)
        np.exp(w, out=w)
        s1 = w.sum(axis=1)
        s2 = np.einsum("rn,rn->r", w, w)
        low = rows[s1 * s1 < ess_fraction * n * s2]
        if low.size:
            cum = np.cumsum(w[low], axis=1)
            cum /= cum[:, -1:]
            u = (rng.random((low.size, 1)) + np.arange(n)) / n
            off = np.arange(low.size)[:, None]
            idx = np.searchsorted((cum + off).ravel(), (u + off).ravel(), side="left")
            idx = (idx.reshape(low.size, n) - off * n).clip(0, n - 1)
            x[low] = np.take_along_axis(x[low], idx[:, :, None], axis=1)
            lw[low] = 0.0
    return x, lw


def main(argv=None):
    from sims.diffusion_guided_fkc import fkc_smc_numba, fkc_smc_torch, path_coefficients
    from toytheory.diffusion import fkc
    from toytheory.diffusion.schedules import VPLinear

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2x10^4 particles x 50 steps")
    parser.add_argument("--device", default="cpu", help="torch device (cpu or cuda)")
    parser.add_argument("--particles", type=int, default=None, help="override the total")
    parser.add_argument("--steps", type=int, default=None, help="override the step count")
    parser.add_argument("--repeat", type=int, default=None, help="interleaved rounds")
    parser.add_argument("--no-library", action="store_true",
                        help="leave out the slow fkc_simulate row")
    parser.add_argument("--gpu-large", action="store_true",
                        help="10^7 particles in d = 64, torch on --device only")
    args = parser.parse_args(argv)
    sch = VPLinear()
    if args.gpu_large:
        d, total, steps = 64, 10_000_000, 200
        path = fkc.annealed_path(sch, np.full(d, 0.5), 0.3 * np.eye(d), 2.0)
    else:
        d = 2
        total, steps = (20_000, 50) if args.quick else (1_000_000, 200)
        total, steps = args.particles or total, args.steps or steps
        path = fkc.product_path(sch, [1.0, 0.0], [[1.0, 0.0], [0.0, 0.5]], [0.0, 1.0],
                                [[0.6, 0.2], [0.2, 0.8]])
    runs = -(-total // PARTICLES)
    grid = np.linspace(path.t_max, 0.0, steps + 1)
    mt, _ = path.target(0.0)
    x0 = np.random.default_rng(0)
    m0, c0 = path.target(path.t_max)
    start = m0 + x0.standard_normal((runs, PARTICLES, d)) @ np.linalg.cholesky(c0).T
    sync = None
    if args.device.startswith("cuda"):
        import torch

        sync = torch.cuda.synchronize
    import numba

    threads = numba.get_num_threads()

    def numba_one_thread():
        numba.set_num_threads(1)
        try:
            return fkc_smc_numba(path, PARTICLES, grid, 1, x0=start.copy(), coefficients=co)
        finally:
            numba.set_num_threads(threads)

    co = path_coefficients(path, grid)   # once, outside the timed calls, for every contender
    contenders = []
    if not args.gpu_large:
        contenders.append(Contender("numpy, in place, 1 BLAS thread",
                                    lambda: numpy_fkc_smc(co, start, 1)))
        if not args.no_library:
            contenders.append(Contender(
                "numpy (toytheory fkc_simulate)",
                lambda: fkc.fkc_simulate(path, PARTICLES, steps, np.random.default_rng(1),
                                         n_runs=runs)))
        contenders += [
            Contender(f"Numba prange ({threads} threads)",
                      lambda: fkc_smc_numba(path, PARTICLES, grid, 1, x0=start.copy(),
                                            coefficients=co)),
            Contender("Numba, 1 thread", numba_one_thread),
        ]
    contenders.append(Contender(f"torch ({args.device}"
                                + (", 1 thread)" if args.device == "cpu" else ")"),
                                lambda: fkc_smc_torch(path, PARTICLES, grid, 1, x0=start,
                                                      device=args.device, coefficients=co),
                                sync=sync))
    for c in contenders:
        x, lw = c.run()
        err = np.abs(weighted_mean(np.asarray(x), np.asarray(lw)) - mt).max()
        print(f"{c.name:34s} weighted mean vs exact target: max abs error {err:.2e}")
    table = compare(f"FKC weighted SDE, d={d}, {runs * PARTICLES} particles x {steps} steps",
                    contenders, repeat=args.repeat or (2 if args.quick else 3),
                    baseline=contenders[0].name,
                    work=runs * PARTICLES * steps, work_unit="particle-steps")
    table.print()
    table.save(RESULTS)


if __name__ == "__main__":
    main()

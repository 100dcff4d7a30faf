"""PFGM++ exact field on point data: torch (chunked) against a plain numpy loop.

The field's x-part on the empirical law of m data points needs, for every query x, the
kernel posterior :math:`w_i \\propto (\\|x - y_i\\|^2 + r^2)^{-(N+D)/2}` and
:math:`E[y \\mid x] = \\sum_i w_i y_i` (``toytheory.diffusion.pfgmpp``). Contenders, same
points, one process (``benchmarks/_timing.py``):

- ``numpy loop over data``: :func:`point_posterior_mean_loop` (a running log-sum-exp, one
  pass per data point: what one writes without thinking about the matrix product);
- ``numpy matrix``: :func:`point_posterior_mean` (distances by one matrix product);
- ``torch chunked``: :func:`point_posterior_mean_torch` (CPU; CUDA when present).

Issue 18's size: 10^6 queries against 10^4 data points, N = 16, D = 128 (goal: torch >= 10x
the loop). The loop at that size takes ~10^4 passes over 10^6 x 16 arrays (tens of minutes),
so the CPU table runs 20,000 queries against the full 10^4 points (the cost is linear in the
queries: queries/s carries over), and torch alone is then timed at 10^6 queries (and on CUDA
when present). ``--quick``: 2,000 queries, 500 data points.

Run: ``.venv/bin/python -m benchmarks.bench_diffusion_pfgm_field [--quick] [--threads T]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks._timing import Contender, compare

RESULTS = Path(__file__).parent / "results" / "bench_diffusion_pfgm_field.json"


def bench(n_query, n_data, dim=16, D=128, r=4.0, repeat=3, device="cpu", loop=True):
    import torch

    from toytheory.diffusion.pfgmpp import (point_posterior_mean, point_posterior_mean_loop,
                                            point_posterior_mean_torch)

    rng = np.random.default_rng(0)
    data = rng.standard_normal((n_data, dim))
    x = data[rng.integers(n_data, size=n_query)] + r / np.sqrt(D) * rng.standard_normal(
        (n_query, dim))
    xt = torch.as_tensor(x, device=device)
    yt = torch.as_tensor(data, device=device)
    sync = torch.cuda.synchronize if device == "cuda" else None
    # agreement before timing
    k = min(n_query, 500)
    ref = point_posterior_mean_loop(x[:k], data, r, D)
    assert np.abs(point_posterior_mean(x[:k], data, r, D) - ref).max() < 1e-9
    got = point_posterior_mean_torch(xt[:k], yt, r, D).cpu().numpy()
    assert np.abs(got - ref).max() < 1e-9
    contenders = []
    if loop:
        contenders.append(Contender("numpy loop over data",
                                    lambda: point_posterior_mean_loop(x, data, r, D)))
    contenders += [
        Contender("numpy matrix", lambda: point_posterior_mean(x, data, r, D)),
        Contender(f"torch chunked ({device})",
                  lambda: point_posterior_mean_torch(xt, yt, r, D, chunk=16384), sync),
    ]
    base = "numpy loop over data" if loop else "numpy matrix"
    table = compare(f"PFGM++ field, {n_query} queries, {n_data} points, N={dim}, D={D}",
                    contenders, repeat=repeat, baseline=base, work=n_query,
                    work_unit="queries")
    table.print()
    table.save(RESULTS)
    return table


def main(argv=None):
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's own choice; on a "
                             "shared, loaded machine 1 avoids the thread pool's contention)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}")
    if args.quick:
        bench(2_000, 500, repeat=2)
    else:
        table = bench(20_000, 10_000, repeat=3)
        loop_rate = next(r.throughput for r in table.rows if r.name.startswith("numpy loop"))
        big = bench(1_000_000, 10_000, repeat=1, loop=False)
        rate = next(r.throughput for r in big.rows if r.name.startswith("torch"))
        print(f"   torch at 10^6 queries: {rate:.4g} queries/s = {rate / loop_rate:.1f}x the "
              "loop's rate at 20,000 queries")
    if torch.cuda.is_available():
        bench(20_000 if args.quick else 1_000_000, 500 if args.quick else 10_000,
              device="cuda", loop=args.quick)


if __name__ == "__main__":
    main()

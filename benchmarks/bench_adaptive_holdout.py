"""Benchmark: the reusable-holdout experiment, numpy reference against the torch/Numba simulator.

The full-size experiment of Dwork et al. (Science 2015): n = 10,000 points in each of 3 splits,
d = 10,000 features, 13 values of k, 100 repetitions (Thresholdout and the standard holdout on
the same data). Contenders:

- ``numpy reference``: :func:`toytheory.adaptive.holdout_experiment.reusable_holdout_experiment`,
  straight from the definition (float64, training and holdout matrices materialised, fresh set
  streamed). Too slow to run 100 times here, so it runs ``--numpy-reps`` repetitions and its
  time is scaled to ``--reps`` (marked "extrapolated").
- ``simulator, projection``: ``sims.adaptive_holdout.simulate_reusable_holdout`` (torch draws
  the correlations and only the selected columns, exact in law; Numba runs Thresholdout),
  ``--reps`` repetitions.
- ``simulator, direct`` (with ``--direct``): the same simulator drawing the full matrices.
- the same on CUDA when a device is present.

Usage::

    .venv/bin/python -m benchmarks.bench_adaptive_holdout --quick
    .venv/bin/python -m benchmarks.bench_adaptive_holdout --reps 100 --numpy-reps 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks._timing import Row, Table


def _seconds(fn, sync=None) -> float:
    start = time.perf_counter()
    fn()
    if sync:
        sync()
    return time.perf_counter() - start


def main(argv=None) -> Table:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (n = d = 300, 5 reps)")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--d", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--numpy-reps", type=int, default=2)
    parser.add_argument("--direct", action="store_true", help="also time the direct simulator")
    parser.add_argument("--no-numpy", action="store_true", help="skip the numpy reference")
    parser.add_argument("--gpu-only", action="store_true",
                        help="only the CUDA rows (no numpy reference, no CPU simulator)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"
                                             / "bench_adaptive_holdout.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.d, args.reps, args.numpy_reps = 300, 300, 5, 5

    import torch

    from sims.adaptive_holdout import simulate_reusable_holdout
    from toytheory.adaptive.holdout_experiment import reusable_holdout_experiment

    n, d, reps = args.n, args.d, args.reps
    # warm up: import, Numba compilation (cached), torch kernels
    simulate_reusable_holdout(100, 100, reps=2, seed=0)
    reusable_holdout_experiment(50, 50, reps=1, rng=0)

    results = []  # (name, seconds for `reps` repetitions, note)
    if not (args.no_numpy or args.gpu_only):
        r = min(args.numpy_reps, reps)
        t = _seconds(lambda: reusable_holdout_experiment(n, d, reps=r, rng=1))
        note = "" if r == reps else f" (extrapolated from {r})"
        results.append((f"numpy reference{note}", t * reps / r))
    if not args.gpu_only:
        results.append(("simulator, projection (torch CPU + Numba)",
                        _seconds(lambda: simulate_reusable_holdout(n, d, reps=reps, seed=2))))
    if args.direct and not args.gpu_only:
        results.append(("simulator, direct (torch CPU + Numba)",
                        _seconds(lambda: simulate_reusable_holdout(n, d, reps=reps, seed=3,
                                                                   method="direct"))))
    if torch.cuda.is_available():
        sync = torch.cuda.synchronize
        simulate_reusable_holdout(100, 100, reps=2, seed=0, device="cuda")
        for method in ("projection", "direct"):
            results.append((f"simulator, {method} (CUDA + Numba)",
                            _seconds(lambda m=method: simulate_reusable_holdout(
                                n, d, reps=reps, seed=4, device="cuda", method=m), sync)))

    if not results:
        print("no CUDA device: nothing to time with --gpu-only")
        return None
    table = Table(f"reusable-holdout experiment, n = {n} x 3 splits, d = {d}, 13 k, "
                  f"{reps} repetitions", results[0][0], "repetitions")
    base = results[0][1]
    for name, seconds in results:
        table.rows.append(Row(name, seconds, seconds, 1, base / seconds, reps / seconds))
    table.print()
    table.save(args.out)
    return table


if __name__ == "__main__":
    main()

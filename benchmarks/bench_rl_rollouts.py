"""Numba rollouts of Linearq(u = 100) against plain numpy (and torch, on CUDA where present).

Usage::

    .venv/bin/python -m benchmarks.bench_rl_rollouts            # 10^6 episodes
    .venv/bin/python -m benchmarks.bench_rl_rollouts --quick    # 10^4 episodes (a smoke test)
    .venv/bin/python -m benchmarks.bench_rl_rollouts --loop-episodes 100000

The policy is eps-greedy around the optimal threshold policy (eps = 0.1), so an
episode lasts about 20 steps before a random action sends it to the absorbing
state (the kernels stop there; the vectorized baselines drop finished episodes).
Contenders:

- Numba: :func:`sims.rl_rollouts.linearq_returns` (parallel over chunks of 4096
  episodes, one SplitMix64 stream per chunk, one 64-bit word per segment: the run
  of likely actions up to the first unlikely one, drawn from its exact law by a
  guide-table search);
- numpy, vectorized: every episode at once, one time step at a time;
- numpy, Python loop: one episode at a time, the "plain numpy loop" of the
  issue. Timed once (no repeats: it has nothing to compile and takes about
  20-60 s at 10^6 episodes) on ``--loop-episodes`` episodes, by default all
  10^6; with fewer (at least 10^5 outside ``--quick``) its time at 10^6 is
  extrapolated linearly from its measured throughput, and the output says so;
- torch on CUDA, vectorized like numpy (only where a CUDA device exists).

The issue's target, numba at least 20x faster than a plain numpy loop at 10^6
episodes, is checked against both numpy baselines and printed with the ratios.
Timings on a shared machine are provisional; the table prints medians.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks._timing import Contender, Row, compare
from sims.rl_rollouts import (linearq_returns, linearq_returns_numpy_vectorized,
                              linearq_returns_python_loop, linearq_returns_torch)
from toytheory.rl.datasets import epsilon_mixture
from toytheory.rl.linearq_mdp import linearq_optimal_actions

U = 100
EPS = 0.1
TARGET = 20.0
N_EPISODES = 1_000_000
MIN_LOOP_EPISODES = 100_000


def time_python_loop(prob_one, m: int, rng) -> float:
    """Seconds for one run of the per-episode Python loop on ``m`` episodes.

    Warmed up on 1000 episodes first (imports, first-call overheads); there is
    nothing to compile, so one timed run is representative.
    """
    linearq_returns_python_loop(U, prob_one, min(m, 1000), rng)
    start = time.perf_counter()
    linearq_returns_python_loop(U, prob_one, m, rng)
    return time.perf_counter() - start


def target_lines(numba_s: float, n: int, vectorized_s: float, loop_s: float, m: int,
                 quick: bool) -> list[str]:
    """The target check, numba >= 20x each numpy baseline, as printable lines.

    Parameters
    ----------
    numba_s, vectorized_s : float
        Median seconds for ``n`` episodes.
    loop_s : float
        Seconds of the one timed Python-loop run on ``m`` episodes.
    n, m : int
    quick : bool
        ``--quick``: the sizes are below the target's 10^6, so the check is
        reported but labelled as not the target measurement.
    """
    loop_at_n = loop_s * n / m
    how = (f"timed on all {m} episodes" if m == n else
           f"timed on {m} episodes ({loop_s:.2f} s), EXTRAPOLATED linearly x{n / m:g} to "
           f"{loop_at_n:.1f} s for {n} episodes")
    rows = [("numpy, Python loop over episodes (plain numpy loop)", loop_at_n, how),
            ("numpy vectorized over episodes", vectorized_s, f"median, {n} episodes")]
    size = (f"--quick: {n} episodes, not the target's {N_EPISODES}; indicative only"
            if quick else f"{n} episodes")
    lines = [f"\nTarget: numba >= {TARGET:g}x a plain numpy loop, Linearq(u = {U}), {size}; "
             f"numba median {numba_s:.3f} s (provisional, shared machine)"]
    for name, base_s, detail in rows:
        ratio = base_s / numba_s
        verdict = "meets" if ratio >= TARGET else "MISSES"
        lines.append(f"  vs {name}: {base_s:.3f} s ({detail}) -> {ratio:.1f}x: {verdict} "
                     f"the {TARGET:g}x target")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^4 episodes instead of 10^6")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--loop-episodes", type=int, default=None,
                        help="episodes for the per-episode Python loop (default: all; "
                             f"at least {MIN_LOOP_EPISODES} outside --quick)")
    args = parser.parse_args(argv)
    n = 10_000 if args.quick else N_EPISODES
    m = n if args.loop_episodes is None else args.loop_episodes
    low = 1 if args.quick else MIN_LOOP_EPISODES
    if not low <= m <= n:
        parser.error(f"--loop-episodes: must lie in [{low}, {n}] (got {m})")
    prob_one = epsilon_mixture(linearq_optimal_actions(U), 2, EPS)[:, 1]
    rng = np.random.default_rng(0)
    contenders = [
        Contender("numba (parallel kernel)", lambda: linearq_returns(U, prob_one, n, 1)),
        Contender("numpy vectorized over episodes",
                  lambda: linearq_returns_numpy_vectorized(U, prob_one, n, rng)),
    ]
    try:
        import torch

        if torch.cuda.is_available():
            contenders.append(Contender(
                "torch vectorized (cuda)",
                lambda: linearq_returns_torch(U, prob_one, n, 1, "cuda"),
                sync=torch.cuda.synchronize))
    except ImportError:  # pragma: no cover - torch is optional
        pass
    table = compare(f"Linearq(u={U}) rollouts, {n} episodes, eps-greedy (eps={EPS})",
                    contenders, repeat=args.repeat, baseline="numpy vectorized over episodes",
                    work=n, work_unit="episodes")
    numba_s = table.rows[0].median_s
    vectorized_s = table.rows[1].median_s
    loop_s = time_python_loop(prob_one, m, rng)
    loop_at_n = loop_s * n / m
    name = "numpy, Python loop over episodes" + (
        "" if m == n else f" (timed on {m}, extrapolated x{n / m:g})")
    table.rows.append(Row(name, loop_at_n, loop_at_n, 1, vectorized_s / loop_at_n, m / loop_s))
    table.print()
    table.save("benchmarks/results/bench_rl_rollouts.json")
    for line in target_lines(numba_s, n, vectorized_s, loop_s, m, args.quick):
        print(line)


if __name__ == "__main__":
    main()

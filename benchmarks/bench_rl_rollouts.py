"""Numba rollouts of Linearq(u = 100) against plain numpy (and torch, on CUDA where present).

Usage::

    .venv/bin/python -m benchmarks.bench_rl_rollouts            # 10^6 episodes
    .venv/bin/python -m benchmarks.bench_rl_rollouts --quick    # 10^4 episodes

The policy is eps-greedy around the optimal threshold policy (eps = 0.1), so an
episode lasts about 20 steps before a random action sends it to the absorbing
state (the kernels stop there; the vectorized baselines drop finished episodes).
Contenders:

- Numba: :func:`sims.rl_rollouts.linearq_returns` (parallel, one SplitMix64
  stream per episode);
- numpy, vectorized: every episode at once, one time step at a time;
- numpy, Python loop: one episode at a time (timed on 1/10 of the episodes,
  10^6 would take about 20 s per run; the last line compares throughputs);
- torch on CUDA, vectorized like numpy (only where a CUDA device exists).

Timings on a shared machine are provisional; the table prints medians.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks._timing import Contender, compare
from sims.rl_rollouts import (linearq_returns, linearq_returns_numpy_vectorized,
                              linearq_returns_python_loop, linearq_returns_torch)
from toytheory.rl.datasets import epsilon_mixture
from toytheory.rl.linearq import linearq_optimal_actions

U = 100
EPS = 0.1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^4 episodes instead of 10^6")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    n = 10_000 if args.quick else 1_000_000
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
    table.print()
    table.save("benchmarks/results/bench_rl_rollouts.json")

    m = max(100, n // 10)
    loop = compare(f"Linearq(u={U}) rollouts, {m} episodes, per-episode Python loop baseline",
                   [Contender("numba (parallel kernel)",
                              lambda: linearq_returns(U, prob_one, m, 1)),
                    Contender("numpy, Python loop over episodes",
                              lambda: linearq_returns_python_loop(U, prob_one, m, rng))],
                   repeat=1, baseline="numpy, Python loop over episodes",
                   work=m, work_unit="episodes")
    loop.print()
    loop.save("benchmarks/results/bench_rl_rollouts.json")
    per_episode = table.rows[0].throughput / loop.rows[1].throughput
    print(f"\nnumba vs numpy vectorized ({n} episodes): {table.rows[0].ratio_to_baseline:.1f}x; "
          f"numba vs Python loop ({m} episodes each): {loop.rows[0].ratio_to_baseline:.1f}x; "
          f"episodes per second, numba at {n} vs Python loop: {per_episode:.0f}x "
          "(target >= 20x; provisional, shared machine)")


if __name__ == "__main__":
    main()

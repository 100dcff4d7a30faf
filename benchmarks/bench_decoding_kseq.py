"""K-SEQ draft selection (Numba) against numpy, and the exact truncated-Gumbel law at V = 1e5.

Usage::

    .venv/bin/python -m benchmarks.bench_decoding_kseq            # 10^6 blocks
    .venv/bin/python -m benchmarks.bench_decoding_kseq --quick    # 10^4 blocks (smoke test)

Contenders for K-SEQ (V = 6, k = 4 drafts, one selection per block):

- Numba: :func:`sims.decoding_speculative.kseq_counts` (``prange`` over chunks of 2^14
  blocks, one SplitMix64 stream per chunk, each selection step one alias-table draw from
  32 random bits);
- numpy, vectorized: all blocks at once (draft draws by ``Generator.choice``, coins,
  first kept draft by ``argmax``, residual draws for the rest);
- numpy, Python loop: one block at a time with numpy draws, the "straightforward numpy"
  of the issue; timed once on ``--loop-blocks`` blocks and extrapolated linearly.

Then the exact law of the token under float32 Gumbel truncation
(:func:`toytheory.decoding.gumbel_truncation.truncated_race_law`) for Zipf logits at
V = 10^5, the issue's target being under 1 s, and the exact 24-bit grid law of a two-group
toy (a sum over 2^24 grid values). Timings on a shared machine are provisional.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks._timing import Contender, Row, compare
from sims.decoding_speculative import kseq_counts, residual_law
from toytheory.decoding import kseq_rho
from toytheory.decoding import gumbel_truncation as gt

V, K = 6, 4


def kseq_numpy_vectorized(target, draft, k, rho, n, rng):
    x = rng.choice(target.size, size=(n, k), p=draft)
    kept = rng.random((n, k)) * rho * draft[x] < target[x]
    any_kept = kept.any(axis=1)
    first = np.argmax(kept, axis=1)
    out = x[np.arange(n), first]
    misses = int((~any_kept).sum())
    out[~any_kept] = rng.choice(target.size, size=misses, p=residual_law(target, draft, rho))
    return np.bincount(out, minlength=target.size)


def kseq_numpy_loop(target, draft, k, rho, n, rng):
    residual = residual_law(target, draft, rho)
    counts = np.zeros(target.size, np.int64)
    for _ in range(n):
        chosen = -1
        for _ in range(k):
            x = rng.choice(target.size, p=draft)
            if rng.random() * rho * draft[x] < target[x]:
                chosen = x
                break
        if chosen < 0:
            chosen = rng.choice(target.size, p=residual)
        counts[chosen] += 1
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^4 blocks instead of 10^6")
    parser.add_argument("--loop-blocks", type=int, default=None,
                        help="blocks for the Python-loop baseline (default 10^4, 10^3 quick)")
    args = parser.parse_args(argv)
    n = 10 ** 4 if args.quick else 10 ** 6
    m = args.loop_blocks or (10 ** 3 if args.quick else 10 ** 4)
    rng = np.random.default_rng(0)
    target, draft = rng.dirichlet(np.ones(V)), rng.dirichlet(np.ones(V))
    rho = kseq_rho(target, draft, K)
    table = compare(f"K-SEQ selection, V={V}, k={K}, {n} blocks", [
        Contender("numba (sims.decoding_speculative)",
                  lambda: kseq_counts(target, draft, K, rho, n, 1)),
        Contender("numpy, vectorized",
                  lambda: kseq_numpy_vectorized(target, draft, K, rho, n, rng)),
    ], repeat=3 if args.quick else 5, baseline="numpy, vectorized", work=n,
        work_unit="blocks")
    t = time.perf_counter()
    kseq_numpy_loop(target, draft, K, rho, m, rng)
    loop_s = (time.perf_counter() - t) * n / m
    vectorized_s = table.rows[1].median_s
    table.rows.append(Row(f"numpy, Python loop ({m} blocks, extrapolated)", loop_s, loop_s,
                          1, vectorized_s / loop_s, n / loop_s))
    table.print()
    numba_s = table.rows[0].median_s
    print(f"numba vs numpy Python loop: {loop_s / numba_s:.1f}x (goal >= 10x); "
          f"vs numpy vectorized: {vectorized_s / numba_s:.1f}x")
    for V_z in (10 ** 4, 10 ** 5):
        ell = gt.zipf_logits(V_z)
        p = np.exp(ell - ell.max())
        p /= p.sum()
        t = time.perf_counter()
        q = gt.truncated_race_law(p, gt.noise_floor(24))
        dt = time.perf_counter() - t
        print(f"truncated-Gumbel law, Zipf V = {V_z}: {dt * 1e3:.1f} ms (goal < 1 s); "
              f"T_eff = {gt.effective_temperature(ell, q):.5f}")
    eps = gt.noise_floor(24)
    t = time.perf_counter()
    gt.grid_race_law_grouped([1 - 10 ** 4 * eps, eps], [1, 10 ** 4], bits=24)
    print(f"exact 24-bit grid law, two groups: {time.perf_counter() - t:.2f} s")
    table.save("benchmarks/results/bench_decoding_kseq.json")


if __name__ == "__main__":
    main()

"""Exact GMM posteriors for many observations: batched numpy and torch against a
per-observation loop (issue 17, item 11).

Contenders (same prior, same A and noise, same observations, one process,
``benchmarks/_timing.py``):

- ``per-observation loop``: :func:`toytheory.diffusion.posterior.gmm.exact_gmm_posterior`
  called once per observation (what one writes first);
- ``batched numpy``: :func:`~toytheory.diffusion.posterior.gmm.batched_gmm_posterior`, the
  y-independent parts (S_k, gains, posterior covariances) computed once, then matrix
  products over the batch;
- ``batched torch``: the same with ``backend="torch"`` (CUDA when present).

Sizes: the issue's K = 16, d = 32 (m = 8 measurements), 10^6 observations for the batched
contenders in chunks of 50,000 (the means alone are 4 GB at once); the loop is timed on a
subset and compared per observation. ``--quick``: 20,000 observations, loop on 200.

Run: ``.venv/bin/python -m benchmarks.bench_diffusion_posterior [--quick]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks._timing import Contender, compare

RESULTS = Path(__file__).parent / "results" / "bench_diffusion_posterior.json"


def make_problem(k=16, d=32, m=8, seed=0):
    from toytheory.diffusion.laws import GaussianMixture

    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, d, d))
    covs = a @ a.transpose(0, 2, 1) / d + 0.1 * np.eye(d)
    prior = GaussianMixture(rng.dirichlet(np.ones(k)), 2 * rng.standard_normal((k, d)), covs)
    return prior, rng.standard_normal((m, d)) / np.sqrt(d), 0.3, rng


def main(argv=None):
    from toytheory.diffusion.posterior.gmm import batched_gmm_posterior, exact_gmm_posterior

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args = parser.parse_args(argv)
    n, n_loop, chunk = (20_000, 200, 5_000) if args.quick else (1_000_000, 2_000, 50_000)
    repeat = 3 if args.quick else 5
    prior, A, s, rng = make_problem()
    x = prior.sample_data(n, rng)
    Y = x @ A.T + s * rng.standard_normal((n, A.shape[0]))
    try:
        import torch
        device = "cuda" if torch.cuda.is_available() else "cpu"
        sync = torch.cuda.synchronize if device == "cuda" else None
    except ImportError:   # pragma: no cover
        device, sync = None, None

    # correctness first: batched rows equal the loop's posteriors
    w, mu, C = batched_gmm_posterior(prior, A, s, Y[:20])
    worst = 0.0
    for i in range(20):
        p = exact_gmm_posterior(prior, A, s, Y[i])
        worst = max(worst, np.abs(p.weights - w[i]).max(), np.abs(p.means - mu[i]).max(),
                    np.abs(p.covs - C).max())
    print(f"max |batched - loop| over 20 observations: {worst:.2e}")

    def loop(Ys):
        return [exact_gmm_posterior(prior, A, s, y) for y in Ys]

    def batched(Ys, backend):
        for lo in range(0, len(Ys), chunk):
            batched_gmm_posterior(prior, A, s, Ys[lo:lo + chunk], backend=backend,
                                  device=device or "cpu")

    sub = Y[:n_loop]
    contenders = [Contender("per-observation loop", lambda: loop(sub)),
                  Contender("batched numpy", lambda: batched(sub, "numpy"))]
    if device:
        contenders.append(Contender(f"batched torch ({device})",
                                    lambda: batched(sub, "torch"), sync))
    table = compare(f"exact GMM posteriors, K = 16, d = 32, m = 8, {n_loop} observations",
                    contenders, repeat=repeat, baseline="per-observation loop", work=n_loop,
                    work_unit="obs")
    table.print()
    table.save(RESULTS)
    big = [Contender("batched numpy", lambda: batched(Y, "numpy"))]
    if device:
        big.append(Contender(f"batched torch ({device})", lambda: batched(Y, "torch"), sync))
    table = compare(f"exact GMM posteriors, batched, {n} observations", big,
                    repeat=max(1, repeat - 2), baseline="batched numpy", work=n,
                    work_unit="obs")
    table.print()
    table.save(RESULTS)
    loop_rate = next(r.throughput for r in compare("loop rate", contenders[:1],
                                                   repeat=1, work=n_loop).rows)
    for r in table.rows:
        print(f"   {r.name}: {r.throughput / loop_rate:.0f}x the loop's observations per "
              f"second (goal >= 20x)")


if __name__ == "__main__":
    main()

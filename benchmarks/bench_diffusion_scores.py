"""GMM score throughput: numpy, torch closed form, torch autograd of the log-density.

Contenders (same law, same points, one process, ``benchmarks/_timing.py``):

- ``numpy closed form``: :meth:`toytheory.diffusion.laws.GaussianMixture.score`;
- ``torch closed form``: :meth:`toytheory.diffusion.torch_laws.TorchMixture.score`;
- ``torch autograd (toytheory log p)``: ``backward`` through
  :meth:`TorchMixture.log_prob`;
- ``torch autograd (torch.distributions)``: ``backward`` through
  ``MixtureSameFamily(Categorical, MultivariateNormal)`` with the marginal
  covariances, what one would write without toytheory.

Sizes (issue 3): K = 8, d in {2, 64}, N = 200,000 points, float64 on the CPU; on a GPU
also N = 2,000,000, d = 64, K = 64 in float32 and float64. With one noise level for all
points the closed form costs one matrix product ``x @ [P_1 ... P_K]`` (2 K d^2 flops a
point) plus O(K d); the GFLOP/s column counts those 2 K d^2 flops (the issue's
"about 4 K d^2" is the projection-and-back-projection algorithm, also shown). The
machine's attainable rate is measured in the same run by a large matrix product.

Run: ``.venv/bin/python -m benchmarks.bench_diffusion_scores [--quick]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks._timing import Contender, compare

RESULTS = Path(__file__).parent / "results" / "bench_diffusion_scores.json"


def make_law(k: int, d: int, seed: int = 0):
    from toytheory.diffusion.laws import GaussianMixture

    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, d, d))
    covs = a @ a.transpose(0, 2, 1) / d + 0.1 * np.eye(d)
    return GaussianMixture(rng.dirichlet(np.ones(k)), 2 * rng.standard_normal((k, d)), covs)


def distributions_mixture(law, sigma, device, dtype):
    import torch
    from torch import distributions as D

    marg = law.marginal(1.0, sigma)
    mix = D.Categorical(probs=torch.as_tensor(marg.weights, dtype=dtype, device=device))
    comp = D.MultivariateNormal(torch.as_tensor(marg.means, dtype=dtype, device=device),
                                covariance_matrix=torch.as_tensor(marg.covs, dtype=dtype,
                                                                  device=device))
    return D.MixtureSameFamily(mix, comp)


def matmul_gflops(device="cpu", dtype=None, size=2048, repeat=3):
    """Attainable GFLOP/s of a large square matrix product on this device."""
    import torch

    dtype = torch.float64 if dtype is None else dtype
    a = torch.randn(size, size, dtype=dtype, device=device)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    a @ a
    sync()
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        a @ a
        sync()
        best = min(best, time.perf_counter() - t)
    return 2 * size**3 / best / 1e9


def bench(k, d, n, device="cpu", dtype_name="float64", repeat=5, numpy=True):
    import torch

    dtype = getattr(torch, dtype_name)
    law = make_law(k, d)
    sigma = 0.5
    x = law.sample(n, 1.0, sigma, rng=1)
    tl = law.to_torch(device=device, dtype=dtype)
    xt = torch.as_tensor(x, dtype=dtype, device=device)
    dist = distributions_mixture(law, sigma, device, dtype)
    sync = torch.cuda.synchronize if device == "cuda" else None

    def autograd_toytheory():
        # chunks of 65,536 points, like the torch.distributions contender: one backward
        # through 2e6 points would keep every chunk's (n, K d) intermediates alive
        out = []
        for chunk in torch.split(xt, 65536):
            xg = chunk.clone().requires_grad_(True)
            tl.log_prob(xg, 1.0, sigma).sum().backward()
            out.append(xg.grad)
        return torch.cat(out)

    def autograd_distributions():
        out = []
        for chunk in torch.split(xt, 65536):
            xg = chunk.clone().requires_grad_(True)
            dist.log_prob(xg).sum().backward()
            out.append(xg.grad)
        return torch.cat(out)

    contenders = []
    if numpy:
        contenders.append(Contender("numpy closed form", lambda: law.score(x, 1.0, sigma)))
    contenders += [
        Contender(f"torch closed form ({device}, {dtype_name})",
                  lambda: tl.score(xt, 1.0, sigma), sync),
        Contender("torch autograd (toytheory log p)", autograd_toytheory, sync),
        Contender("torch autograd (torch.distributions)", autograd_distributions, sync),
    ]
    # agreement before timing: the closed form is the autograd gradient
    ref = autograd_toytheory().double().cpu().numpy()
    got = tl.score(xt[:1000], 1.0, sigma).double().cpu().numpy()
    tol = 1e-9 if dtype_name == "float64" else 1e-3
    assert np.abs(got - ref[:1000]).max() <= tol * max(1.0, np.abs(ref).max())
    base = next(c.name for c in contenders if c.name.startswith("torch closed form"))
    table = compare(f"GMM score, K={k}, d={d}, N={n}", contenders, repeat=repeat,
                    baseline=base, work=n, work_unit="points")
    table.print()
    table.save(RESULTS)
    flops = 2 * k * d * d
    for row in table.rows:
        if "closed form" in row.name:
            rate = row.throughput * flops / 1e9
            print(f"   {row.name}: {rate:.3g} GFLOP/s at 2Kd^2 flops/point "
                  f"({2 * rate:.3g} at the issue's 4Kd^2 convention)")
    closed = next(r for r in table.rows if r.name.startswith("torch closed form"))
    auto = next(r for r in table.rows if r.name.startswith("torch autograd (toytheory"))
    print(f"   torch closed form vs autograd of toytheory's log p: "
          f"{auto.median_s / closed.median_s:.2f}x faster")
    return table


def main(argv=None):
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's own choice)")
    parser.add_argument("--gpu-only", action="store_true", help="skip the CPU rows")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    n = 2_000 if args.quick else 200_000
    repeat = 2 if args.quick else 5
    print(f"torch threads: {torch.get_num_threads()}")
    if not args.gpu_only:
        peak = matmul_gflops("cpu", size=512 if args.quick else 2048)
        print(f"attainable float64 GEMM on this CPU: {peak:.3g} GFLOP/s")
        for d in (2, 64):
            bench(8, d, n, repeat=repeat)
    if torch.cuda.is_available():
        n_gpu = 20_000 if args.quick else 2_000_000
        for dtype_name in ("float32", "float64"):
            peak = matmul_gflops("cuda", getattr(torch, dtype_name),
                                 size=1024 if args.quick else 8192)
            print(f"\nattainable {dtype_name} GEMM on this GPU: {peak:.3g} GFLOP/s")
            table = bench(64, 64, n_gpu, device="cuda", dtype_name=dtype_name,
                          repeat=repeat, numpy=False)
            closed = next(r for r in table.rows if r.name.startswith("torch closed form"))
            print(f"   issue 22 target (N = 2e6, on an H200): closed form <= 20 ms: "
                  f"{closed.median_s * 1e3:.2f} ms, "
                  f"{'met' if closed.median_s <= 0.020 else 'NOT met'}"
                  + ("" if n_gpu == 2_000_000 else " (--quick size, not the target)"))
    else:
        print("\nno CUDA device: the GPU rows (N = 2e6, d = 64, K = 64) are skipped")


if __name__ == "__main__":
    main()

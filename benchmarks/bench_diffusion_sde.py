"""Reverse-SDE throughput (path-steps/s) on a 1-D two-mode GMM: Numba vs numpy vs torchsde.

Data :math:`\\tfrac12 N(-2, 0.5^2) + \\tfrac12 N(2, 0.5^2)`, VP linear schedule
(beta 0.1 to 20), Euler–Maruyama from t = 1 to t = 1e-3 in 1000 steps, started from the
exact marginal at t = 1 (issue 3, item 9). Contenders, side by side in one process:

- ``Numba prange``: :func:`sims.diffusion_numba.reverse_sde_euler_maruyama` (score from
  the component parameters inside the kernel, parallel over paths, per-path
  xoshiro256+ streams, exact 256-layer ziggurat normals);
- ``Numba, 1 thread``: the same kernel on one thread;
- ``numpy vectorised``: a loop over steps, each step vectorised over paths, the score
  of the 1-D mixture written inline;
- ``numpy + toytheory score``: the same loop calling the exact oracle
  :meth:`GaussianMixture.score` (what a user would write);
- ``torchsde``: ``torchsde.sdeint(method="euler")`` on the reverse-time SDE, score in torch.

Every contender's output is checked against the exact marginal at t = 1e-3 (KS) before
timing. Besides the table, each contender's time per path-step (ns) is printed: the
single-thread Numba row against the numpy row is the per-core comparison. Run:
``.venv/bin/python -m benchmarks.bench_diffusion_sde [--quick]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks._timing import Contender, compare

RESULTS = Path(__file__).parent / "results" / "bench_diffusion_sde.json"
B0, B1 = 0.1, 20.0
T0, T1, STEPS = 1.0, 1e-3, 1000
MEANS, STD = np.array([-2.0, 2.0]), 0.5


def vp_coefficients(t):
    """VP linear: alpha, sigma, f = -beta/2, g^2 = beta (written out for the loops)."""
    log_alpha = -0.25 * t**2 * (B1 - B0) - 0.5 * t * B0
    alpha = np.exp(log_alpha)
    return alpha, np.sqrt(-np.expm1(2 * log_alpha)), -0.5 * (B0 + t * (B1 - B0)), \
        B0 + t * (B1 - B0)


def numpy_sde(x, seed):
    """Vectorised over paths; the two-component score written inline."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(T0, T1, STEPS + 1)
    x = x.copy()
    for t0, t1 in zip(grid[:-1], grid[1:]):
        a, s, f, g2 = vp_coefficients(t0)
        var = a * a * STD * STD + s * s
        d0, d1 = x - a * MEANS[0], x - a * MEANS[1]
        w1 = 1.0 / (1.0 + np.exp((d1 * d1 - d0 * d0) / (2 * var)))
        score = -((1 - w1) * d0 + w1 * d1) / var
        dt = t0 - t1
        x += -(f * x - g2 * score) * dt + np.sqrt(g2 * dt) * rng.standard_normal(x.shape)
    return x


def numpy_toytheory_sde(law, x, seed):
    rng = np.random.default_rng(seed)
    grid = np.linspace(T0, T1, STEPS + 1)
    x = x.copy()
    for t0, t1 in zip(grid[:-1], grid[1:]):
        a, s, f, g2 = vp_coefficients(t0)
        dt = t0 - t1
        x += -(f * x - g2 * law.score(x, a, s)) * dt \
            + np.sqrt(g2 * dt) * rng.standard_normal(x.shape)
    return x


def torchsde_sde(x, seed):
    import torch
    import torchsde

    class Reverse(torch.nn.Module):
        """The reverse SDE in tau = 1 - t: dx = [-f x + g^2 s] dtau + g dW."""

        noise_type = "diagonal"
        sde_type = "ito"

        def f(self, tau, y):
            t = T0 - tau
            beta = B0 + t * (B1 - B0)
            log_alpha = -0.25 * t**2 * (B1 - B0) - 0.5 * t * B0
            a = torch.exp(log_alpha)
            var = a * a * STD * STD + (-torch.expm1(2 * log_alpha))
            d0, d1 = y - a * MEANS[0], y - a * MEANS[1]
            w1 = torch.sigmoid((d0 * d0 - d1 * d1) / (2 * var))
            score = -((1 - w1) * d0 + w1 * d1) / var
            return 0.5 * beta * y + beta * score

        def g(self, tau, y):
            t = T0 - tau
            return torch.sqrt(B0 + t * (B1 - B0)).expand_as(y)

    torch.manual_seed(seed)
    y0 = torch.as_tensor(x, dtype=torch.float64)
    ts = torch.tensor([0.0, T0 - T1], dtype=torch.float64)
    with torch.no_grad():
        out = torchsde.sdeint(Reverse(), y0, ts, method="euler", dt=(T0 - T1) / STEPS)
    return out[-1].numpy()


def main(argv=None):
    import numba

    from sims.diffusion_numba import reverse_sde_euler_maruyama
    from toytheory import stats
    from toytheory.diffusion.marginal_tests import projected_cdf
    from toytheory.diffusion.schedules import VPLinear
    from toytheory.diffusion.toys import two_mode_1d

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--paths", type=int, default=None)
    args = parser.parse_args(argv)
    n = args.paths or (2_000 if args.quick else 100_000)
    law = two_mode_1d()
    sch = VPLinear(B0, B1)
    a0, s0, _, _ = vp_coefficients(T0)
    x = law.sample(n, a0, s0, rng=0)
    grid = np.linspace(T0, T1, STEPS + 1)
    threads = numba.get_num_threads()

    def numba_one_thread():
        numba.set_num_threads(1)
        try:
            return reverse_sde_euler_maruyama(law, sch, x, grid, seed=1)
        finally:
            numba.set_num_threads(threads)

    contenders = [
        Contender(f"Numba prange ({threads} threads)",
                  lambda: reverse_sde_euler_maruyama(law, sch, x, grid, seed=1)),
        Contender("Numba, 1 thread", numba_one_thread),
        Contender("numpy vectorised", lambda: numpy_sde(x, 1)),
        Contender("numpy + toytheory score", lambda: numpy_toytheory_sde(law, x, 1)),
    ]
    try:
        import torchsde  # noqa: F401

        contenders.append(Contender("torchsde (euler)", lambda: torchsde_sde(x, 1)))
    except ImportError:
        print("torchsde is not installed: its row is skipped")
    a1, s1 = (float(v) for v in sch.marginal(T1))
    cdf = projected_cdf(law, a1, s1, np.ones(1))
    for c in contenders:
        p = stats.ks_1samp(np.asarray(c.run())[:, 0], cdf, 1e-6).pvalue
        print(f"{c.name:32s} KS p-value against the exact marginal at t={T1:g}: {p:.3g}")
    table = compare(f"reverse SDE, 1-D two modes, {n} paths x {STEPS} steps", contenders,
                    repeat=2 if args.quick else 3, baseline="numpy vectorised",
                    work=n * STEPS, work_unit="path-steps")
    table.print()
    print("\nper path-step: " + ", ".join(f"{r.name} {r.median_s / (n * STEPS) * 1e9:.2f} ns"
                                         for r in table.rows))
    table.save(RESULTS)


if __name__ == "__main__":
    main()

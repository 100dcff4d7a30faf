"""Simulated samples at time t (Numba and torch simulators) against the exact marginal."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from toytheory.claims import claim
from toytheory.diffusion.marginal_tests import energy_test_against_law, projection_ks_test
from toytheory.diffusion.schedules import VPLinear

PAPER = ("The Unreasonable Effectiveness of Gaussian Score Approximation for Diffusion Models "
         "and its Applications")
LEVEL = 1e-6
T_START = 1.0


def simulation_laws():
    from toytheory.diffusion.figures_exact import field_law
    from toytheory.diffusion.toys import two_mode_1d

    return {"1-D two modes (+-2, std 0.5)": two_mode_1d(), "2-D GMM (3 tilted components)":
            field_law()}


@contextmanager
def torch_threads(n: int = 1):
    """Small per-step tensors: one intra-op thread avoids thread-pool stalls."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield torch
    finally:
        torch.set_num_threads(before)


def numba_sde(law, schedule, x, grid, seed):
    from sims.diffusion_numba import reverse_sde_euler_maruyama

    return reverse_sde_euler_maruyama(law, schedule, x, grid, seed=seed)


def numba_ode(law, schedule, x, grid, seed):
    from sims.diffusion_numba import pf_ode_rk4

    return pf_ode_rk4(law, schedule, x, grid)


def _torch_score(law, schedule, device):
    import torch

    tl = law.to_torch(device=device, dtype=torch.float64)

    def score(y, t):
        a, s = schedule.marginal(t)
        return tl.score(y, float(a), float(s))

    return score


def torch_sde(law, schedule, x, grid, seed, device="cpu"):
    import torch

    from sims.diffusion_torch import reverse_sde_euler_maruyama

    gen = torch.Generator(device=device).manual_seed(int(seed))
    out = reverse_sde_euler_maruyama(_torch_score(law, schedule, device), schedule,
                                     torch.as_tensor(x, device=device), grid, generator=gen)
    return out.cpu().numpy()


def torch_ode(law, schedule, x, grid, seed, device="cpu"):
    import torch

    from sims.diffusion_torch import pf_ode_rk4

    out = pf_ode_rk4(_torch_score(law, schedule, device), schedule,
                     torch.as_tensor(x, device=device), grid)
    return out.cpu().numpy()


def check_simulators(ctx, ev, simulators, n, t_end, sde_steps, ode_steps, energy_n,
                     pathwise=False):
    """Run each simulator from the exact marginal at T_START to ``t_end``; test the output
    against the exact marginal at ``t_end`` (KS along projections, then energy test)."""
    schedule = VPLinear()
    a_end, s_end = (float(v) for v in schedule.marginal(t_end))
    worst = 1.0
    for lname, law in simulation_laws().items():
        x_start = law.sample(n, *(float(v) for v in schedule.marginal(T_START)),
                             rng=ctx.rng(lname, "start"))
        for sname, (fn, kind) in simulators.items():
            steps = sde_steps if kind == "sde" else ode_steps
            grid = np.linspace(T_START, t_end, steps + 1)
            seed = ctx.seed_for(lname, sname)
            out = fn(law, schedule, x_start.copy(), grid, seed)
            ks = projection_ks_test(out, law, a_end, s_end, LEVEL, rng=ctx.rng(lname, "dirs"))
            worst = min(worst, ks.pvalue)
            label = f"{sname}, {lname}"
            ev.test(f"{label}: KS along {len(ks.pvalues)} projections (Bonferroni)", ks,
                    note=f"{n} paths, {steps} steps from t={T_START} to t={t_end} (VP linear)")
            if law.dim > 1:
                if ks.reject:
                    ev.note(f"{label}: energy test not run, the KS family already rejects")
                else:
                    en = energy_test_against_law(out[:energy_n], law, a_end, s_end, LEVEL,
                                                 rng=ctx.rng(lname, sname, "energy"))
                    worst = min(worst, en.pvalue)
                    ev.test(f"{label}: energy-distance test against an exact sample", en,
                            note=f"{energy_n} simulated vs {energy_n} exact points")
            if kind == "sde":
                short = grid[:101]
                again = fn(law, schedule, x_start[:50].copy(), short, seed)
                if pathwise:  # path i's noise depends only on (seed, i)
                    first = fn(law, schedule, x_start.copy(), short, seed)[:50]
                    ev.equal(f"{label}: the first 50 paths, run alone, are bit for bit those "
                             "of the full batch (100 steps)", bool(np.array_equal(again, first)),
                             True)
                else:
                    ev.equal(f"{label}: the same seed reproduces 50 paths bit for bit "
                             "(100 steps)", bool(np.array_equal(
                                 again, fn(law, schedule, x_start[:50].copy(), short, seed))),
                             True)
    return worst


@claim(
    "diffusion.exact.numba_simulators_match_exact_marginals",
    paper=PAPER,
    statement=("Started from the exact marginal at t = 1, the reverse SDE (Euler-Maruyama) and "
               "the probability-flow ODE (RK4), simulated by Numba kernels that compute the "
               "mixture score from its parameters, produce samples whose law at time t is the "
               "exact diffused marginal p_t."),
    kind="derived",
    witnesses=("exact", "simulated"),
    quick={"n": 5000, "t_end": 0.05, "sde_steps": 1000, "ode_steps": 200, "energy_n": 300},
    full={"n": 100_000, "t_end": 1e-3, "sde_steps": 2000, "ode_steps": 400, "energy_n": 1000},
)
def numba_simulators_match(ctx, n, t_end, sde_steps, ode_steps, energy_n):
    ev = ctx.evidence()
    sims = {"Numba reverse SDE": (numba_sde, "sde"), "Numba PF-ODE": (numba_ode, "ode")}
    worst = check_simulators(ctx, ev, sims, n, t_end, sde_steps, ode_steps, energy_n,
                             pathwise=True)
    ev.record("smallest p-value", worst, headline=True)
    ev.note("Paths are parallel over Numba threads; each path draws its noise from its own "
            "xoshiro256+ stream seeded by (seed, path), so the output does not depend on the "
            "number of threads.")
    return ev


@claim(
    "diffusion.exact.torch_simulators_match_exact_marginals",
    paper=PAPER,
    statement=("Started from the exact marginal at t = 1, the batched torch reverse SDE "
               "(Euler-Maruyama) and probability-flow ODE (RK4), driven by toytheory's torch "
               "score, produce samples whose law at time t is the exact diffused marginal p_t."),
    kind="derived",
    witnesses=("exact", "simulated"),
    quick={"n": 3000, "t_end": 0.05, "sde_steps": 1000, "ode_steps": 100, "energy_n": 300},
    full={"n": 100_000, "t_end": 1e-3, "sde_steps": 2000, "ode_steps": 400, "energy_n": 1000},
)
def torch_simulators_match(ctx, n, t_end, sde_steps, ode_steps, energy_n):
    ev = ctx.evidence()
    dev = ctx.device
    sims = {
        "torch reverse SDE": (lambda *a: torch_sde(*a, device=dev), "sde"),
        "torch PF-ODE": (lambda *a: torch_ode(*a, device=dev), "ode"),
    }
    with torch_threads(1):
        worst = check_simulators(ctx, ev, sims, n, t_end, sde_steps, ode_steps, energy_n)
    ev.record("smallest p-value", worst, headline=True)
    ev.note(f"device {dev}, float64; the noise comes from a seeded torch.Generator.")
    return ev

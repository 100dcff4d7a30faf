"""Diffusion solvers: toytheory's torch path against the diffusers scheduler loop.

1. CPU: a 20-step DPM-Solver++(2M) solve of 100,000 2-D samples with the exact Gaussian
   model (float32), toytheory torch (plain, fused, and a fused solve replayed from a
   :class:`~toytheory.diffusion.solvers.SolvePlan`) against DPMSolverMultistepScheduler's
   loop, side by side, with the results compared. Every contender calls the same model.
2. GPU (when CUDA exists): 10^7 samples in d = 64, every solver, samples/s, plain and fused
   (one torch.compile-d pass per step), the fused results held equal to the plain ones to
   1e-6 relative, and the diffusers loop for 2M.

``--threads`` sets torch's intra-op threads for every contender (toytheory's Numba passes
follow the same setting; below 2^21 elements they run on one thread: on the 2-core machine
two threads were no faster at any size, the passes being bandwidth-bound). Report both
``--threads 1`` and ``--threads 2``.

Run ``.venv/bin/python -m benchmarks.bench_diffusion_solvers [--quick] [--threads N]``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from benchmarks._timing import Contender, compare

RESULTS = Path(__file__).parent / "results" / "bench_diffusion_solvers.json"


def _setup(n, d, device, dtype):
    import torch
    from diffusers import DPMSolverMultistepScheduler

    from toytheory.diffusion import Gaussian
    from toytheory.diffusion.schedules import DiscreteVP
    from toytheory.diffusion.solvers import TimeGrid
    from toytheory.diffusion.solvers.models import AffineGaussianModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sch = DPMSolverMultistepScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear",
                                          beta_start=0.00085, beta_end=0.012)
    sch.set_timesteps(20)
    acp = sch.alphas_cumprod.double().numpy()
    schedule = DiscreteVP(1.0 - acp / np.concatenate([[1.0], acp[:-1]]))
    sig = sch.sigmas.double().numpy().copy()
    sig[sig > 0] = np.clip(sig[sig > 0], schedule.sigmas_ve[0], schedule.sigmas_ve[-1])
    grid = TimeGrid.from_sigmas(schedule, sig)
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    law = Gaussian(0.3 * rng.standard_normal(d), (q * np.geomspace(0.05, 1.0, d)) @ q.T)
    model = AffineGaussianModel(law, schedule, prediction="eps")
    gen = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn((n, d), generator=gen, dtype=dtype).to(device)
    return sch, grid, model, x


def diffusers_loop(sch, grid, model, x):
    sch.set_timesteps(20)
    y = x
    for i, t in enumerate(sch.timesteps):
        y = sch.step(model(y, float(grid.t[i])), t, y).prev_sample
    return y


def cpu_benchmark(n, repeat):
    import torch

    from toytheory.diffusion.solvers import SolvePlan, fused_elementwise, sample_dpmpp_2m

    sch, grid, model, x = _setup(n, 2, "cpu", torch.float32)
    plan = SolvePlan(sample_dpmpp_2m, grid, prediction=model.prediction)

    def ours():
        return sample_dpmpp_2m(model, x, grid)

    def ours_fused():
        with fused_elementwise():
            return sample_dpmpp_2m(model, x, grid)

    def ours_planned():
        return plan(model, x)

    def model_only():
        for i in range(grid.n_steps):
            model(x, float(grid.t[i]))

    ref = diffusers_loop(sch, grid, model, x)
    for label, fn in (("plain", ours), ("fused", ours_fused), ("planned", ours_planned)):
        out = fn()
        rel = float((out - ref).abs().max() / ref.abs().max())
        print(f"CPU, {label}: max relative difference to diffusers {rel:.2e}")
    print("CPU, planned equals fused bit for bit:", bool(torch.equal(ours_planned(),
                                                                     ours_fused())))
    table = compare(f"DPM-Solver++(2M), 20 steps, {n} x 2 float32, exact Gaussian model (CPU)",
                    [Contender("diffusers DPMSolverMultistep loop",
                               lambda: diffusers_loop(sch, grid, model, x)),
                     Contender("toytheory torch", ours),
                     Contender("toytheory torch, fused (numba)", ours_fused),
                     Contender("toytheory torch, fused, SolvePlan replay", ours_planned),
                     Contender("model calls alone", model_only)],
                    repeat=repeat, baseline="diffusers DPMSolverMultistep loop", work=n,
                    work_unit="samples")
    table.print()
    table.save(RESULTS)
    return table


def gpu_solvers():
    from toytheory.diffusion import solvers as S

    return {
        "DDIM": (S.sample_ddim, {}), "Euler": (S.sample_euler, {}), "EDM Heun": (S.sample_heun, {}),
        "DPM-Solver-2": (S.sample_dpm_solver_singlestep, {"orders": [2] * 9 + [1, 1]}),
        "DPM-Solver++(2M)": (S.sample_dpmpp_2m, {}), "DPM-Solver++(3M)": (S.sample_dpmpp_3m, {}),
        "SDE-DPM-Solver++(2M)": (S.sample_sde_dpmpp, {"order": 2}),
        "UniPC-2 (bh2)": (S.sample_unipc, {"order": 2}),
        "UniPC-3 (bh1)": (S.sample_unipc, {"order": 3, "variant": "bh1"}),
        "DEIS tAB-3": (S.sample_deis, {"order": 3}),
        "GHVB-4": (S.sample_ghvb, {"order": 4, "beta": 0.8}),
        "PLMS-4 + HB": (S.sample_hb, {"order": 4, "beta": 0.8}),
    }


def gpu_benchmark(n, d, repeat, device="cuda"):
    """Every solver, plain, fused and replayed, against the diffusers 2M loop: one table per
    solver, each printed as soon as it is timed (a run cut short by a time limit keeps the
    tables it finished), the diffusers loop timed in every table's rounds.

    (``device="cpu"`` runs the same code on small sizes: a smoke test of this path.)
    """
    import torch

    from toytheory.diffusion.solvers import SolvePlan, fused_elementwise

    sch, grid, model, x = _setup(n, d, device, torch.float32)
    sync = torch.cuda.synchronize if device == "cuda" else None
    where = torch.cuda.get_device_name() if device == "cuda" else device
    baseline = Contender("diffusers loop, DPM-Solver++(2M)",
                         lambda: diffusers_loop(sch, grid, model, x), sync)
    tables = []
    for name, (fn, kw) in gpu_solvers().items():
        kw = dict(kw)
        if "order" in kw and fn.__name__ == "sample_sde_dpmpp":
            kw["generator"] = torch.Generator(device=device).manual_seed(1)
        plain = fn(model, x, grid, **kw)
        t0 = time.perf_counter()
        with fused_elementwise():
            if "generator" in kw:
                kw["generator"] = torch.Generator(device=device).manual_seed(1)
            fused = fn(model, x, grid, **kw)
        if sync:
            sync()
        rel = float((fused - plain).abs().max() / plain.abs().max())
        print(f"GPU {name}: fused vs plain max relative difference {rel:.2e} "
              f"(first fused run incl. compilation {time.perf_counter() - t0:.1f} s)"
              + ("" if rel <= 1e-6 else "  <-- above 1e-6"))

        def run_plain(fn=fn, kw=kw):
            return fn(model, x, grid, **kw)

        def run_fused(fn=fn, kw=kw):
            with fused_elementwise():
                return fn(model, x, grid, **kw)

        contenders = [baseline, Contender(f"{name}", run_plain, sync),
                      Contender(f"{name}, fused", run_fused, sync)]
        if "generator" not in kw:
            plan = SolvePlan(fn, grid, prediction=model.prediction, **kw)
            same = bool(torch.equal(plan(model, x), fused))
            print(f"GPU {name}: SolvePlan replay equals the fused solve bit for bit: {same}")
            contenders.append(Contender(f"{name}, fused, SolvePlan replay",
                                        lambda plan=plan: plan(model, x), sync))
        del plain, fused
        table = compare(f"{name}, 20 steps, {n} x {d} float32 on {where}", contenders,
                        repeat=repeat, baseline=baseline.name, work=n, work_unit="samples")
        table.print()
        table.save(RESULTS)
        tables.append(table)
    return tables


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--gpu-only", action="store_true", help="skip the CPU benchmark")
    parser.add_argument("--gpu-repeat", type=int, default=3,
                        help="rounds on the GPU (each solve of 10^7 x 64 takes about 0.5 s)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if not args.gpu_only:
        cpu_benchmark(10_000 if args.quick else 100_000, 3 if args.quick else args.repeat)
    if torch.cuda.is_available():
        gpu_benchmark(100_000 if args.quick else 10_000_000, 64,
                      3 if args.quick else args.gpu_repeat)
    else:
        print("no CUDA device: GPU benchmark skipped")


if __name__ == "__main__":
    main()

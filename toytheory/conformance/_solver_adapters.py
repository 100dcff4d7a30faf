"""Adapters that run a user's diffusion solver on an exact model, in VE coordinates.

Each adapter turns the user's object into ``(sigmas(n), solve(law, y0, n))``:
``sigmas(n)`` is the decreasing VE noise-level grid of an ``n``-step solve (positive
levels only: the state compared is at the last positive level) and ``solve`` maps VE
states :math:`y = x_0 + \\sigma\\varepsilon` at ``sigmas(n)[0]`` to the solver's VE state at
``sigmas(n)[-1]``. The model handed to the solver is the law's exact denoiser.

``toytheory``
    ``solver(model, x_T, grid, **kw)`` (:mod:`toytheory.diffusion.solvers`): a grid
    uniform in log-SNR on VP-linear, :math:`\\lambda` from -5 to 4.6.
``diffusers``
    a scheduler class (``set_timesteps``/``step``), constructed with ``config``
    (default: 1000 training steps, ``scaled_linear`` betas 0.00085-0.012), driven on its
    own noise levels ``scheduler.sigmas`` with an exact eps-prediction model; VE-state
    schedulers (Euler, Heun, ...: ``init_noise_sigma > 1``) are fed
    ``scale_model_input``. Schedulers that accept ``use_karras_sigmas`` get
    ``use_karras_sigmas=True`` unless ``config`` says otherwise: the default spacing
    (linspace in t) ends at t = T/n, so its last steps keep a constant size in
    log-sigma whatever n and no solver shows its order there.
``k-diffusion``
    a sampler function ``sampler(model, x, sigmas, ...)`` with ``model(x, sigma)``
    the VE denoiser; a grid uniform in :math:`\\log\\sigma` from 80 to 0.02.
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np

__all__ = ["ADAPTERS", "SIGNATURES", "resolve_adapter"]

ADAPTERS = ("toytheory", "diffusers", "k-diffusion")
SIGNATURES = ("toytheory: solver(model, x_T, grid, **options) -> x_0 "
              "(toytheory.diffusion.solvers); diffusers: a scheduler class with "
              "set_timesteps and step; k-diffusion: sampler(model, x, sigmas, ...) with "
              "model(x, sigma) -> denoised")
DEFAULT_SIZES = {"toytheory": (96, 192, 384), "diffusers": (20, 40, 80),
                 "k-diffusion": (24, 48, 96)}
FLOORS = {"toytheory": 1e-11, "diffusers": 2e-6, "k-diffusion": 1e-11}


def _param_names(fn):
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    return [p.name for p in sig.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _fail(fn, detail=""):
    got = getattr(fn, "__qualname__", type(fn).__name__)
    names = _param_names(fn)
    if names is not None:
        got += "(" + ", ".join(names) + ")"
    raise ValueError(f"solver: must match one of the signatures {SIGNATURES} (got {got}"
                     f"{detail}); adapters: {', '.join(ADAPTERS)} (adapter='auto' picks one "
                     "from the signature)")


def resolve_adapter(solver, adapter: str) -> str:
    """The adapter for ``solver`` (``adapter="auto"`` reads it off the signature)."""
    if adapter not in ("auto",) + ADAPTERS:
        raise ValueError(f"adapter: must be 'auto' or one of {', '.join(ADAPTERS)} "
                         f"(got {adapter!r})")
    is_scheduler = inspect.isclass(solver) and all(hasattr(solver, a)
                                                   for a in ("set_timesteps", "step"))
    if adapter == "diffusers" or (adapter == "auto" and is_scheduler):
        if not is_scheduler:
            _fail(solver, ": a diffusers adapter needs a scheduler class")
        return "diffusers"
    if not callable(solver) or inspect.isclass(solver):
        _fail(solver)
    names = _param_names(solver)
    if names is not None and len(names) < 3:
        _fail(solver)
    if adapter != "auto":
        return adapter
    if names is None:
        _fail(solver, ": signature not introspectable; name the adapter")
    if names[2] == "sigmas":
        return "k-diffusion"
    if names[2] == "grid":
        return "toytheory"
    _fail(solver, ": third argument must be 'grid' (toytheory) or 'sigmas' (k-diffusion)")


# ------------------------------------------------------------------ toytheory
def toytheory_runner(solver, options):
    from toytheory.diffusion import ExactModel, VPLinear
    from toytheory.diffusion.solvers import uniform_log_snr_grid

    schedule = VPLinear()

    def grid(n):
        return uniform_log_snr_grid(schedule, int(n))

    def sigmas(n):
        return np.asarray(grid(n).sigma_ve, float)

    def solve(law, y0, n):
        g = grid(n)
        model = ExactModel(law, schedule, prediction="eps")
        out = solver(model, float(g.alpha[0]) * y0, g, **options)
        return np.asarray(out, float) / float(g.alpha[-1])

    return sigmas, solve, lambda n: int(n)


# ------------------------------------------------------------------ diffusers
DIFFUSERS_CONFIG = dict(num_train_timesteps=1000, beta_schedule="scaled_linear",
                        beta_start=0.00085, beta_end=0.012)


def diffusers_runner(cls, config, options):
    import torch

    cfg = dict(DIFFUSERS_CONFIG, **(config or {}))
    try:
        accepted = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):  # pragma: no cover
        accepted = {}
    if "use_karras_sigmas" in accepted:
        # the default spacing (linspace in t, last level at t = T/n) does not refine near
        # the data end: its last steps keep a constant size in log-sigma whatever n, so no
        # solver shows its order there; Karras levels (fixed ends) refine everywhere
        cfg.setdefault("use_karras_sigmas", True)

    def make(n):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sch = cls(**cfg)
            sch.set_timesteps(int(n))
        if not hasattr(sch, "sigmas"):
            raise ValueError(f"solver: the diffusers adapter drives schedulers on their noise "
                             f"levels (a `sigmas` attribute); {cls.__name__} has none (use "
                             "its DPMSolver/UniPC/DEIS/Euler/Heun counterpart, or wrap it in "
                             "toytheory's signature)")
        return sch

    def positive(sig):
        s = sig.double().numpy()
        return s[s > 0]

    def sigmas(n):
        s = positive(make(n).sigmas)
        # Heun-type schedulers repeat each level; keep the distinct ones in order
        keep = np.concatenate([[True], np.diff(s) != 0])
        return s[keep]

    def solve(law, y0, n):
        sch = make(n)
        ve_state = float(sch.init_noise_sigma) > 1.0 + 1e-6
        all_sig = sch.sigmas.double().numpy()
        s0 = all_sig[0]
        a0 = 1.0 / math.sqrt(1.0 + s0 * s0)
        x = torch.as_tensor(y0 if ve_state else a0 * y0, dtype=torch.float64)
        target = positive(sch.sigmas).min()
        best = None
        for t in sch.timesteps:
            if getattr(sch, "step_index", None) is None and hasattr(sch, "_init_step_index"):
                sch._init_step_index(t)
            i = int(sch.step_index)
            s = float(all_sig[i])
            a = 1.0 / math.sqrt(1.0 + s * s)
            inp = sch.scale_model_input(x, t) if ve_state else x
            xv = inp.double().numpy()
            x0 = law.denoise(xv, a, s * a)
            eps = (xv - a * x0) / (s * a)
            out = sch.step(torch.as_tensor(eps, dtype=x.dtype), t, x, **options).prev_sample
            x = out
            s_next = float(all_sig[i + 1]) if i + 1 < all_sig.size else 0.0
            if s_next == target:
                a_next = 1.0 / math.sqrt(1.0 + s_next * s_next)
                y = x.double().numpy()
                best = y if ve_state else y / a_next
        if best is None:  # pragma: no cover - every scheduler steps through its levels
            raise ValueError("solver: the scheduler never reached its last positive level")
        return best

    def nfe(n):
        return len(make(n).timesteps)

    return sigmas, solve, nfe


# ------------------------------------------------------------------ k-diffusion
def kdiffusion_runner(sampler, options, sigma_max=80.0, sigma_min=0.02):
    import torch

    def sigmas(n):
        return np.exp(np.linspace(math.log(sigma_max), math.log(sigma_min), int(n) + 1))

    names = _param_names(sampler) or []
    accepts_disable = "disable" in names or any(
        p.kind is p.VAR_KEYWORD for p in inspect.signature(sampler).parameters.values())

    def solve(law, y0, n):
        def model(x, sigma):
            s = float(sigma.reshape(-1)[0])
            return torch.as_tensor(law.denoise(x.double().numpy(), 1.0, s), dtype=x.dtype)

        kw = dict(options)
        if accepts_disable:
            kw.setdefault("disable", True)
        out = sampler(model, torch.as_tensor(y0, dtype=torch.float64),
                      torch.as_tensor(sigmas(n), dtype=torch.float64), **kw)
        return out.double().numpy()

    return sigmas, solve, lambda n: int(n)

"""Drive the peer libraries (diffusers schedulers, k-diffusion samplers) with exact models.

Test-only helpers. ``load_k_diffusion_sampling`` loads ``k_diffusion/sampling.py`` on its
own: the package ``k_diffusion/__init__.py`` imports torchvision (through its layers and
evaluation modules), which does not import beside the CPU torch wheel, and the Makefile
installs k-diffusion without dependencies. ``sampling.py`` itself needs only
``k_diffusion.utils.append_dims`` (stubbed here with the same one-line definition), scipy,
torch, torchsde, tqdm and ``torchdiffeq.odeint`` (used only by ``log_likelihood``; stubbed
when torchdiffeq is absent).
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np


class PeerUnavailable(RuntimeError):
    """The peer cannot be loaded here (the message says why)."""


def load_k_diffusion_sampling():
    """``k_diffusion/sampling.py`` as a module, without importing the ``k_diffusion`` package."""
    spec = importlib.util.find_spec("k_diffusion")
    if spec is None or not spec.submodule_search_locations:
        raise PeerUnavailable("k-diffusion is not installed (test extra: "
                              "pip install --no-deps k-diffusion==0.1.1.post1)")
    path = Path(list(spec.submodule_search_locations)[0]) / "sampling.py"
    if not path.exists():
        raise PeerUnavailable(f"k-diffusion has no sampling.py at {path}")
    for dep in ("torch", "scipy", "torchsde", "tqdm"):
        if importlib.util.find_spec(dep) is None:
            raise PeerUnavailable(f"k_diffusion/sampling.py needs {dep}, which is not installed")
    import torch

    pkg_name = "_toytheory_kdiffusion"
    pkg = types.ModuleType(pkg_name)
    pkg.__path__ = []  # a namespace for the relative import `from . import utils`
    utils = types.ModuleType(pkg_name + ".utils")

    def append_dims(x, target_dims):
        """Appends dimensions to the end of a tensor until it has target_dims dimensions."""
        dims_to_append = target_dims - x.ndim
        if dims_to_append < 0:
            raise ValueError(f"input has {x.ndim} dims but target_dims is {target_dims}")
        return x[(...,) + (None,) * dims_to_append]

    utils.append_dims = append_dims
    pkg.utils = utils
    saved = {k: sys.modules.get(k) for k in (pkg_name, pkg_name + ".utils", "torchdiffeq")}
    sys.modules[pkg_name] = pkg
    sys.modules[pkg_name + ".utils"] = utils
    if importlib.util.find_spec("torchdiffeq") is None:
        stub = types.ModuleType("torchdiffeq")

        def odeint(*args, **kwargs):  # pragma: no cover - never called by the samplers
            raise PeerUnavailable("torchdiffeq is not installed (only log_likelihood needs it)")

        stub.odeint = odeint
        sys.modules["torchdiffeq"] = stub
    try:
        mod_spec = importlib.util.spec_from_file_location(pkg_name + ".sampling", path)
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[pkg_name + ".sampling"] = module
        mod_spec.loader.exec_module(module)
    except Exception as exc:  # pragma: no cover - depends on the installed peer
        raise PeerUnavailable(f"k_diffusion/sampling.py does not load on its own: {exc!r}")
    finally:
        for k, v in saved.items():
            if k == pkg_name + ".utils" or k == pkg_name:
                continue
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    del torch
    return module


def k_diffusion_denoiser(law, schedule=None):
    """A k-diffusion model ``model(x, sigma) -> x0`` in VE coordinates, exact for ``law``.

    k-diffusion's ``x`` is the VE state :math:`\\hat x = x_0 + \\hat\\sigma\\varepsilon`; the
    exact denoiser is the law's at :math:`(\\alpha, \\sigma) = (1, \\hat\\sigma)`.
    """
    import torch

    tlaw = law.to_torch(dtype=torch.float64)

    def model(x, sigma):
        s = float(sigma.reshape(-1)[0])
        out = tlaw.denoise(x.to(torch.float64), 1.0, s)
        return out.to(x.dtype)

    return model


def diffusers_schedule(scheduler):
    """A DiscreteVP with exactly the scheduler's (float32) alphas_cumprod, in float64."""
    from toytheory.diffusion.schedules import DiscreteVP

    acp = scheduler.alphas_cumprod.double().numpy()
    betas = 1.0 - acp / np.concatenate([[1.0], acp[:-1]])
    return DiscreteVP(betas, name=type(scheduler).__name__)


def diffusers_grid(scheduler, schedule, sigmas=None):
    """toytheory's grid at the scheduler's own VE levels ``scheduler.sigmas``.

    The float32 levels can fall one ulp outside the float64 schedule's range; they are
    clipped back (by at most 1e-6 relative, checked).
    """
    from toytheory.diffusion.solvers import TimeGrid

    sig = (scheduler.sigmas if sigmas is None else sigmas).double().numpy().copy()
    lo, hi = schedule.sigmas_ve[0], schedule.sigmas_ve[-1]
    body = sig > 0
    clipped = np.clip(sig[body], lo, hi)
    assert np.all(np.abs(clipped - sig[body]) <= 1e-6 * sig[body])
    sig[body] = clipped
    return TimeGrid.from_sigmas(schedule, sig)


def run_diffusers(scheduler, model, grid, x_vp, *, ve_state=False, dtype=None,
                  step_kwargs=None):
    """Run a diffusers scheduler loop with ``model`` (toytheory time, eps prediction).

    The model is evaluated at the VP point at the grid time of the scheduler's current
    sigma (never at the integer timestep). ``ve_state``: the scheduler's state is VE
    (Euler, Heun): it starts at ``x_vp / alpha_0`` and its model input is
    ``scale_model_input(x)``. Returns the states after every ``step`` call (VE states are
    converted back to VP coordinates at the next grid point).
    """
    import torch

    dtype = dtype or torch.float32
    a0 = float(grid.alpha[0])
    x = torch.as_tensor(np.asarray(x_vp) / (a0 if ve_state else 1.0), dtype=dtype)
    states = []
    sig_to_t = {float(s): t for s, t in zip(grid.sigma_ve, grid.t) if s > 0}
    for t in scheduler.timesteps:
        if scheduler.step_index is None:
            scheduler._init_step_index(t)
        s = float(scheduler.sigmas[scheduler.step_index])
        tt = _nearest_time(sig_to_t, s)
        inp = scheduler.scale_model_input(x, t) if ve_state else x
        eps = model(inp.double().numpy(), tt)
        x = scheduler.step(torch.as_tensor(eps, dtype=dtype), t, x,
                           **(step_kwargs or {})).prev_sample
        states.append(x.double().numpy().copy())
    return states


def _nearest_time(sig_to_t, s):
    keys = np.array(list(sig_to_t))
    k = keys[np.argmin(np.abs(keys - s))]
    assert abs(k - s) <= 1e-6 * s
    return float(sig_to_t[float(k)])


def max_relative(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(np.asarray(b))))

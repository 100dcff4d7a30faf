"""toytheory: exact toy-problem checks of the claims of papers about sampling.

The top-level import is deliberately light (no numpy, scipy, torch, numba or
dask): subpackages are imported on first attribute access.

Subpackages
-----------
claims
    The claim registry, the runner and the report (``toytheory verify``).
stats
    Calibrated statistical tests on counts and samples.
calibration
    Auditing a test's rejection rate under the null and its power.
gaussian_distances
    Closed-form KL divergence and 2-Wasserstein distance between Gaussians.
testing
    Hypothesis strategies and settings profiles for property suites.
diffusion, gauge, rl, sampling, adaptive, decoding, data
    The exact oracles of the areas.
conformance
    Checks that hold a user's solver, sampler, mechanism or estimator to the exact answer.
threads
    The bounded-thread policy of the paths made of many small BLAS or torch calls.
figures
    The figure registry (areas register figures; the claims side renders them).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = frozenset(
    {
        "adaptive",
        "calibration",
        "claims",
        "conformance",
        "data",
        "decoding",
        "diffusion",
        "figures",
        "gauge",
        "gaussian_distances",
        "rl",
        "sampling",
        "threads",
        "stats",
        "testing",
    }
)

__all__ = ["__version__", *sorted(_SUBMODULES)]


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'toytheory' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES)

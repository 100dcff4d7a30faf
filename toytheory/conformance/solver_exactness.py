r"""``check_solver_exactness``: the exact output law of an affine solver on Gaussian data.

On Gaussian data :math:`N(\mu, \Sigma)` the exact model is affine in the state, so any
solver built from linear combinations of states and model outputs is an affine map
:math:`y_T \mapsto My_T + c`, read here by probing
(:func:`toytheory.diffusion.affine.affine_map_of`, which checks affinity at random
points). Started from the exact marginal :math:`N(\mu, \Sigma + \sigma_0^2 I)` (VE
coordinates), its output law is exactly :math:`N(M\mu + c, M(\Sigma + \sigma_0^2I)M^\top)`.
It is held, at the solver's NFE, to the exact marginal at the last noise level,
:math:`N(\mu, \Sigma + \sigma_1^2 I)` (the data law as :math:`\sigma_1 \to 0`; its
distance to the data law is reported beside): the 2-Wasserstein distance (closed form,
Bures) must be at most ``max_w2``. With the default ``max_w2 = 1e-8`` this holds a
solver to a claim of exactness on Gaussian data; a larger value holds it to an error
budget at that NFE. The check is exact (no sampling).
"""

from __future__ import annotations

import numpy as np

from ._result import CheckResult
from . import _solver_adapters as A
from .solver_order import _runner, gaussian_problem

__all__ = ["check_solver_exactness"]


def check_solver_exactness(solver, nfe: int, *, adapter: str = "auto", law=None,
                           max_w2: float = 1e-8, options=None, config=None) -> CheckResult:
    """Hold an affine solver's exact output law on Gaussian data to the target law.

    Parameters
    ----------
    solver : callable or class
        As in :func:`~toytheory.conformance.check_solver_order`.
    nfe : int
        The number of steps ``n`` handed to the adapter (>= 1).
    adapter : {"auto", "toytheory", "diffusers", "k-diffusion"}
    law : toytheory.diffusion.Gaussian, optional
        Default: the 3-D Gaussian of :func:`~toytheory.conformance.solver_order.gaussian_problem`.
    max_w2 : float
        The largest W2 distance to the exact marginal that passes (> 0).
    options, config
        As in :func:`~toytheory.conformance.check_solver_order`.

    Returns
    -------
    CheckResult
        ``measured``: W2 and KL to the exact marginal and to the data law, output mean
        and covariance; exact (``level`` None).

    Raises
    ------
    ValueError
        A solver matching no signature (signatures and adapters are listed), ``nfe < 1``,
        a law that is not a Gaussian, ``max_w2 <= 0``, a solver that is not affine on
        Gaussian data (``fn: is not affine``).
    """
    from toytheory.diffusion import Gaussian
    from toytheory.diffusion.affine import affine_map_of, gaussian_pushforward
    from toytheory.gaussian_distances import bures_wasserstein_distance, kl_divergence_gaussians

    if isinstance(nfe, bool) or not isinstance(nfe, (int, np.integer)) or nfe < 1:
        raise ValueError(f"nfe: must be an int >= 1 (got {nfe!r})")
    if not max_w2 > 0:
        raise ValueError(f"max_w2: must be > 0 (got {max_w2!r})")
    law = gaussian_problem() if law is None else law
    if not isinstance(law, Gaussian):
        raise ValueError(f"law: must be a toytheory.diffusion.Gaussian (got {type(law).__name__})")
    adapter = A.resolve_adapter(solver, adapter)
    sigmas, solve, count = _runner(solver, adapter, dict(options or {}), config)
    s = sigmas(int(nfe))
    s0, s1 = float(s[0]), float(s[-1])
    mu, cov = law.mean_vector, law.cov
    d = law.dim
    start_cov = cov + s0 ** 2 * np.eye(d)
    aff = affine_map_of(lambda y: solve(law, np.asarray(y, float), int(nfe)), d,
                        scale=float(np.sqrt(np.max(np.diag(start_cov)))), rng=0,
                        rtol=1e-8 if adapter != "diffusers" else 1e-5)  # float32
    mean, out_cov = gaussian_pushforward(aff, mu, start_cov)
    target_cov = cov + s1 ** 2 * np.eye(d)
    w2 = float(bures_wasserstein_distance(mean, out_cov, mu, target_cov))
    kl = float(kl_divergence_gaussians(mean, out_cov, mu, target_cov))
    w2_data = float(bures_wasserstein_distance(mean, out_cov, mu, cov))
    passed = w2 <= max_w2
    name = getattr(solver, "__name__", type(solver).__name__)
    ev = [f"adapter {adapter}, n = {nfe} (NFE {count(int(nfe))}), noise levels {s0:.4g} -> "
          f"{s1:.4g}",
          f"exact output law vs exact marginal at {s1:.4g}: W2 = {w2:.4g} (at most {max_w2:g} "
          f"needed), KL = {kl:.4g} [{'ok' if passed else 'FAIL'}]",
          f"W2 to the data law itself: {w2_data:.4g} (the end level alone contributes "
          f"{float(bures_wasserstein_distance(mu, target_cov, mu, cov)):.4g})"]
    return CheckResult("check_solver_exactness", f"{name} via {adapter}", passed,
                       measured={"w2": w2, "kl": kl, "w2_to_data": w2_data, "mean": mean,
                                 "cov": out_cov},
                       bounds={"max_w2": max_w2}, level=None,
                       power=f"exact: an output law at W2 > {max_w2:g} from the target fails "
                             "with certainty (no sampling)",
                       evidence=ev)

"""Check your own implementation against the exact answer, in one line of a test suite.

Each check takes your callable, runs it on exact problems from toytheory's oracles and
returns a :class:`CheckResult` (measured numbers, bounds, level, power statement,
verdict); ``bool(result)`` is the verdict and ``result.assert_ok()`` raises an
``AssertionError`` whose message is the evidence::

    from toytheory.conformance import check_solver_order
    check_solver_order(MyScheduler, order=2).assert_ok()

Statistical checks run at ``level`` (default 1e-6: a correct implementation fails with
at most that probability) and state, in ``result.power``, the error they detect at
their size with probability at least ``1 - miss`` (default ``miss = level``). Exact
checks (solver order and exactness, pass@k, sensitivities) have no randomness.

check_solver_order
    fitted order of a diffusion ODE solver on exact Gaussian and GMM problems
    (toytheory solvers, diffusers scheduler classes, k-diffusion samplers).
check_solver_exactness
    exact output law of an affine solver on Gaussian data at a given NFE.
check_sampler_law
    draws against an exact law: KS on projections, or chi-square on counts.
check_dpp_sampler
    a DPP or volume sampler's subset law, by enumeration.
check_dp_mechanism
    an (epsilon, delta) claim, by the histogram audit at an exact level
    (:func:`from_opendp` adapts an OpenDP measurement).
check_sensitivities
    l_p sensitivity or Lewis-weight estimates against certified values.
check_pass_at_k
    a pass@k estimator's exact bias and variance.
check_speculative_decoder
    output law equal to the target's, acceptance against the optimum.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "CheckResult": "_result", "DEFAULT_LEVEL": "_result",
    "configure": "_defaults",
    "check_solver_order": "solver_order", "check_solver_exactness": "solver_exactness",
    "check_sampler_law": "sampler_law", "check_dpp_sampler": "dpp_sampler",
    "check_dp_mechanism": "dp_mechanism", "from_opendp": "dp_mechanism",
    "check_sensitivities": "sensitivities", "check_pass_at_k": "pass_at_k",
    "check_speculative_decoder": "speculative",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

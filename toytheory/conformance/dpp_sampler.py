r"""``check_dpp_sampler``: a DPP or volume sampler's subset law, by enumeration (small N).

The exact law is enumerated: :math:`P(S) = \det K_S` for a projection DPP with kernel
:math:`K` (:func:`toytheory.sampling.dpp.projection_dpp_law`), or
:math:`P(S) \propto \det(X_S^\top X_S)` for size-``k`` volume sampling
(:func:`toytheory.sampling.volume.volume_sampling_law`). The sampler's draws are
counted per subset and held to it with the chi-square test of
:func:`~toytheory.conformance.check_sampler_law` (its power statement applies, in total
variation over subsets). A draw that is not a subset of the support (a repeated item,
an item out of range, the wrong size) fails the check at once: that is a certain error,
not a statistical one.
"""

from __future__ import annotations

import numpy as np

from ._defaults import resolve_level, resolve_seed
from ._result import CheckResult, check_callable
from .sampler_law import check_sampler_law

__all__ = ["check_dpp_sampler"]

_SIG = "sampler(rng) -> one subset (array of distinct item indices)"


def check_dpp_sampler(sampler, kernel=None, *, volume=None, n_samples: int | None = None,
                      level: float | None = None, miss: float | None = None,
                      detectable: float | None = None, seed: int | None = None) -> CheckResult:
    """Hold a DPP (or volume) sampler's subset law to the enumerated exact law.

    Parameters
    ----------
    sampler : callable
        ``sampler(rng)`` returns one subset as an array of distinct indices in
        ``0..N-1`` (any order), drawing from the numpy Generator ``rng``.
    kernel : (N, N) array, optional
        An orthogonal projection: the sampler is a projection DPP with this kernel.
    volume : (x, k), optional
        Instead of ``kernel``: size-``k`` volume sampling of the rows of ``x`` (n, d).
    n_samples, level, miss, detectable, seed
        As in :func:`~toytheory.conformance.check_sampler_law` (default 20 000 draws,
        level 1e-6); ``detectable`` is a total variation over subsets.

    Returns
    -------
    CheckResult

    Raises
    ------
    ValueError
        Wrong signature, neither or both of ``kernel`` and ``volume``, a kernel that is
        not a projection or with too many subsets to enumerate, level outside (0, 1), too
        few samples for ``detectable`` (the minimum is named).
    """
    from toytheory.sampling.dpp import projection_dpp_law
    from toytheory.sampling.volume import volume_sampling_law

    check_callable("sampler", sampler, 1, _SIG,
                   "DPPy: lambda rng: dpp.sample_exact(random_state=np.random.RandomState("
                   "rng.integers(2**31)))")
    if (kernel is None) == (volume is None):
        raise ValueError("kernel, volume: give exactly one (a projection kernel, or (x, k))")
    if kernel is not None:
        subsets, probs = projection_dpp_law(kernel)
        n_items, what = np.asarray(kernel).shape[0], "projection DPP"
    else:
        try:
            x, k = volume
        except (TypeError, ValueError):
            raise ValueError("volume: must be a pair (x, k)") from None
        subsets, probs = volume_sampling_law(x, k)
        n_items, what = np.asarray(x).shape[0], f"volume sampling (k = {k})"
    probs = probs / probs.sum()
    level = resolve_level(level)
    seed = resolve_seed(seed, "check_dpp_sampler")
    index = {s: i for i, s in enumerate(subsets)}
    size = len(subsets[0])
    bad: list = []

    def categorical(n, rng):
        out = np.empty(n, dtype=np.int64)
        for j in range(n):
            s = np.asarray(sampler(rng)).ravel()
            key = tuple(sorted(int(i) for i in s))
            pos = index.get(key)
            if pos is None:
                bad.append(s.tolist())
                pos = 0
            out[j] = pos
        return out

    res = check_sampler_law(categorical, probs, n_samples=n_samples, level=level, miss=miss,
                            detectable=detectable, seed=seed)
    name = getattr(sampler, "__name__", type(sampler).__name__)
    ev = [f"{what} on N = {n_items} items: {len(subsets)} subsets of size {size} enumerated"]
    if bad:
        ev.append(f"{len(bad)} draw(s) outside the support (size {size}, distinct items in "
                  f"0..{n_items - 1}); first: {bad[0]} [FAIL]")
    ev += res.evidence
    return CheckResult("check_dpp_sampler", name, res.passed and not bad,
                       measured=dict(res.measured, invalid_draws=len(bad)), bounds=res.bounds,
                       level=level, power=res.power + "; any draw outside the support fails",
                       evidence=ev)

"""Many seeds of an adaptive analyst against a mechanism, in one Numba kernel.

An independent simulator of the interaction that
:func:`toytheory.adaptive.analysts.run_interaction` plays with Python objects:
the population, the mechanisms and the analysts are re-implemented here from
their definitions (nothing from ``toytheory.adaptive`` is called), so the two
can be checked against each other in distribution.

Population: :math:`x \\sim \\mathrm{Unif}\\{-1,+1\\}^{m-1}`, :math:`y \\sim
\\mathrm{Unif}\\{-1,+1\\}` independent of ``x``; every query below has true
answer exactly 1/2.

Round ``j < m - 1``: the coordinate query :math:`\\mathbf 1\\{x_j = y\\}` (its
loss :math:`\\mathbf 1\\{x_j \\ne y\\}` for the boosting attack). Round ``m``: a
halfspace query :math:`\\mathbf 1\\{y\\,w\\cdot x > 0\\} + \\frac12\\mathbf 1\\{w\\cdot x = 0\\}`
(its loss for boosting) with

- ``attack="log_odds"``: :math:`w_j = \\ln(a_j/(1-a_j))`, answers clipped to ``[clip, 1-clip]``;
- ``attack="boosting"``: :math:`w_j = \\mathbf 1\\{a_j \\le 1/2\\}`;
- ``attack="non_adaptive"``: :math:`w \\sim N(0, I)` drawn before any answer.

Mechanisms: ``empirical``; ``splitting`` (query ``j`` on rows
``[j p, (j+1) p)``, :math:`p = \\lfloor n/m\\rfloor`); ``laplace`` (``+ scale * Lap(1)``);
``gaussian`` (``+ scale * N(0, 1)``).

Randomness: every repetition has its own splitmix64 stream seeded from
``(seed, repetition)``, so results do not depend on the number of threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from sims._splitmix import GOLDEN_GAMMA, mix64, next64
from toytheory._validation import check_int, check_real

ATTACKS = {"log_odds": 0, "boosting": 1, "non_adaptive": 2}
MECHANISMS = {"empirical": 0, "splitting": 1, "laplace": 2, "gaussian": 3}


@njit(cache=True, inline="always")
def _uniform(state):
    """A double in (0, 1)."""
    state, z = next64(state)
    return state, (np.float64(z >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _laplace(state):
    state, u = _uniform(state)
    u -= 0.5
    if u < 0.0:
        return state, math.log1p(2.0 * u)
    return state, -math.log1p(-2.0 * u)


@njit(cache=True)
def _normal(state):
    state, u1 = _uniform(state)
    state, u2 = _uniform(state)
    return state, math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True)
def _noise(state, mechanism, scale):
    if mechanism == 2:
        state, e = _laplace(state)
        return state, scale * e
    if mechanism == 3:
        state, e = _normal(state)
        return state, scale * e
    return state, 0.0


@njit(parallel=True, cache=True)
def _attack_kernel(seed, reps, n, m, attack, mechanism, scale, clip, out):
    k = m - 1
    part = n // m
    for r in prange(reps):
        state = mix64(np.uint64(seed) * GOLDEN_GAMMA + np.uint64(r) + np.uint64(1))
        weights = np.zeros(k)
        if attack == 2:
            for j in range(k):
                state, weights[j] = _normal(state)
        # data: x in {-1,+1}^k and y, stored as z = y x
        z = np.empty((n, k), dtype=np.int8)
        bits = np.uint64(0)
        left = 0
        for i in range(n):
            if left == 0:
                state, bits = next64(state)
                left = 64
            y = np.int8(1) if (bits & np.uint64(1)) else np.int8(-1)
            bits >>= np.uint64(1)
            left -= 1
            for j in range(k):
                if left == 0:
                    state, bits = next64(state)
                    left = 64
                x = np.int8(1) if (bits & np.uint64(1)) else np.int8(-1)
                bits >>= np.uint64(1)
                left -= 1
                z[i, j] = x * y
        worst = 0.0
        first_max = 0.0
        sample_dev = 0.0
        answers = np.empty(k)
        for j in range(k):
            lo, hi = (j * part, (j + 1) * part) if mechanism == 1 else (0, n)
            agree = 0
            for i in range(lo, hi):
                if z[i, j] > 0:
                    agree += 1
            emp = agree / (hi - lo)
            if attack == 1:
                emp = 1.0 - emp
            state, e = _noise(state, mechanism, scale)
            a = emp + e
            answers[j] = a
            sample_dev = max(sample_dev, abs(e))
            first_max = max(first_max, abs(a - 0.5))
        if attack == 0:
            for j in range(k):
                a = min(max(answers[j], clip), 1.0 - clip)
                weights[j] = math.log(a / (1.0 - a))
        elif attack == 1:
            for j in range(k):
                weights[j] = 1.0 if answers[j] <= 0.5 else 0.0
        lo, hi = ((m - 1) * part, m * part) if mechanism == 1 else (0, n)
        total = 0.0
        for i in range(lo, hi):
            s = 0.0
            for j in range(k):
                s += weights[j] * z[i, j]
            if s > 0.0:
                total += 1.0
            elif s == 0.0:
                total += 0.5
        emp = total / (hi - lo)
        if attack == 1:
            emp = 1.0 - emp
        state, e = _noise(state, mechanism, scale)
        a = emp + e
        sample_dev = max(sample_dev, abs(e))
        worst = max(first_max, abs(a - 0.5))
        out[r, 0] = worst
        out[r, 1] = a - 0.5
        out[r, 2] = first_max
        out[r, 3] = sample_dev


def simulate_attack(n: int, m: int, reps: int, *, attack: str = "log_odds",
                    mechanism: str = "empirical", scale: float = 0.0, clip: float = 1e-3,
                    seed: int = 0) -> dict:
    """Run ``reps`` independent interactions of ``m`` rounds on ``n`` points.

    Parameters
    ----------
    n, m, reps : int
        Sample size, rounds (queries, >= 2), repetitions.
    attack : {"log_odds", "boosting", "non_adaptive"}
    mechanism : {"empirical", "splitting", "laplace", "gaussian"}
    scale : float
        Laplace scale or Gaussian standard deviation (finite; > 0 for those
        two mechanisms, >= 0 and ignored otherwise).
    clip : float
        The log-odds attack's clipping of answers, in ``(0, 1/2)``.
    seed : int
        In ``[0, 2^63)``.

    Raises
    ------
    ValueError
        Naming the argument: ``n``, ``m``, ``reps`` and ``seed`` must be
        integers (bools refused), ``scale`` and ``clip`` finite real numbers
        in range, ``attack`` and ``mechanism`` known names.

    Returns
    -------
    dict of (reps,) arrays
        ``worst_error`` :math:`\\max_i |a_i - 1/2|`; ``final_signed``
        :math:`a_m - 1/2`; ``first_stage_max`` the worst of the first ``m - 1``;
        ``noise_max`` :math:`\\max_i |a_i - \\mathbb{E}_{S'}\\phi_i|` (the
        mechanism's noise, ``S'`` the rows that answered query ``i``).
    """
    if not isinstance(attack, str) or attack not in ATTACKS:
        raise ValueError(f"attack: must be one of {sorted(ATTACKS)} (got {attack!r})")
    if not isinstance(mechanism, str) or mechanism not in MECHANISMS:
        raise ValueError(f"mechanism: must be one of {sorted(MECHANISMS)} (got {mechanism!r})")
    m = check_int("m", m, low=2)
    n = check_int("n", n, low=1)
    if mechanism == "splitting" and n < m:
        raise ValueError(f"m: the sample of n = {n} points is too small to split into "
                         f"m = {m} parts (need n >= m)")
    reps = check_int("reps", reps, low=1)
    noisy = mechanism in ("laplace", "gaussian")
    scale = check_real("scale", scale, low=0.0, low_open=noisy)
    clip = check_real("clip", clip, low=0.0, high=0.5, low_open=True, high_open=True)
    seed = check_int("seed", seed, low=0, high=2**63 - 1)
    out = np.empty((int(reps), 4))
    _attack_kernel(int(seed), int(reps), int(n), int(m), ATTACKS[attack], MECHANISMS[mechanism],
                   float(scale), float(clip), out)
    return {"worst_error": out[:, 0], "final_signed": out[:, 1],
            "first_stage_max": out[:, 2], "noise_max": out[:, 3]}

"""SplitMix64, the counter-based random stream of the Numba simulators.

Steele, Lea and Flood, "Fast splittable pseudorandom number generators" (OOPSLA 2014),
in the form of Vigna's reference ``splitmix64.c``: the state advances by the golden-ratio
increment :math:`\\gamma = \\texttt{0x9E3779B97F4A7C15}` and each output is the state passed
through the finaliser :func:`mix64`. Every simulator seeds one independent stream per
repetition or per fixed-size chunk (:func:`stream_state`), so results do not depend on the
number of threads. All arithmetic is on ``uint64`` and wraps modulo :math:`2^{64}`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["GOLDEN_GAMMA", "STREAM_KEY", "mix64", "next64", "next_uniform53", "stream_state"]

GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
"""SplitMix64's increment, :math:`\\lfloor 2^{64}/\\varphi \\rceil` made odd."""

STREAM_KEY = np.uint64(0xD1B54A32D192ED03)
"""The odd constant that separates the streams of :func:`stream_state`."""


@njit(cache=True, inline="always")
def mix64(z):
    """SplitMix64's finaliser (Stafford's variant 13): the output for state ``z``, 64 bits."""
    z = np.uint64(z)      # a Python int under 2^63 would otherwise type as int64
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def next64(state):
    """One step: ``(new state, 64 random bits)``."""
    state = np.uint64(state) + GOLDEN_GAMMA
    return state, mix64(state)


@njit(cache=True, inline="always")
def next_uniform53(state):
    """One step: ``(new state, u)`` with ``u = k 2^-53`` on the grid of [0, 1), ``k`` the top
    53 bits of the output (so ``u < p`` exactly when ``k < ceil(p 2^53)``)."""
    state, z = next64(state)
    return state, (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def stream_state(seed, index):
    """The starting state of stream ``index`` under ``seed``: one SplitMix64 step from
    ``(seed * gamma + index) xor STREAM_KEY``."""
    s = np.uint64(seed) * GOLDEN_GAMMA + np.uint64(index)
    s, _ = next64(s ^ STREAM_KEY)
    return s

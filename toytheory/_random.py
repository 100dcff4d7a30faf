"""Random-number conventions: every drawing function takes ``rng``."""

from __future__ import annotations

import hashlib
import numbers

import numpy as np

__all__ = ["as_generator", "derive_seed"]


def as_generator(rng=None) -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` from ``rng``.

    Parameters
    ----------
    rng : numpy.random.Generator, int, numpy.random.SeedSequence or None
        A generator is returned as is (so that a caller's stream advances); an
        int or a seed sequence seeds a new PCG64 generator; None draws fresh
        entropy (only for interactive use: claims and tests always seed).
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if int(rng) < 0:
            raise ValueError(f"rng: must be a non-negative seed (got {int(rng)})")
        return np.random.default_rng(int(rng))
    raise ValueError(
        "rng: must be a numpy.random.Generator, a non-negative int seed, a SeedSequence "
        f"or None (got {type(rng).__name__})"
    )


def derive_seed(seed: int, *labels: str) -> int:
    """A stable 32-bit seed for ``labels`` under a run seed.

    The same (seed, labels) always give the same integer, on every platform
    and Python version (SHA-256, not ``hash``), so that each claim's
    randomness does not depend on which other claims run or in what order.
    """
    digest = hashlib.sha256(("\x1f".join([str(int(seed)), *labels])).encode()).digest()
    return int.from_bytes(digest[:4], "little")

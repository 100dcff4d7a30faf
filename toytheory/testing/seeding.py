"""Seeding the global generators a test may touch without asking for a generator."""

from __future__ import annotations

import random
import sys

__all__ = ["seed_global_generators"]

_NUMBA_SEED = None


def _seed_numba(seed: int) -> None:
    """Seed Numba's per-thread ``np.random`` state (separate from numpy's)."""
    global _NUMBA_SEED
    if _NUMBA_SEED is None:
        import numba
        import numpy as np

        @numba.njit(cache=False)
        def _numba_seed(s):
            np.random.seed(s)

        _NUMBA_SEED = _numba_seed
    _NUMBA_SEED(seed)


def seed_global_generators(seed: int) -> list[str]:
    """Seed every global generator already imported from ``seed``; return their names.

    Python's ``random`` and numpy's legacy state (``np.random.seed``) always; torch's
    default generator (``torch.manual_seed``, which seeds every CUDA device too) and
    Numba's per-thread ``np.random`` state (a jitted ``np.random.seed``: Numba's state is
    separate from numpy's) only when torch or Numba is already in ``sys.modules`` (this
    function never imports them). toytheory's own code draws from explicit generators;
    this is for the code under test that does not.

    Parameters
    ----------
    seed : int
        In ``[0, 2**32)``.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"seed: must be an int in [0, 2**32) (got {seed!r})")
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    seeded = ["random", "numpy"]
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "manual_seed"):
        torch.manual_seed(seed)  # also seeds every CUDA device
        seeded.append("torch")
    if "numba" in sys.modules:
        _seed_numba(seed)
        seeded.append("numba")
    return seeded

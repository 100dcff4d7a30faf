"""Literal seeds in tests, made reseedable: ``reseed(7)`` is 7 under the default suite
seed (0) and a seed derived from (suite seed, 7) under any other, so that
``TOYTHEORY_TEST_SEED=S`` (or ``--toytheory-seed S``) moves every test, including those
that name their seeds (``np.random.default_rng(reseed(7))``, ``kernel(..., seed=reseed(3))``).

The suite seed is read from ``$TOYTHEORY_TEST_SEED``, which ``tests/conftest.py`` sets
from the option before any test module is imported (and pytest-xdist workers inherit).
"""

from __future__ import annotations

import os

SEED_ENV = "TOYTHEORY_TEST_SEED"


def reseed(seed: int) -> int:
    """``seed`` itself under suite seed 0, else a 32-bit seed derived from both."""
    suite = int(os.environ.get(SEED_ENV, "0") or 0)
    if suite == 0:
        return seed
    from toytheory._random import derive_seed

    return derive_seed(suite, "literal", str(int(seed)))

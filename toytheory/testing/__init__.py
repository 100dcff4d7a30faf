"""Hypothesis strategies and assertion helpers for property suites (ours and yours).

Settings profiles (registered on import, chosen by the environment variable
``TOYTHEORY_HYPOTHESIS_PROFILE``; call :func:`load_profile` in a conftest):

``ci`` (default)
    derandomized, 50 examples, no deadline: the same examples on every run.
``ci-seeded``
    the ``ci`` counts, seeded: honours ``--hypothesis-seed`` (chosen in place of
    ``ci`` by ``load_profile(seeded=True)``).
``dev``
    random, 20 examples: fast local iteration.
``thorough``
    random, 1000 examples.

:func:`seed_global_generators` seeds Python's ``random``, numpy's global state and,
when already imported, torch and Numba's own ``np.random`` from one integer (the
test suite calls it before every test with the test's seed).

Importing this module needs ``hypothesis`` (a test extra).

:mod:`toytheory.testing.pytest_plugin` is toytheory's pytest plugin (the ``pytest11``
entry point ``toytheory``): the suite seed (``--toytheory-seed``), the level of the
conformance checks (``--toytheory-level``), seed and exact-problem fixtures, the
``toytheory`` marker.
"""

from .profiles import PROFILE_ENV, choose_profile, load_profile, register_profiles
from .seeding import seed_global_generators
from .strategies import (
    finite_floats,
    gaussian_params,
    probability_vectors,
    psd_matrices,
    rngs,
    seeds,
    spd_matrices,
)

__all__ = [
    "PROFILE_ENV", "choose_profile", "load_profile", "register_profiles", "seed_global_generators",
    "finite_floats", "gaussian_params", "probability_vectors", "psd_matrices", "rngs", "seeds",
    "spd_matrices",
]

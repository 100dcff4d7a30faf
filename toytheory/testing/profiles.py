"""Hypothesis settings profiles: ``ci`` (default), ``ci-seeded``, ``dev``, ``thorough``.

``ci``
    derandomized, 50 examples, no deadline: the same examples on every run (each
    test's examples are a function of the test's own code), so CI is deterministic.
``ci-seeded``
    the ``ci`` example counts, *not* derandomized and with no example database, so
    that a seed (``--hypothesis-seed S`` on pytest, or the suite seed) decides the
    examples: the same seed gives the same examples, another seed other examples. A
    derandomized profile ignores ``--hypothesis-seed``; this one honours it.
``dev``
    random, 20 examples: fast local iteration.
``thorough``
    random, 1000 examples.
"""

from __future__ import annotations

import os

PROFILE_ENV = "TOYTHEORY_HYPOTHESIS_PROFILE"
PROFILES = ("ci", "ci-seeded", "dev", "thorough")
CI_EXAMPLES = 50


def register_profiles() -> None:
    """Register the four profiles with hypothesis (idempotent)."""
    from hypothesis import HealthCheck, settings

    common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("ci", max_examples=CI_EXAMPLES, derandomize=True,
                              print_blob=True, **common)
    settings.register_profile("ci-seeded", max_examples=CI_EXAMPLES, derandomize=False,
                              database=None, print_blob=True, **common)
    settings.register_profile("dev", max_examples=20, **common)
    settings.register_profile("thorough", max_examples=1000, **common)


def choose_profile(name: str | None = None, *, seeded: bool = False) -> str:
    """The profile to load: ``name``, else ``$TOYTHEORY_HYPOTHESIS_PROFILE``, else ``ci``.

    ``seeded`` (a seed was given, so the examples must follow it) turns ``ci`` into
    ``ci-seeded``; the other profiles are random already and honour a seed as they are.

    Raises
    ------
    ValueError
        If the name is not one of the registered profiles.
    """
    chosen = name or os.environ.get(PROFILE_ENV, "ci")
    if chosen not in PROFILES:
        raise ValueError(f"{PROFILE_ENV}: must be one of {', '.join(PROFILES)} (got {chosen!r})")
    if seeded and chosen == "ci":
        chosen = "ci-seeded"
    return chosen


def load_profile(name: str | None = None, *, seeded: bool = False) -> str:
    """Load the profile :func:`choose_profile` picks and return its name.

    Raises
    ------
    ValueError
        If the name is not one of the registered profiles.
    """
    from hypothesis import settings

    chosen = choose_profile(name, seeded=seeded)
    register_profiles()
    settings.load_profile(chosen)
    return chosen

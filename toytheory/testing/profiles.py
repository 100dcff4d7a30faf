"""Hypothesis settings profiles: ``ci`` (default), ``dev``, ``thorough``."""

from __future__ import annotations

import os

PROFILE_ENV = "TOYTHEORY_HYPOTHESIS_PROFILE"
PROFILES = ("ci", "dev", "thorough")


def register_profiles() -> None:
    """Register the three profiles with hypothesis (idempotent)."""
    from hypothesis import HealthCheck, settings

    common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("ci", max_examples=50, derandomize=True, print_blob=True,
                              **common)
    settings.register_profile("dev", max_examples=20, **common)
    settings.register_profile("thorough", max_examples=1000, **common)


def load_profile(name: str | None = None) -> str:
    """Load ``name`` or the profile named by ``$TOYTHEORY_HYPOTHESIS_PROFILE`` (default ``ci``).

    Raises
    ------
    ValueError
        If the name is not one of ``ci``, ``dev``, ``thorough``.
    """
    from hypothesis import settings

    chosen = name or os.environ.get(PROFILE_ENV, "ci")
    if chosen not in PROFILES:
        raise ValueError(f"{PROFILE_ENV}: must be one of {', '.join(PROFILES)} (got {chosen!r})")
    register_profiles()
    settings.load_profile(chosen)
    return chosen

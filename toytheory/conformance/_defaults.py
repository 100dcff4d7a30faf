"""Session defaults of the checks: the level and the seed (set by the pytest plugin).

A check called with ``level=None`` uses :func:`default_level` (1e-6 unless the plugin's
``--toytheory-level`` set another); a statistical check called with ``seed=None`` draws
from :func:`default_seed`, derived from the session seed (``--toytheory-seed`` /
``$TOYTHEORY_TEST_SEED`` under the plugin, else 0), the running test's id and the
check's name, so one option reseeds every statistical check and the same seed repeats
every draw.
"""

from __future__ import annotations

from ._result import DEFAULT_LEVEL, check_level

__all__ = ["configure", "default_level", "default_seed", "resolve_level", "resolve_seed"]

_STATE = {"level": DEFAULT_LEVEL, "seed": 0, "context": ""}


def configure(*, level: float | None = None, seed: int | None = None,
              context: str | None = None) -> dict:
    """Set the session defaults; return the previous ones (for restoring).

    Raises
    ------
    ValueError
        ``level`` outside (0, 1); ``seed`` not a non-negative int.
    """
    previous = dict(_STATE)
    if level is not None:
        _STATE["level"] = check_level("level", level)
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed: must be a non-negative int (got {seed!r})")
        _STATE["seed"] = seed
    if context is not None:
        _STATE["context"] = str(context)
    return previous


def default_level() -> float:
    return float(_STATE["level"])


def default_seed(label: str) -> int:
    """A 32-bit seed from the session seed, the running test's id and ``label``."""
    from toytheory._random import derive_seed

    return derive_seed(int(_STATE["seed"]), str(_STATE["context"]), label)


def resolve_level(level) -> float:
    return default_level() if level is None else check_level("level", level)


def resolve_seed(seed, label: str) -> int:
    if seed is None:
        return default_seed(label)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 63:
        raise ValueError(f"seed: must be a non-negative int or None (got {seed!r})")
    return seed

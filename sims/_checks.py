"""Argument checks shared by the simulators."""

from __future__ import annotations


def check_schedule_like(schedule, methods: tuple[str, ...]):
    """Refuse anything but a schedule instance with the callable ``methods`` a kernel uses.

    A :class:`~toytheory.diffusion.schedules.NoiseSchedule`, or a wrapper of one that
    has the methods (the planted-bug tests wrap schedules), passes.

    Raises
    ------
    ValueError
        ``schedule: ...`` for a class instead of an instance, or for an object that
        lacks one of ``methods``.
    """
    if isinstance(schedule, type):
        raise ValueError(f"schedule: must be a NoiseSchedule instance (got the class "
                         f"{schedule.__name__})")
    missing = [a for a in methods if not callable(getattr(schedule, a, None))]
    if missing:
        raise ValueError(f"schedule: must be a NoiseSchedule (or have methods "
                         f"{', '.join(methods)}) (got {type(schedule).__name__}, "
                         f"which lacks {', '.join(missing)})")
    return schedule

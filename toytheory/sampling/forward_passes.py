"""Counting forward passes of hierarchical samplers, exactly (rationals).

Source paper: "Efficient Neural Music Generation" (MeLoDy), whose abstract reports that
MeLoDy saves 95.7% and 99.6% of MusicLM's forward passes for 10 s and 30 s of music.

- :func:`autoregressive_passes`: one forward pass per generated token, for a hierarchy of
  token streams with the given rates (tokens per second), over ``seconds``.
- :func:`implied_growth`: the smallest ratio ``M(long) / M(short)`` of the baseline's
  passes that two reported savings ``s_short``, ``s_long`` (each rounded to ``decimals``
  places of a percent) allow, when the new method's passes do not decrease with length:
  ``M = N / (1 - s)`` and ``N(long) >= N(short)`` give
  ``M(long) / M(short) >= (1 - s_short) / (1 - s_long)``, smallest at the rounding edges.
"""

from __future__ import annotations

from fractions import Fraction

from .._validation import check_int, check_real

__all__ = ["autoregressive_passes", "implied_growth", "remaining_passes"]


def _fraction(name: str, value) -> Fraction:
    if isinstance(value, Fraction):
        return value
    check_real(name, value)
    return Fraction(str(value))


def autoregressive_passes(rates, seconds) -> Fraction:
    """``sum_i rate_i * seconds``: one pass per token of every stream."""
    total = Fraction(0)
    if len(rates) == 0:
        raise ValueError("rates: must name at least one token stream")
    for r in rates:
        r = _fraction("rates", r)
        if r <= 0:
            raise ValueError(f"rates: must be > 0 tokens per second (got {r})")
        total += r
    s = _fraction("seconds", seconds)
    if s <= 0:
        raise ValueError(f"seconds: must be > 0 (got {s})")
    return total * s


def _saving_edges(name: str, saving_percent, decimals: int) -> tuple[Fraction, Fraction]:
    s = _fraction(name, saving_percent)
    if not 0 <= s < 100:
        raise ValueError(f"{name}: must be a percentage in [0, 100) (got {s})")
    half = Fraction(1, 2 * 10 ** decimals)
    return (max(s - half, Fraction(0)) / 100, min(s + half, Fraction(100)) / 100)


def implied_growth(saving_short, saving_long, decimals: int = 1) -> Fraction:
    """Smallest ``M(long) / M(short)`` the two rounded savings (percent) allow."""
    decimals = check_int("decimals", decimals, low=0, high=6)
    _, hi_short = _saving_edges("saving_short", saving_short, decimals)
    lo_long, _ = _saving_edges("saving_long", saving_long, decimals)
    if hi_short >= 1 or lo_long >= 1:
        raise ValueError("saving_short: its rounding interval reaches 100%")
    # smallest numerator (largest short saving), largest denominator (smallest long saving)
    return (1 - hi_short) / (1 - lo_long)


def remaining_passes(baseline_passes, saving_percent, decimals: int = 1) -> Fraction:
    """The most passes a method can make and still save ``saving_percent`` (rounded)."""
    decimals = check_int("decimals", decimals, low=0, high=6)
    base = _fraction("baseline_passes", baseline_passes)
    if base <= 0:
        raise ValueError("baseline_passes: must be > 0")
    lo, _ = _saving_edges("saving_percent", saving_percent, decimals)
    return base * (1 - lo)

"""The result every conformance check returns, and the checks' shared argument validation."""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["CheckResult", "DEFAULT_LEVEL", "check_level", "check_callable", "power_z"]

#: the default level of every statistical check (and its default miss probability)
DEFAULT_LEVEL = 1e-6


@dataclass
class CheckResult:
    """What a conformance check measured, against what, and its verdict.

    Attributes
    ----------
    check : str
        The check's name (``"check_solver_order"``, ...).
    subject : str
        What was checked (the callable's name and adapter).
    passed : bool
        The verdict. ``bool(result)`` is ``passed``.
    measured : dict
        The measured numbers (errors, slopes, statistics, counts).
    bounds : dict
        What each measured number was held to.
    level : float or None
        For a statistical check, the probability that a correct implementation
        fails it (at most); ``None`` for an exact (deterministic) check.
    power : str
        What error the check detects at this size, and with what probability.
    evidence : list of str
        One line per comparison, in the order made; the assertion message.

    Notes
    -----
    ``result.assert_ok()`` raises ``AssertionError`` with :meth:`report` as message; a
    plain ``assert check_x(...)`` under pytest shows the repr: the verdict and the first
    failing comparison.
    """

    check: str
    subject: str
    passed: bool
    measured: dict = field(default_factory=dict)
    bounds: dict = field(default_factory=dict)
    level: float | None = None
    power: str = ""
    evidence: list = field(default_factory=list)

    __test__ = False

    def __bool__(self) -> bool:
        return bool(self.passed)

    @property
    def verdict(self) -> str:
        """``"pass"`` or ``"fail"``."""
        return "pass" if self.passed else "fail"

    def report(self) -> str:
        """The evidence as text: the verdict, each comparison, the level and the power."""
        lines = [f"{self.check}({self.subject}): {self.verdict.upper()}"]
        lines += [f"  {line}" for line in self.evidence]
        if self.level is not None:
            lines.append(f"  level: a correct implementation fails with probability <= "
                         f"{self.level:g}")
        else:
            lines.append("  exact check (no randomness in the verdict)")
        if self.power:
            lines.append(f"  power: {self.power}")
        return "\n".join(lines)

    __str__ = report

    def __repr__(self) -> str:
        """One line: the verdict and the first failing comparison (what a plain ``assert``
        under pytest prints; :meth:`report` has every line)."""
        head = f"{self.check}({self.subject}): {self.verdict.upper()}"
        bad = [line for line in self.evidence if "FAIL" in line or "REJECT" in line]
        return head + (f" -- {bad[0]}" if bad and not self.passed else "")

    def assert_ok(self) -> "CheckResult":
        """Raise ``AssertionError`` with the evidence as message unless the check passed.

        Returns the result itself when it passed, so ``check_x(...).assert_ok()`` reads
        as one line in a test.
        """
        if not self.passed:
            raise AssertionError(self.report())
        return self

    def as_dict(self) -> dict:
        return {"check": self.check, "subject": self.subject, "verdict": self.verdict,
                "measured": _plain(self.measured), "bounds": _plain(self.bounds),
                "level": self.level, "power": self.power, "evidence": list(self.evidence)}


def _plain(obj: Any):
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def check_level(name: str, level) -> float:
    """``level`` as a float in the open interval (0, 1), else ``ValueError`` naming ``name``."""
    if isinstance(level, bool):
        raise ValueError(f"{name}: must be a number in (0, 1) (got {level!r})")
    try:
        value = float(level)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a number in (0, 1) (got {level!r})") from None
    if not 0.0 < value < 1.0 or math.isnan(value):
        raise ValueError(f"{name}: must be in (0, 1) (got {level!r})")
    return value


def _positional_capacity(fn: Callable) -> tuple[int, int] | None:
    """(required, maximum) positional arguments of ``fn``; None when not introspectable."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    required, maximum = 0, 0
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            maximum += 1
            if p.default is p.empty:
                required += 1
        elif p.kind is p.VAR_POSITIONAL:
            maximum = 10 ** 6
    return required, maximum


def check_callable(name: str, fn, n_args: int, expected: str, adapters: str = "") -> Callable:
    """``fn`` if it is callable with ``n_args`` positional arguments, else ``ValueError``.

    The message says which signature was expected and which adapters exist.
    """
    tail = f"; adapters: {adapters}" if adapters else ""
    if not callable(fn):
        raise ValueError(f"{name}: must be a callable {expected} (got {type(fn).__name__}){tail}")
    cap = _positional_capacity(fn)
    if cap is not None and not cap[0] <= n_args <= cap[1]:
        try:
            got = str(inspect.signature(fn))
        except (TypeError, ValueError):  # pragma: no cover
            got = "?"
        raise ValueError(f"{name}: must be a callable {expected} (got {_name(fn)}{got}){tail}")
    return fn


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__


def power_z(level: float) -> float:
    """The one-sided standard normal quantile :math:`z_{1-\\text{level}}`."""
    from scipy.stats import norm

    return float(norm.isf(level))

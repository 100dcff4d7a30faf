"""Evidence: what a claim's check measured, what each number is held to, the verdict.

A check builds an :class:`Evidence` through its methods (``close``,
``at_most``, ``at_least``, ``equal``, ``test``) and returns it. Every number
carries a *role*:

``"witness"``
    agreement between toytheory's own witnesses (exact formula against a
    sympy proof, against an independent simulation, a statistical
    calibration). A witness that does not pass makes the verdict ``fails``:
    the toolkit cannot vouch for anything it would say about the paper.
``"statement"``
    the paper's statement evaluated on the toy. One that does not pass makes
    the verdict ``refuted`` (provided every witness passed).

A statistical statement is recorded with :meth:`Evidence.interval`: an
estimate, its confidence interval at a stated level, and the paper's
threshold. It passes when the interval lies wholly on the paper's side of the
threshold, fails (``refuted``) when it lies wholly on the other side, and is
*undecided* when it straddles the threshold; an undecided statement makes the
verdict ``inconclusive`` and records the sample size that would decide.

The verdict is derived, never set by hand, and witnesses are judged first:
``fails`` if any witness number fails, else ``refuted`` if any statement
number fails, else ``inconclusive`` if any statement is undecided, else
``holds``. A check that records no number held to a bound is an error: a
witness that cannot disagree is not a witness.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

VERDICTS = ("holds", "fails", "refuted", "inconclusive", "error")
ROLES = ("witness", "statement")
WITNESS_KINDS = ("exact", "symbolic", "simulated")


def _plain(value: Any):
    """Convert numpy scalars and non-finite floats into JSON-safe values."""
    try:
        import numpy as np

        if isinstance(value, np.generic):
            value = value.item()
    except ImportError:  # pragma: no cover - numpy is a core dependency
        pass
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass
class Number:
    """One measured number and the condition it is held to.

    Attributes
    ----------
    name : str
        What was measured, in words.
    value : float, int or str
        The measurement.
    relation : str
        ``"<="``, ``">="``, ``"=="``, ``"~="`` (within a tolerance),
        ``"test"`` (a statistical test) or ``"info"`` (reported, not held).
    bound : float, str or None
        The bound or reference the value is held to.
    tolerance : float or None
        For ``"~="``: the allowed absolute deviation.
    role : str
        ``"witness"`` or ``"statement"`` (see the module docstring).
    passed : bool or None
        Whether the condition holds (None for ``"info"`` and for an undecided
        interval).
    unit, note : str
    interval : (float, float) or None
        For statistical numbers: the confidence interval of the estimate.
    level : float or None
        The level of that interval or test (its error probability).
    detectable : str or None
        For a statistical check: the smallest effect the tier can detect at
        its level (the power statement a ``holds`` needs).
    decide_n : int or None
        For an undecided interval: the sample size that would decide it.
    side : {"<=", ">="} or None
        For an interval: the side of ``bound`` the paper puts the quantity on.
    """

    name: str
    value: Any
    relation: str
    bound: Any = None
    tolerance: float | None = None
    role: str = "witness"
    passed: bool | None = None
    unit: str = ""
    note: str = ""
    interval: tuple | None = None
    level: float | None = None
    detectable: str | None = None
    decide_n: int | None = None
    side: str | None = None

    @property
    def undecided(self) -> bool:
        """A statistical statement whose interval straddles its threshold."""
        return self.relation == "interval" and self.passed is None

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "value": _plain(self.value),
            "relation": self.relation,
            "bound": _plain(self.bound),
            "tolerance": _plain(self.tolerance),
            "role": self.role,
            "passed": self.passed,
            "unit": self.unit,
            "note": self.note,
            "interval": None if self.interval is None else [_plain(float(v))
                                                            for v in self.interval],
            "level": _plain(self.level),
            "detectable": self.detectable,
            "decide_n": self.decide_n,
            "side": self.side,
        }

    def describe(self) -> str:
        """A short human-readable form: ``value relation bound``."""
        value = _fmt(self.value)
        if self.relation == "info":
            text = value
        elif self.relation == "~=":
            text = f"{value} vs {_fmt(self.bound)} (tol {_fmt(self.tolerance)})"
        elif self.relation == "test":
            text = f"p = {value} (level {_fmt(self.bound)})"
        elif self.relation == "interval":
            lo, hi = self.interval
            text = (f"{value} in [{_fmt(lo)}, {_fmt(hi)}] (level {_fmt(self.level)}) "
                    f"vs paper {self.side} {_fmt(self.bound)}")
        else:
            text = f"{value} {self.relation} {_fmt(self.bound)}"
        return f"{text} {self.unit}".strip()


def _fmt(value) -> str:
    value = _plain(value)
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value == 0.0:
            return "0"
        if 1e-3 <= abs(value) < 1e5:
            return f"{value:.6g}"
        return f"{value:.4g}"
    return str(value)


@dataclass
class FigureBlob:
    """A rendered figure travelling with the evidence (PNG bytes)."""

    name: str
    caption: str
    png: bytes


@dataclass
class Evidence:
    """What one check measured, and the verdict that follows from it.

    Parameters
    ----------
    claim_id : str
    seed : int
        The seed the check used (every random draw derives from it).
    witnesses : tuple of str
        The witnesses used: any of ``"exact"``, ``"symbolic"``, ``"simulated"``.
    """

    claim_id: str
    seed: int
    witnesses: tuple[str, ...] = ()
    numbers: list[Number] = field(default_factory=list)
    tests: list[dict] = field(default_factory=list)
    figures: list[FigureBlob] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    headline_name: str | None = None
    referee: dict | None = None

    # ------------------------------------------------------------------ recording
    def _add(self, number: Number, headline: bool) -> Number:
        if number.role not in ROLES:
            raise ValueError(f"role: must be one of {ROLES} (got {number.role!r})")
        if any(n.name == number.name for n in self.numbers):
            raise ValueError(f"name: {number.name!r} is already recorded in this evidence")
        self.numbers.append(number)
        if headline:
            self.headline_name = number.name
        return number

    @staticmethod
    def _finite(name: str, value) -> float:
        v = float(value)
        if math.isnan(v):
            raise ValueError(f"{name}: measured value is NaN")
        return v

    def close(self, name: str, value, reference, *, atol: float = 0.0, rtol: float = 0.0,
              role: str = "witness", unit: str = "", note: str = "",
              headline: bool = False) -> Number:
        """Hold ``value`` within ``atol + rtol * |reference|`` of ``reference``."""
        v = self._finite(name, value)
        r = self._finite(name, reference)
        tol = float(atol) + float(rtol) * abs(r)
        if tol < 0:
            raise ValueError("atol, rtol: must be non-negative")
        passed = abs(v - r) <= tol
        return self._add(Number(name, v, "~=", r, tol, role, passed, unit, note), headline)

    def at_most(self, name: str, value, bound, *, role: str = "witness", unit: str = "",
                note: str = "", headline: bool = False) -> Number:
        """Hold ``value <= bound``."""
        v = self._finite(name, value)
        b = float(bound)
        return self._add(Number(name, v, "<=", b, None, role, v <= b, unit, note), headline)

    def at_least(self, name: str, value, bound, *, role: str = "witness", unit: str = "",
                 note: str = "", headline: bool = False) -> Number:
        """Hold ``value >= bound``."""
        v = self._finite(name, value)
        b = float(bound)
        return self._add(Number(name, v, ">=", b, None, role, v >= b, unit, note), headline)

    def equal(self, name: str, value, expected, *, role: str = "witness", unit: str = "",
              note: str = "", headline: bool = False) -> Number:
        """Hold ``value == expected`` exactly (integers, rationals, strings)."""
        passed = bool(value == expected)
        shown = value if isinstance(value, (int, float, str, bool)) else str(value)
        shown_expected = (expected if isinstance(expected, (int, float, str, bool))
                          else str(expected))
        return self._add(Number(name, shown, "==", shown_expected, None, role, passed, unit,
                                note), headline)

    def interval(self, name: str, estimate, interval, threshold, *, side: str, level: float,
                 role: str = "statement", detectable: str | None = None,
                 decide_n: int | None = None, unit: str = "", note: str = "",
                 headline: bool = False) -> Number:
        """Hold a statistical statement ``theta <side> threshold`` by its confidence interval.

        Parameters
        ----------
        estimate : float
            The point estimate of ``theta``.
        interval : (float, float)
            Its confidence interval at ``level`` (coverage at least ``1 - level``),
            valid for the data's tails (exact binomial, enumeration, a bound).
        threshold : float
            The paper's value.
        side : {"<=", ">="}
            The side of ``threshold`` on which the paper puts ``theta``.
        level : float
            In (0, 1): the interval's error probability.
        detectable : str, optional
            The smallest effect this size can detect at the level (power).
        decide_n : int, optional
            Where the interval straddles the threshold: the size that would decide.

        Notes
        -----
        The statement passes when the whole interval is on the paper's side,
        fails (``refuted``) when the whole interval is on the other side, and is
        undecided (verdict ``inconclusive``) otherwise. A witness interval is
        never undecided: it passes unless the interval excludes the threshold's
        side.
        """
        if side not in ("<=", ">="):
            raise ValueError(f"side: must be '<=' or '>=' (got {side!r})")
        if not (0.0 < float(level) < 1.0):
            raise ValueError(f"level: must lie in (0, 1) (got {level!r})")
        lo, hi = (self._finite(name, v) for v in interval)
        if lo > hi:
            raise ValueError(f"interval: lower end {lo} exceeds upper end {hi}")
        est = self._finite(name, estimate)
        t = self._finite(name, threshold)
        if side == "<=":
            passed = True if hi <= t else (False if lo > t else None)
        else:
            passed = True if lo >= t else (False if hi < t else None)
        if role == "witness" and passed is None:
            passed = True
        return self._add(Number(name, est, "interval", t, None, role, passed, unit, note,
                                interval=(lo, hi), level=float(level), detectable=detectable,
                                decide_n=decide_n, side=side), headline)

    def test(self, name: str, result, *, expect: str = "accept", role: str = "witness",
             note: str = "", headline: bool = False, detectable: str | None = None,
             interval=None) -> Number:
        """Hold a statistical test's verdict to ``expect``.

        Parameters
        ----------
        result : toytheory.stats.TestResult or toytheory.stats.FamilyResult
        expect : {"accept", "reject"}
            ``"accept"``: passes when the null is not rejected (the
            simulation agrees with the exact law). ``"reject"``: passes when
            the null is rejected (a planted or claimed difference is seen).
        detectable : str, optional
            The smallest effect the test detects at its level and size (its
            power). A statement test that expects ``"accept"`` needs it.
        interval : (float, float), optional
            The confidence interval of the effect at the test's level.
        """
        if expect not in ("accept", "reject"):
            raise ValueError(f"expect: must be 'accept' or 'reject' (got {expect!r})")
        passed = result.verdict == expect
        record = result.as_dict()
        record.setdefault("test", record.get("method", type(result).__name__))
        record.setdefault("statistic", None)
        record.update(name=name, expect=expect, role=role, pvalue=float(result.pvalue))
        self.tests.append(record)
        text = note or f"{record['test']}; expected {expect}"
        return self._add(Number(name, float(result.pvalue), "test", float(result.level), None,
                                role, passed, "", text,
                                interval=None if interval is None else tuple(
                                    float(v) for v in interval),
                                level=float(result.level), detectable=detectable), headline)

    def record(self, name: str, value, *, unit: str = "", note: str = "",
               headline: bool = False) -> Number:
        """Report a number without holding it to anything (context, not evidence)."""
        if isinstance(value, (int, float)) or _is_numpy_scalar(value):
            value = float(value) if not isinstance(value, int) else value
        return self._add(Number(name, value, "info", None, None, "witness", None, unit, note),
                         headline)

    def note(self, text: str) -> None:
        """Add an observation, in words, to the report."""
        self.notes.append(str(text))

    def referee_note(self, *, says: str, toy: str, measured: str, inside: str,
                     would_change: str) -> None:
        """The referee's note a ``refuted`` (or ``inconclusive``) verdict is read with.

        Parameters
        ----------
        says : str
            What the paper says (its words).
        toy : str
            The toy it was checked on.
        measured : str
            What was measured, with the interval and level.
        inside : str
            Why the toy is inside the paper's setting.
        would_change : str
            What would change the verdict.
        """
        parts = dict(says=says, toy=toy, measured=measured, inside=inside,
                     would_change=would_change)
        for key, text in parts.items():
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"{key}: the referee's note needs it in words")
        self.referee = {k: v.strip() for k, v in parts.items()}

    def figure(self, name: str, fig, caption: str = "") -> None:
        """Attach a matplotlib figure (rendered to PNG now, written by the report)."""
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        self.figures.append(FigureBlob(name, caption, buffer.getvalue()))

    # ------------------------------------------------------------------ verdict
    @property
    def held(self) -> list[Number]:
        return [n for n in self.numbers if n.relation != "info"]

    @property
    def verdict(self) -> str:
        held = self.held
        if not held:
            return "error"
        if any(n.passed is not True for n in held if n.role == "witness"):
            return "fails"
        if any(n.passed is False for n in held if n.role == "statement"):
            return "refuted"
        if any(n.undecided for n in held if n.role == "statement"):
            return "inconclusive"
        return "holds"

    @property
    def message(self) -> str:
        """Why the verdict is what it is, in one line."""
        held = self.held
        if not held:
            return "the check recorded no number held to a bound"
        failed_w = [n.name for n in held if n.role == "witness" and n.passed is not True]
        failed_s = [n.name for n in held if n.role == "statement" and n.passed is False]
        open_s = [n for n in held if n.role == "statement" and n.undecided]
        if failed_w:
            return "witnesses disagree: " + "; ".join(failed_w)
        if failed_s:
            return "the toy contradicts the statement: " + "; ".join(failed_s)
        if open_s:
            sizes = [f"{n.name} (n = {n.decide_n} would decide)" if n.decide_n else n.name
                     for n in open_s]
            return "the evidence does not decide at the level: " + "; ".join(sizes)
        return f"all {len(held)} held numbers pass"

    @property
    def headline(self) -> Number | None:
        if self.headline_name is not None:
            for n in self.numbers:
                if n.name == self.headline_name:
                    return n
        for role in ("statement", "witness"):
            for n in self.held:
                if n.role == role:
                    return n
        return self.numbers[0] if self.numbers else None


def _is_numpy_scalar(value) -> bool:
    try:
        import numpy as np

        return isinstance(value, np.generic)
    except ImportError:  # pragma: no cover
        return False

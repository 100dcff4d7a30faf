"""What every mechanism shares: the budget sentinel and the answer bookkeeping.

The sentinel
------------
A mechanism whose budget is spent answers :data:`EXHAUSTED` (the paper's
:math:`\\bot`) to every later query. It is not a number: ``float(EXHAUSTED)``,
``EXHAUSTED + 1`` and comparisons with numbers raise ``TypeError``, so a spent
mechanism can never pass a wrong value silently into an analysis. Test for it
with :func:`is_exhausted` or ``answer is EXHAUSTED``.
"""

from __future__ import annotations

from ..accounting import PrivacyAccountant

__all__ = ["Exhausted", "EXHAUSTED", "is_exhausted", "Mechanism"]


class Exhausted:
    """The type of :data:`EXHAUSTED` (a singleton): "budget spent, no answer"."""

    _instance: "Exhausted | None" = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "EXHAUSTED"

    def __str__(self) -> str:
        return "⊥ (budget exhausted)"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self):
        return (Exhausted, ())


EXHAUSTED = Exhausted()


def is_exhausted(answer) -> bool:
    """Whether ``answer`` is the sentinel :data:`EXHAUSTED`."""
    return answer is EXHAUSTED


class Mechanism:
    """Base class: counts answers, holds a :class:`PrivacyAccountant`.

    Subclasses implement ``_answer(query)`` and may override
    :meth:`_can_answer`. :meth:`answer` returns :data:`EXHAUSTED` once
    :meth:`_can_answer` is false, and forever after.

    Attributes
    ----------
    accountant : PrivacyAccountant
        The privacy spent so far (exact; empty for mechanisms that are not
        differentially private, whose :attr:`private` is False).
    queries_answered : int
        Numerical answers given so far (sentinels excluded).
    """

    name = "mechanism"
    private = False

    def __init__(self) -> None:
        self.accountant = PrivacyAccountant()
        self.queries_answered = 0
        self._spent = False

    @property
    def exhausted(self) -> bool:
        """True once the mechanism has answered :data:`EXHAUSTED`, or cannot answer."""
        if not self._spent and not self._can_answer():
            self._spent = True
        return self._spent

    def _can_answer(self) -> bool:
        return True

    def _answer(self, query) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def answer(self, query):
        """Answer one statistical query, or return :data:`EXHAUSTED`.

        Parameters
        ----------
        query : callable
            ``query(data) -> (n,)`` values in ``[0, 1]`` (see
            :func:`toytheory.adaptive.queries.evaluate_query`).

        Returns
        -------
        float or EXHAUSTED
        """
        if self.exhausted:
            return EXHAUSTED
        value = self._answer(query)
        if value is EXHAUSTED:
            self._spent = True
            return EXHAUSTED
        self.queries_answered += 1
        return float(value)

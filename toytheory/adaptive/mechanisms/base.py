"""What every mechanism shares: the budget sentinel and the answer bookkeeping.

The sentinel
------------
A mechanism whose budget is spent answers :data:`EXHAUSTED` (the paper's
:math:`\\bot`) to every later query. It is not a number: ``float(EXHAUSTED)``,
``EXHAUSTED + 1`` and comparisons with numbers raise ``TypeError``, so a spent
mechanism can never pass a wrong value silently into an analysis. Test for it
with :func:`is_exhausted` or ``answer is EXHAUSTED``. The sentinel never hides
a malformed query: that raises ``ValueError`` before and after the budget is
spent alike.
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
    :meth:`_can_answer` and :meth:`_query_samples`. :meth:`answer` returns
    :data:`EXHAUSTED` once :meth:`_can_answer` is false, and forever after;
    but a malformed query raises ``ValueError`` whatever the budget (it is
    checked on :meth:`_query_samples` before the sentinel is returned), so a
    bug in the analyst's query is never hidden behind the sentinel.

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

    def _query_samples(self) -> tuple:
        """The samples a query is checked on once the budget is spent (default: ``data``)."""
        data = getattr(self, "data", None)
        return () if data is None else (data,)

    def check_query(self, query) -> None:
        """Raise ``ValueError`` if ``query`` is malformed; spends and releases nothing.

        ``query`` must be callable and return one value in ``[0, 1]`` per
        point of each of :meth:`_query_samples` (see
        :func:`toytheory.adaptive.queries.evaluate_query`).
        """
        from ..queries import evaluate_query

        if not callable(query):
            raise ValueError(f"query: must be callable (got {type(query).__name__})")
        for sample in self._query_samples():
            evaluate_query(query, sample)

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

        Raises
        ------
        ValueError
            ``query: ...`` for a malformed query, before or after the budget
            is spent.
        """
        if self.exhausted:
            self.check_query(query)
            return EXHAUSTED
        value = self._answer(query)
        if value is EXHAUSTED:
            self._spent = True
            return EXHAUSTED
        self.queries_answered += 1
        return float(value)

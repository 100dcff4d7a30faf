"""The empirical mechanism: answer every query with its sample mean."""

from __future__ import annotations

from ..queries import empirical_answer
from ._data import check_sample
from .base import Mechanism

__all__ = ["EmpiricalMechanism"]


class EmpiricalMechanism(Mechanism):
    """:math:`a_i = \\mathbb{E}_S \\phi_i`.

    Accurate to :math:`\\sqrt{\\ln(2m/\\beta)/(2n)}` for ``m`` queries fixed in
    advance (Hoeffding and a union bound), but an adaptive analyst can make
    its error grow like :math:`\\sqrt{m/n}` ("Preserving Statistical Validity in
    Adaptive Data Analysis", Section 1; see
    :class:`toytheory.adaptive.analysts.LogOddsCorrelationAttack`).

    Parameters
    ----------
    data : array, shape (n, ...)
    """

    name = "empirical"

    def __init__(self, data):
        super().__init__()
        self.data = check_sample("data", data)

    def _answer(self, query) -> float:
        return empirical_answer(query, self.data)

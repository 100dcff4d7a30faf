"""Exact privacy accounting: pure epsilon-DP, zero-concentrated DP, composition.

Every spend is stored as an exact rational (:class:`fractions.Fraction` of the
binary floating-point value it was given), so sums are exact and a budget
check never fails or passes by a rounding error. Conversions that involve
square roots and logarithms are computed in float64 from the exact totals.

Facts used (each function names its source):

- Laplace mechanism: noise ``Lap(b)`` on a query of sensitivity ``Delta`` is
  :math:`\\varepsilon = \\Delta / b` pure DP (Dwork, McSherry, Nissim and Smith
  2006; Dwork and Roth 2014, Theorem 3.6).
- Gaussian mechanism: noise :math:`N(0, \\sigma^2)` is
  :math:`\\rho = \\Delta^2 / (2\\sigma^2)`-zCDP (Bun and Steinke 2016,
  Proposition 1.6). For the mean of an ``[0, 1]``-valued query on ``n`` points,
  :math:`\\Delta = 1/n`, so :math:`\\rho = 1/(2 n^2 \\sigma^2)`.
- zCDP composes additively (Bun and Steinke 2016, Lemma 2.3); pure DP composes
  additively (basic composition, Dwork and Roth 2014, Theorem 3.16);
  :math:`\\varepsilon`-DP implies :math:`\\varepsilon^2/2`-zCDP (Bun and Steinke
  2016, Proposition 1.4).
- :math:`\\rho`-zCDP implies :math:`(\\rho + 2\\sqrt{\\rho \\ln(1/\\delta)},
  \\delta)`-DP for every :math:`\\delta > 0` (Bun and Steinke 2016, Proposition 1.3).
- Advanced composition of ``k`` :math:`(\\varepsilon, \\delta)`-DP mechanisms:
  :math:`(\\sqrt{2k\\ln(1/\\delta')}\\,\\varepsilon + k\\varepsilon(e^\\varepsilon - 1),
  k\\delta + \\delta')` (Dwork, Rothblum and Vadhan 2010; Dwork and Roth 2014,
  Theorem 3.20).
- Sparse vector (AboveThreshold) with threshold noise ``Lap(2 Delta/eps)`` and
  query noise ``Lap(4 Delta/eps)`` is eps-DP until its first above-threshold
  answer (Dwork and Roth 2014, Theorem 3.23). Thresholdout and private
  multiplicative weights are built from it (see their modules).

The values of these maps are cross-checked against OpenDP's privacy maps in
``tests/adaptive/test_opendp_crosscheck.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from .._validation import check_int, check_real

__all__ = [
    "laplace_epsilon", "gaussian_rho", "pure_to_zcdp", "zcdp_to_approx_dp",
    "basic_composition", "advanced_composition", "sparse_vector_epsilon",
    "PrivacyAccountant",
]


def _exact(name: str, value) -> Fraction:
    """A positive, finite spend as an exact rational (floats are converted exactly).

    A spend of 0 is refused: a release that costs nothing (one that ignores
    the data) is simply not recorded, and a zero reaching the ledger is far
    more often a bug (an epsilon that underflowed or was never set).
    """
    if isinstance(value, Fraction):
        if value <= 0:
            raise ValueError(f"{name}: must be > 0 (got {value})")
        return value
    return Fraction(check_real(name, value, low=0.0, low_open=True))


def _positive(name: str, value) -> float:
    return check_real(name, value, low=0.0, low_open=True)


def _delta(name: str, value) -> float:
    """A delta of approximate DP, in ``[0, 1)`` (``delta = 1`` promises nothing)."""
    return check_real(name, value, low=0.0, high=1.0, high_open=True)


def laplace_epsilon(scale: float, sensitivity: float) -> float:
    """Pure DP of the Laplace mechanism: :math:`\\varepsilon = \\Delta / b`.

    Parameters
    ----------
    scale : float
        The Laplace scale ``b`` (> 0).
    sensitivity : float
        The query's sensitivity ``Delta`` (> 0); ``1/n`` for the mean of an
        ``[0, 1]``-valued query on ``n`` points.
    """
    b = Fraction(_positive("scale", scale))
    delta = Fraction(_positive("sensitivity", sensitivity))
    return float(delta / b)


def gaussian_rho(sigma: float, sensitivity: float) -> float:
    """zCDP of the Gaussian mechanism: :math:`\\rho = \\Delta^2 / (2\\sigma^2)`.

    Bun and Steinke (2016), "Concentrated Differential Privacy:
    Simplifications, Extensions, and Lower Bounds", Proposition 1.6.
    """
    s = Fraction(_positive("sigma", sigma))
    delta = Fraction(_positive("sensitivity", sensitivity))
    return float(delta * delta / (2 * s * s))


def pure_to_zcdp(epsilon: float) -> float:
    """:math:`\\varepsilon`-DP implies :math:`\\varepsilon^2/2`-zCDP (Bun and Steinke, Prop. 1.4).

    Parameters
    ----------
    epsilon : float
        The pure-DP epsilon (finite, > 0).

    Returns
    -------
    float
        :math:`\\rho = \\varepsilon^2/2`.

    Raises
    ------
    ValueError
        ``epsilon: must be > 0`` for :math:`\\varepsilon \\le 0`, NaN or infinity.
    """
    e = Fraction(_positive("epsilon", epsilon))
    return float(e * e / 2)


def zcdp_to_approx_dp(rho: float, delta: float) -> float:
    """The epsilon of :math:`(\\varepsilon, \\delta)`-DP implied by :math:`\\rho`-zCDP.

    .. math:: \\varepsilon = \\rho + 2\\sqrt{\\rho \\ln(1/\\delta)}

    Bun and Steinke (2016), Proposition 1.3. (Tighter conversions exist, e.g.
    the one OpenDP uses; this one is the paper's and is never smaller.)

    Parameters
    ----------
    rho : float
        >= 0.
    delta : float
        In (0, 1).
    """
    rho = check_real("rho", rho, low=0.0)
    delta = check_real("delta", delta, low=0.0, high=1.0, low_open=True, high_open=True)
    return rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta))


def _sequence(name: str, values) -> list:
    """``values`` as a list, refusing a bare scalar or string (a common slip)."""
    if isinstance(values, (str, bytes)) or np.ndim(values) > 1:
        raise ValueError(f"{name}: must be a 1-D sequence of numbers "
                         f"(got {type(values).__name__})")
    try:
        return list(values)
    except TypeError as exc:
        raise ValueError(f"{name}: must be a 1-D sequence of numbers "
                         f"(got {type(values).__name__})") from exc


def basic_composition(epsilons, deltas=None) -> tuple[float, float]:
    """Basic composition: :math:`(\\sum \\varepsilon_i, \\sum \\delta_i)`, summed exactly.

    Dwork and Roth (2014), Theorem 3.16.

    Parameters
    ----------
    epsilons : sequence of float
        The epsilon of each mechanism (each finite and > 0).
    deltas : sequence of float, optional
        The delta of each mechanism (each in ``[0, 1)``), as many as ``epsilons``.

    Returns
    -------
    (float, float)
        The total epsilon and the total delta (capped at 1).

    Raises
    ------
    ValueError
        Naming ``epsilons`` or ``deltas`` when an entry is out of range or
        the lengths differ.
    """
    eps = [Fraction(_positive("epsilons", e)) for e in _sequence("epsilons", epsilons)]
    dels = [Fraction(_delta("deltas", d))
            for d in ([] if deltas is None else _sequence("deltas", deltas))]
    if deltas is not None and len(dels) != len(eps):
        raise ValueError(f"deltas: must have the length of epsilons ({len(eps)})")
    return float(sum(eps, Fraction(0))), float(min(Fraction(1), sum(dels, Fraction(0))))


def advanced_composition(epsilon: float, delta: float, k: int,
                         delta_prime: float) -> tuple[float, float]:
    """k-fold advanced composition of :math:`(\\varepsilon, \\delta)`-DP mechanisms.

    .. math:: \\varepsilon' = \\sqrt{2k\\ln(1/\\delta')}\\,\\varepsilon
              + k\\varepsilon(e^{\\varepsilon} - 1), \\qquad
              \\delta_{tot} = k\\delta + \\delta'

    Dwork, Rothblum and Vadhan (2010); Dwork and Roth (2014), Theorem 3.20.

    Parameters
    ----------
    epsilon : float
        Each mechanism's epsilon (finite, > 0).
    delta : float
        Each mechanism's delta, in ``[0, 1)``.
    k : int
        The number of mechanisms (>= 1).
    delta_prime : float
        The slack :math:`\\delta'`, in ``(0, 1)``.

    Returns
    -------
    (float, float)
        :math:`(\\varepsilon', \\min(1, k\\delta + \\delta'))`.
    """
    epsilon = _positive("epsilon", epsilon)
    delta = _delta("delta", delta)
    k = check_int("k", k, low=1)
    delta_prime = check_real("delta_prime", delta_prime, low=0.0, high=1.0, low_open=True,
                             high_open=True)
    eps_total = (math.sqrt(2.0 * k * math.log(1.0 / delta_prime)) * epsilon
                 + k * epsilon * math.expm1(epsilon))
    return eps_total, min(1.0, k * delta + delta_prime)


def sparse_vector_epsilon(sigma: float, sensitivity: float) -> float:
    """Privacy of one above-threshold round of sparse vector plus its Laplace answer.

    With threshold noise ``Lap(2 sigma)``, comparison noise ``Lap(4 sigma)`` and
    answer noise ``Lap(sigma)`` on statistics of sensitivity ``Delta``, the
    AboveThreshold round is :math:`\\Delta/\\sigma`-DP (Dwork and Roth 2014,
    Theorem 3.23 with :math:`2\\Delta/\\varepsilon = 2\\sigma`) and the noisy
    answer another :math:`\\Delta/\\sigma` (Laplace mechanism): together
    :math:`2\\Delta/\\sigma`. With ``Delta = 1/n`` this is Thresholdout's
    :math:`2/(\\sigma n)` per unit of budget **[derived]**.
    """
    s = Fraction(_positive("sigma", sigma))
    delta = Fraction(_positive("sensitivity", sensitivity))
    return float(2 * delta / s)


@dataclass
class PrivacyAccountant:
    """An exact ledger of privacy spent: pure-DP epsilons and zCDP rhos.

    Spends are kept as exact rationals. Pure and zCDP spends compose
    separately (each additively); :meth:`zcdp_total` converts pure spends with
    :func:`pure_to_zcdp` and adds them, :meth:`approx_dp` converts the whole
    ledger to :math:`(\\varepsilon, \\delta)`-DP.

    Attributes
    ----------
    pure : list of Fraction
        Every pure epsilon spent, in order.
    zcdp : list of Fraction
        Every rho spent, in order.
    """

    pure: list = field(default_factory=list)
    zcdp: list = field(default_factory=list)

    def spend_pure(self, epsilon) -> None:
        """Record one :math:`\\varepsilon`-DP release.

        Parameters
        ----------
        epsilon : float or Fraction
            Finite and > 0 (a free release is not recorded).
        """
        self.pure.append(_exact("epsilon", epsilon))

    def spend_zcdp(self, rho) -> None:
        """Record one :math:`\\rho`-zCDP release.

        Parameters
        ----------
        rho : float or Fraction
            Finite and > 0 (a free release is not recorded).
        """
        self.zcdp.append(_exact("rho", rho))

    @property
    def releases(self) -> int:
        return len(self.pure) + len(self.zcdp)

    @property
    def epsilon(self) -> Fraction:
        """Total pure epsilon (exact; basic composition)."""
        return sum(self.pure, Fraction(0))

    @property
    def rho(self) -> Fraction:
        """Total rho of the zCDP spends alone (exact; Bun and Steinke, Lemma 2.3)."""
        return sum(self.zcdp, Fraction(0))

    def zcdp_total(self) -> float:
        """Everything as zCDP: :math:`\\sum \\rho_i + \\sum \\varepsilon_j^2/2`."""
        return float(self.rho + sum((e * e / 2 for e in self.pure), Fraction(0)))

    def approx_dp(self, delta: float) -> float:
        """The epsilon of the whole ledger as :math:`(\\varepsilon, \\delta)`-DP.

        Pure spends alone: their exact sum (``delta`` unused). With zCDP
        spends: the smaller of two valid routes, everything converted to zCDP
        (:func:`zcdp_to_approx_dp` of :meth:`zcdp_total`), or the pure sum plus
        the zCDP part converted on its own (basic composition of the two).

        Parameters
        ----------
        delta : float
            In ``(0, 1)``; checked even when the ledger has no zCDP spend.
        """
        delta = check_real("delta", delta, low=0.0, high=1.0, low_open=True, high_open=True)
        if not self.zcdp:
            return float(self.epsilon)
        all_zcdp = zcdp_to_approx_dp(self.zcdp_total(), delta)
        split = float(self.epsilon) + zcdp_to_approx_dp(float(self.rho), delta)
        return min(all_zcdp, split)

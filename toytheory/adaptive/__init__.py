"""Adaptive data analysis: mechanisms, adaptive analysts and accuracy bounds.

The setting (Dwork, Feldman, Hardt, Pitassi, Reingold and Roth, "Preserving
Statistical Validity in Adaptive Data Analysis"): a sample of ``n`` points is
drawn from a population ``P``; an analyst asks statistical queries
:math:`\\phi: X \\to [0, 1]`, each chosen after seeing the answers to the earlier
ones; a mechanism answers them. A mechanism is :math:`(\\tau, \\beta)`-accurate if

.. math:: \\Pr\\big[\\max_i |a_i - \\mathbb{E}_P \\phi_i| \\le \\tau\\big] \\ge 1 - \\beta.

Every population here is known exactly, so every true answer is exact.

Modules
-------
queries
    Statistical queries and their validation (values in [0, 1], finite).
populations
    Populations with exact answers (Rademacher products, Gaussian features with
    independent or weakly informative labels, a finite universe).
mechanisms
    Empirical, sample splitting, Laplace, Gaussian (zCDP), Thresholdout with its
    budget, private multiplicative weights; the sentinel :data:`EXHAUSTED`.
accounting
    Exact privacy accounting and composition.
analysts
    The log-odds correlation attack, the boosting attack, non-adaptive controls,
    the reusable-holdout analyst; :func:`run_interaction`.
bounds
    Hoeffding with a union bound, sample-splitting width, the transfer theorem
    (Jung et al.) for Laplace and Gaussian noise, Thresholdout's parameters.
holdout_experiment
    The reusable-holdout experiment, a plain numpy reference implementation.
audit
    Histogram audit of epsilon-differential privacy, exact hockey-stick divergence.

Heavy libraries (torch, numba) are never imported here; the simulators live in
``sims/adaptive_*.py``.
"""

from .mechanisms.base import EXHAUSTED, Exhausted, is_exhausted

__all__ = ["EXHAUSTED", "Exhausted", "is_exhausted"]

"""Mechanisms that answer statistical queries on a sample.

=====================================  ==========================================================
:class:`EmpiricalMechanism`            the sample mean; no protection against adaptivity
:class:`SampleSplittingMechanism`      query ``i`` answered on the ``i``-th of ``m`` disjoint parts
:class:`LaplaceMechanism`              sample mean + ``Lap(1/(n eps))``; eps-DP per query
:class:`GaussianMechanism`             sample mean + ``N(0, sigma^2)``; ``1/(2 n^2 sigma^2)``-zCDP
:class:`Thresholdout`                  the reusable holdout (Dwork et al., Science 2015), budget B
:class:`PrivateMultiplicativeWeights`  Hardt and Rothblum's online PMW on a finite universe
=====================================  ==========================================================

A mechanism whose budget is spent answers :data:`EXHAUSTED` (a malformed query
still raises ``ValueError``).
"""

from .base import EXHAUSTED, Exhausted, Mechanism, is_exhausted
from .empirical import EmpiricalMechanism
from .gaussian import GaussianMechanism, gaussian_release
from .laplace import LaplaceMechanism, laplace_release
from .pmw import PrivateMultiplicativeWeights
from .splitting import SampleSplittingMechanism
from .thresholdout import Thresholdout

__all__ = [
    "EXHAUSTED", "Exhausted", "Mechanism", "is_exhausted", "EmpiricalMechanism",
    "SampleSplittingMechanism", "LaplaceMechanism", "laplace_release", "GaussianMechanism",
    "gaussian_release", "Thresholdout", "PrivateMultiplicativeWeights",
]

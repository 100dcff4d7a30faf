"""Speculative sampling with one draft token: its acceptance and its output law, exactly.

Notation (kept apart from SpecTr's own, where ``p`` is the draft and ``q`` the target):
``target`` is the large model's law :math:`p_t` over a vocabulary of size ``V``,
``draft`` the small model's law :math:`p_d`.

The sampler (Leviathan et al. 2023; Chen et al. 2023; SpecTr's k = 1 case, "SpecTr: Fast
Speculative Decoding via Optimal Transport", Section 3): draw :math:`x \\sim p_d`;
accept it with probability :math:`\\min(1, p_t(x)/p_d(x))`; otherwise draw from the
residual :math:`(p_t - p_d)_+ / \\sum (p_t - p_d)_+`. Then

.. math::

    P(\\text{accept}) = \\sum_x \\min(p_d(x), p_t(x)) = 1 - \\mathrm{TV}(p_d, p_t),
    \\qquad P(\\text{output} = y) = p_t(y).

This is the maximal coupling of :math:`p_d` and :math:`p_t`: no sampler whose output
law is :math:`p_t` keeps the draft more often.
"""

from __future__ import annotations

import numpy as np

from toytheory._validation import check_probability_vector

__all__ = ["check_pair", "speculative_acceptance", "speculative_output_law",
           "speculative_residual", "total_variation"]


def check_pair(target, draft) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (target, draft) pair of laws on one vocabulary.

    Raises
    ------
    ValueError
        ``target``/``draft`` not probability vectors (negative, not summing to one,
        not 1-D), or of different sizes.
    """
    p_t = check_probability_vector("target", target)
    p_d = check_probability_vector("draft", draft)
    if p_t.shape != p_d.shape:
        raise ValueError(f"draft: must have the target's vocabulary size {p_t.size} "
                         f"(got {p_d.size})")
    return p_t, p_d


def total_variation(target, draft) -> float:
    """:math:`\\mathrm{TV}(p_t, p_d) = \\tfrac12 \\sum_x |p_t(x) - p_d(x)|`."""
    p_t, p_d = check_pair(target, draft)
    return 0.5 * float(np.abs(p_t - p_d).sum())


def speculative_acceptance(target, draft) -> float:
    """The probability that the draft token is kept: :math:`\\sum_x \\min(p_d, p_t)`.

    Parameters
    ----------
    target, draft : array_like, shape (V,)
        Probability vectors.
    """
    p_t, p_d = check_pair(target, draft)
    return float(np.minimum(p_t, p_d).sum())


def speculative_residual(target, draft) -> np.ndarray:
    """The law drawn from after a rejection, :math:`(p_t - p_d)_+ / \\sum (p_t - p_d)_+`.

    Returns ``target`` itself when the two laws are equal (a rejection then never
    happens, so any law would do).
    """
    p_t, p_d = check_pair(target, draft)
    excess = np.maximum(p_t - p_d, 0.0)
    total = excess.sum()
    return p_t.copy() if total <= 0 else excess / total


def speculative_output_law(target, draft) -> np.ndarray:
    """The law of the sampler's output, by summing over its two branches.

    .. math::

        P(y) = p_d(y) \\min(1, p_t(y)/p_d(y)) + (1 - \\beta)\\, r(y),

    with :math:`\\beta` the acceptance and :math:`r` the residual. It equals
    ``target``; computing it from the branches (rather than returning ``target``) is
    what lets a wrong acceptance rule or residual show.

    Returns
    -------
    ndarray, shape (V,)
    """
    p_t, p_d = check_pair(target, draft)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.where(p_d > 0, np.minimum(1.0, p_t / np.where(p_d > 0, p_d, 1.0)), 0.0)
    accepted = p_d * keep
    return accepted + (1.0 - accepted.sum()) * speculative_residual(p_t, p_d)

"""Leverage scores and root-leverage scores (the p = 2 sensitivities and their powers)."""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array
from ._checks import RANK_RTOL, check_p

__all__ = ["leverage_scores", "root_leverage_scores"]


def leverage_scores(a) -> np.ndarray:
    r"""Statistical leverage scores of the rows of ``a`` (any rank).

    .. math:: \tau_i = a_i^\top (A^\top A)^{+} a_i = \|U_{i,:}\|_2^2,

    with ``U`` an orthonormal basis of the column space of ``A``. They are the
    exact :math:`\ell_2` sensitivities,
    :math:`\tau_i = \sup_{Ax \ne 0} (a_i^\top x)^2 / \|Ax\|_2^2`, lie in
    ``[0, 1]`` and sum to :math:`\operatorname{rank} A`.

    Parameters
    ----------
    a : (n, d) array
        Any rank is accepted (the scores depend on the column space only).

    Returns
    -------
    (n,) array

    References
    ----------
    Woodruff and Yasuda, "Sharper Bounds for ell_p Sensitivity Sampling"
    (ICML 2023), Section 1 (p = 2 sensitivities are leverage scores).
    """
    a = as_float_array("a", a, ndim=2)
    if a.shape[1] < 1 or a.shape[0] < 1:
        raise ValueError(f"a: must have at least one row and one column (got shape {a.shape})")
    u, s, _ = np.linalg.svd(a, full_matrices=False)
    if s.size == 0 or s[0] == 0.0:
        raise ValueError("a: must not be zero (rank 0)")
    r = int(np.sum(s > RANK_RTOL * max(a.shape) * s[0]))
    return np.einsum("ij,ij->i", u[:, :r], u[:, :r])


def root_leverage_scores(a, p) -> np.ndarray:
    r"""Root-leverage scores :math:`\tau_i^{p/2}` (for :math:`1 \le p < 2`).

    For :math:`p \le 2` they upper-bound the :math:`\ell_p` sensitivities,
    :math:`s_i \le \tau_i^{p/2}` (Cauchy–Schwarz and
    :math:`\|Ax\|_2 \le \|Ax\|_p`); sampling rows with probabilities
    proportional to them is the "root leverage score sampling" of Woodruff
    and Yasuda, "Sharper Bounds for ell_p Sensitivity Sampling" (ICML 2023).

    Parameters
    ----------
    a : (n, d) array
    p : float, >= 1

    Returns
    -------
    (n,) array
    """
    p = check_p(p)
    return leverage_scores(a) ** (p / 2.0)

r"""Sensitivity sampling of rows and the exact distortion of the resulting :math:`\ell_p` embedding.

Sampling. Row ``i`` is kept independently with probability
:math:`q_i = \min(1, \alpha s_i)` and rescaled by :math:`q_i^{-1/p}`, so that
:math:`\mathbb E \|SAx\|_p^p = \|Ax\|_p^p` for every ``x``. The scores ``s``
may be sensitivities, root-leverage scores, Lewis weights or anything
non-negative.

Distortion. For a sample ``S`` the embedding distortion is

.. math::

    \delta(S) = \sup_{Ax \ne 0}
        \left| \frac{\|SAx\|_p^p}{\|Ax\|_p^p} - 1 \right| .

``p = 2``
    exactly, from the generalised eigenvalues of
    :math:`((SA)^\top SA, A^\top A)`.
``p = 1``
    exactly, by enumerating the rays of the hyperplane arrangement of the
    rows of ``A`` (``x`` orthogonal to ``d - 1`` rows): both
    :math:`\|SAx\|_1` and :math:`\|Ax\|_1` are linear on each cone of the
    arrangement, and a ratio of linear functions on a pointed polyhedral cone
    attains its extremes on the cone's extreme rays. Cost
    :math:`\binom{n}{d-1}` rays.
otherwise (or when there are too many rays)
    a certified bracket by branch and bound on the unit sphere in the
    coordinates :math:`u = Rx` (``A = QR``): ``F(u) = ||SQu||_p`` and
    ``G(u) = ||Qu||_p`` are norms, hence Lipschitz with constants bounded by
    their maxima, and a cell of radius ``gamma`` around ``v`` has
    :math:`F \in [F(v) - \gamma L_F, F(v) + \gamma L_F]` (same for ``G``).
    Values at cell centres are attained (lower bound on the distortion);
    the cell bounds give the upper bound.

References
----------
Woodruff and Yasuda, "Sharper Bounds for ell_p Sensitivity Sampling"
(ICML 2023), Section 1 (sensitivity sampling and its sample sizes) and
Section 7 (sampling guarantees).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from .._random import as_generator
from .._validation import as_float_array, check_int, check_real
from ._checks import check_design, check_p, merge_parallel_rows

__all__ = [
    "RowSample",
    "DistortionResult",
    "inclusion_probabilities",
    "alpha_for_expected_size",
    "sample_rows",
    "sketch",
    "embedding_distortion",
    "arrangement_rays",
    "DistortionOracle",
]


@dataclass(frozen=True)
class RowSample:
    """A sensitivity sample of rows.

    Attributes
    ----------
    indices : (k,) int array
        The kept rows, increasing.
    weights : (k,) array
        Their rescaling factors :math:`q_i^{-1/p}`.
    probabilities : (n,) array
        The inclusion probabilities :math:`q_i` of every row.
    p : float
    alpha : float
    """

    indices: np.ndarray
    weights: np.ndarray
    probabilities: np.ndarray
    p: float
    alpha: float

    @property
    def expected_size(self) -> float:
        return float(np.sum(self.probabilities))

    @property
    def size(self) -> int:
        return int(self.indices.size)


def _check_scores(scores) -> np.ndarray:
    s = as_float_array("scores", scores, ndim=1)
    if s.size == 0:
        raise ValueError("scores: must be non-empty")
    if np.any(s < 0):
        raise ValueError(f"scores: must be non-negative (min {s.min():.3g})")
    if not np.any(s > 0):
        raise ValueError("scores: must have a positive entry")
    return s


def inclusion_probabilities(scores, alpha) -> np.ndarray:
    r"""Inclusion probabilities :math:`q_i = \min(1, \alpha s_i)`.

    Parameters
    ----------
    scores : (n,) array, non-negative
    alpha : float, > 0
    """
    s = _check_scores(scores)
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    return np.minimum(1.0, alpha * s)


def alpha_for_expected_size(scores, expected_size) -> float:
    r"""The oversampling factor :math:`\alpha` with :math:`\sum_i \min(1, \alpha s_i) = m`.

    Parameters
    ----------
    scores : (n,) array, non-negative, at least one positive
    expected_size : float
        In ``(0, #{i : s_i > 0}]``.
    """
    s = _check_scores(scores)
    pos = np.sort(s[s > 0])[::-1]
    m = check_real("expected_size", expected_size, low=0.0, high=float(pos.size), low_open=True)
    # with the j largest scores capped at one: j + alpha * sum(rest) = m
    tail = np.concatenate([np.cumsum(pos[::-1])[::-1], [0.0]])
    for j in range(pos.size):
        alpha = (m - j) / tail[j]
        if alpha * pos[j] <= 1.0 + 1e-15:
            return float(alpha)
    return float(1.0 / pos[-1])


def sample_rows(scores, p, *, alpha=None, expected_size=None, rng=None) -> RowSample:
    r"""Keep row ``i`` with probability :math:`\min(1, \alpha s_i)`, rescaled by :math:`q_i^{-1/p}`.

    .. math:: \mathbb E\, \|SAx\|_p^p = \|Ax\|_p^p

    Parameters
    ----------
    scores : (n,) array
        Non-negative sampling scores (sensitivities, root-leverage scores, ...).
    p : float, >= 1
    alpha : float, optional
        The oversampling factor. Exactly one of ``alpha`` and
        ``expected_size`` must be given.
    expected_size : float, optional
        Choose ``alpha`` so that the expected number of kept rows is this.
    rng : Generator, int or None

    Returns
    -------
    RowSample

    References
    ----------
    Woodruff and Yasuda, "Sharper Bounds for ell_p Sensitivity Sampling"
    (ICML 2023), Section 1 (sensitivity sampling).
    """
    s = _check_scores(scores)
    p = check_p(p)
    if (alpha is None) == (expected_size is None):
        raise ValueError("alpha, expected_size: give exactly one of them")
    if alpha is None:
        alpha = alpha_for_expected_size(s, expected_size)
    q = inclusion_probabilities(s, alpha)
    gen = as_generator(rng)
    keep = np.flatnonzero(gen.random(s.size) < q)
    return RowSample(keep, q[keep] ** (-1.0 / p), q, p, float(alpha))


def sketch(a, sample: RowSample) -> np.ndarray:
    """The sampled and rescaled rows ``S A`` (shape ``(k, d)``)."""
    a = as_float_array("a", a, ndim=2)
    if sample.probabilities.shape != (a.shape[0],):
        raise ValueError(f"sample: was drawn for {sample.probabilities.size} rows, a has "
                         f"{a.shape[0]}")
    return a[sample.indices] * sample.weights[:, None]


@dataclass(frozen=True)
class DistortionResult:
    """The distortion of a row sample, exactly or as a certified bracket.

    Attributes
    ----------
    lower, upper : float
        ``lower <= delta <= upper``; equal (to rounding) when ``exact``.
    exact : bool
    method : str
        ``"eigen"`` (p = 2), ``"rays"`` (p = 1) or ``"branch_and_bound"``.
    ratio_range : (float, float)
        The smallest and largest values of :math:`\\|SAx\\|_p^p/\\|Ax\\|_p^p`
        (exact methods) or the extreme values attained at evaluated points
        (branch and bound).
    """

    lower: float
    upper: float
    exact: bool
    method: str
    ratio_range: tuple[float, float]

    @property
    def value(self) -> float:
        """The distortion (the midpoint of the bracket)."""
        return 0.5 * (self.lower + self.upper)


def _weights_vector(n, indices, weights):
    idx = np.asarray(indices)
    if idx.ndim != 1:
        raise ValueError(f"indices: must be a 1-D array of row indices in [0, {n}) "
                         f"(got shape {idx.shape})")
    if idx.size and (idx.dtype == bool or not np.issubdtype(idx.dtype, np.integer)):
        # a float index would be truncated to a different row without notice
        raise ValueError(f"indices: must be integers (got dtype {idx.dtype})")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"indices: must be a 1-D array of row indices in [0, {n}) "
                         f"(got range [{idx.min()}, {idx.max()}])")
    w = as_float_array("weights", weights, ndim=1)
    if w.shape != idx.shape:
        raise ValueError(f"weights: must have the shape of indices {idx.shape} (got {w.shape})")
    if np.any(w < 0):
        raise ValueError("weights: must be non-negative")
    full = np.zeros(n)
    np.add.at(full, idx.astype(np.int64), w)
    return full


def _distortion_eigen(a, c):
    from scipy.linalg import eigh

    gram = a.T @ a
    sampled = (a * c[:, None]).T @ a
    lam = eigh(sampled, gram, eigvals_only=True)
    lo, hi = float(lam.min()), float(lam.max())
    value = max(hi - 1.0, 1.0 - lo)
    return DistortionResult(value, value, True, "eigen", (lo, hi))


def _ray_directions(a, combos):
    """Null vectors of A_B for a batch of (d-1)-subsets (generalised cross products)."""
    sub = a[combos]  # (k, d-1, d)
    k, dm1, d = sub.shape
    r = np.empty((k, d))
    for j in range(d):
        minor = np.delete(sub, j, axis=2)
        r[:, j] = (-1) ** j * np.linalg.det(minor)
    return r


def arrangement_rays(a, *, max_rays: int = 3_000_000, chunk: int = 50_000) -> np.ndarray:
    r"""Unit directions of the rays of the hyperplane arrangement :math:`\{a_k^\top x = 0\}`.

    One ray (up to sign) per set of ``d - 1`` linearly independent rows:
    these are the vertices of the polytope :math:`\{\|Ax\|_1 \le 1\}`.

    Parameters
    ----------
    a : (n, d) array, full column rank
    max_rays : int
        Refuse (``ValueError``) when :math:`\binom{n}{d-1}` exceeds this.

    Returns
    -------
    (r, d) array
    """
    a = check_design("a", a)
    n, d = a.shape
    if d == 1:
        return np.ones((1, 1))
    total = math.comb(n, d - 1)
    if total > max_rays:
        raise ValueError(f"a: C(n, d-1) = C({n}, {d - 1}) = {total} rays exceeds max_rays = "
                         f"{max_rays}")
    # rays depend only on the distinct hyperplanes: merge parallel rows first
    a_n, _, _ = merge_parallel_rows(a, 1.0)
    a_n = a_n / np.linalg.norm(a_n, axis=1, keepdims=True)
    it = itertools.combinations(range(a_n.shape[0]), d - 1)
    out = []
    while True:
        combos = np.fromiter(itertools.chain.from_iterable(itertools.islice(it, chunk)),
                             dtype=np.int64).reshape(-1, d - 1)
        if combos.size == 0:
            break
        r = _ray_directions(a_n, combos)
        norm = np.linalg.norm(r, axis=1)
        keep = norm > 1e-10
        out.append(r[keep] / norm[keep, None])
    return np.vstack(out)


def _distortion_rays(a, c, rays=None, zn=None):
    if zn is None:
        if rays is None:
            rays = arrangement_rays(a)
        z = np.abs(rays @ a.T)
        zn = z / z.sum(axis=1, keepdims=True)
    ratio = zn @ c
    lo, hi = float(ratio.min()), float(ratio.max())
    value = max(hi - 1.0, 1.0 - lo)
    return DistortionResult(value, value, True, "rays", (lo, hi))


def _face_cells(d, k):
    """Initial cells: each of the d positive faces of [-1, 1]^d split into k^(d-1) boxes."""
    centers_1d = -1.0 + (2.0 * np.arange(k) + 1.0) / k
    grid = np.array(list(itertools.product(centers_1d, repeat=d - 1))).reshape(-1, d - 1)
    pts = []
    for j in range(d):
        full = np.insert(grid, j, 1.0, axis=1)
        pts.append(full)
    return np.vstack(pts), np.concatenate([np.full(len(grid), j) for j in range(d)]), 1.0 / k


def _split(centers, faces, h, d):
    """Split every cell (half-width h on its face) into 2^(d-1) children."""
    offs = np.array(list(itertools.product([-0.5, 0.5], repeat=d - 1))) * h
    out, out_faces = [], []
    for o_idx in range(offs.shape[0]):
        c = centers.copy()
        for j in range(d):
            sel = faces == j
            free = [t for t in range(d) if t != j]
            c[np.ix_(sel, free)] += offs[o_idx]
        out.append(c)
        out_faces.append(faces)
    return np.vstack(out), np.concatenate(out_faces), h / 2.0


def _distortion_bnb(a, c, p, tol, max_cells):
    """Certified bracket by branch and bound over cells of the faces of the cube.

    The ratio F(x)/G(x) of the norms F(x) = ||SAx||_p and G(x) = ||Ax||_p is
    homogeneous of degree zero, so it suffices to cover the d positive faces
    of [-1, 1]^d (x and -x give the same ratio); cells are boxes on a face.
    With ``lower`` the largest distortion attained at a cell centre so far,
    a cell is discarded once it provably satisfies
    ``F <= mu G`` and ``F >= nu G`` with ``mu^p = 1 + lower + tol`` and
    ``nu^p = 1 - lower - tol``. Both tests use convexity only: ``G`` (resp.
    ``F``) is at least its tangent plane at the cell centre, and the convex
    remainders ``F - mu T_G`` and ``nu G - T_F`` are largest at the cell's
    vertices. These tests are exact to second order in the cell size around
    smooth points. When no cell is left, the distortion lies in
    ``[lower, lower + tol]``.
    """
    n, d = a.shape
    q, _ = np.linalg.qr(a)
    qs = q * (c ** (1.0 / p))[:, None]  # F(u) = ||diag(c^{1/p}) Q u||_p, G(u) = ||Q u||_p

    def norm_and_grad(m, pts):
        z = pts @ m.T
        az = np.abs(z)
        val = np.sum(az ** p, axis=1) ** (1.0 / p)
        safe = np.where(val > 0, val, 1.0)[:, None]
        coef = np.sign(z) * (az / safe) ** (p - 1.0)
        return val, coef @ m

    def norm(m, pts):
        return np.sum(np.abs(pts @ m.T) ** p, axis=1) ** (1.0 / p)

    if d == 1:
        ratio = float((norm(qs, np.ones((1, 1)))[0] / norm(q, np.ones((1, 1)))[0]) ** p)
        return DistortionResult(abs(ratio - 1), abs(ratio - 1), True, "branch_and_bound",
                                (ratio, ratio))
    centers, faces, h = _face_cells(d, 2)
    corner = np.array(list(itertools.product([-1.0, 1.0], repeat=d - 1)))
    nc = corner.shape[0]
    best_hi, best_lo = -np.inf, np.inf  # attained values of the ratio (cell centres)
    total_cells = 0
    while True:
        k = centers.shape[0]
        total_cells += k
        f, gf = norm_and_grad(qs, centers)
        g, gg = norm_and_grad(q, centers)
        ratio = (f / g) ** p
        best_hi = max(best_hi, float(ratio.max()))
        best_lo = min(best_lo, float(ratio.min()))
        lower = max(best_hi - 1.0, 1.0 - best_lo)
        free = np.ones((k, d), dtype=bool)
        free[np.arange(k), faces] = False
        step = np.zeros((k * nc, d))
        step[np.repeat(free, nc, axis=0)] = np.tile(corner * h, (k, 1)).reshape(-1)
        verts = np.repeat(centers, nc, axis=0) + step
        f_v = norm(qs, verts).reshape(k, nc)
        g_v = norm(q, verts).reshape(k, nc)
        tan_g = g[:, None] + np.einsum("kcd,kd->kc", step.reshape(k, nc, d), gg)
        tan_f = f[:, None] + np.einsum("kcd,kd->kc", step.reshape(k, nc, d), gf)
        mu = (1.0 + lower + tol) ** (1.0 / p)
        open_hi = np.max(f_v - mu * tan_g, axis=1) > 0
        lo_thr = 1.0 - lower - tol
        if lo_thr > 0:
            nu = lo_thr ** (1.0 / p)
            open_lo = np.min(tan_f - nu * g_v, axis=1) < 0
        else:
            open_lo = np.zeros(k, dtype=bool)
        keep = open_hi | open_lo
        if not np.any(keep):
            return DistortionResult(float(lower), float(lower + tol), False, "branch_and_bound",
                                    (best_lo, best_hi))
        if total_cells >= max_cells:
            # give up refining: a bound from the remaining cells (first order only)
            gf_free = np.abs(np.where(free, gf, 0.0)).sum(axis=1)
            gg_free = np.abs(np.where(free, gg, 0.0)).sum(axis=1)
            g_low = g - h * gg_free
            f_low = np.maximum(f - h * gf_free, 0.0)
            safe = np.where(g_low > 0, g_low, 1.0)
            hi = np.where(g_low > 0, (f_v.max(axis=1) / safe) ** p, np.inf)
            lo = (f_low / g_v.max(axis=1)) ** p
            dist = np.maximum(hi - 1.0, 1.0 - lo)[keep]
            upper = max(float(dist.max()), lower + tol)
            return DistortionResult(float(lower), upper, False, "branch_and_bound",
                                    (best_lo, best_hi))
        centers, faces, h = _split(centers[keep], faces[keep], h, d)


def embedding_distortion(a, indices, weights, p, *, method: str = "auto", tol: float = 1e-3,
                         max_rays: int = 3_000_000, max_cells: int = 2_000_000):
    r"""The distortion :math:`\sup_x |\|SAx\|_p^p / \|Ax\|_p^p - 1|` of a weighted row sample.

    Parameters
    ----------
    a : (n, d) array
        Full column rank.
    indices : (k,) int array
        Kept rows (repeats allowed: their weights add); an integer dtype
        (float indices are refused, not truncated).
    weights : (k,) array
        Row scalings (for :func:`sample_rows`: :math:`q_i^{-1/p}`), so that
        :math:`\|SAx\|_p^p = \sum_j w_j^p |a_{i_j}^\top x|^p`.
    p : float, >= 1
    method : {"auto", "eigen", "rays", "branch_and_bound"}
        ``auto``: ``eigen`` for p = 2, ``rays`` for p = 1 when there are at
        most ``max_rays`` rays, ``branch_and_bound`` otherwise.
    tol : float
        Width of the certified bracket that branch and bound aims for.
    max_rays, max_cells : int
        Work limits.

    Returns
    -------
    DistortionResult
    """
    p = check_p(p)
    a = check_design("a", a)
    n, d = a.shape
    check_real("tol", tol, low=0.0, low_open=True)
    max_rays = check_int("max_rays", max_rays, low=1)
    max_cells = check_int("max_cells", max_cells, low=1)
    w = _weights_vector(n, indices, weights)
    c = w ** p  # ||SAx||_p^p = sum_i c_i |a_i^T x|^p
    if method not in ("auto", "eigen", "rays", "branch_and_bound"):
        raise ValueError("method: must be 'auto', 'eigen', 'rays' or 'branch_and_bound' "
                         f"(got {method!r})")
    if method == "auto":
        if p == 2.0:
            method = "eigen"
        elif p == 1.0 and math.comb(n, d - 1) <= max_rays:
            method = "rays"
        else:
            method = "branch_and_bound"
    if method == "eigen":
        if p != 2.0:
            raise ValueError(f"method: 'eigen' needs p = 2 (got p = {p})")
        return _distortion_eigen(a, c)
    if method == "rays":
        if p != 1.0:
            raise ValueError(f"method: 'rays' needs p = 1 (got p = {p})")
        return _distortion_rays(a, c, arrangement_rays(a, max_rays=max_rays))
    return _distortion_bnb(a, c, p, tol, max_cells)


class DistortionOracle:
    """Distortions of many row samples of one matrix, with the per-matrix work done once.

    For ``p = 1`` with at most ``max_rays`` arrangement rays, the matrix
    ``|R A^T|`` of all rays is kept, and each distortion is one matrix-vector
    product (exact). Otherwise each call is :func:`embedding_distortion`.

    Parameters
    ----------
    a : (n, d) array, full column rank
    p : float, >= 1
    tol : float
        Branch-and-bound bracket width.
    max_rays : int
    max_memory : int
        Largest number of entries of ``|R A^T|`` to keep (default 4e6).
    max_cells : int
        Branch-and-bound work limit.

    Raises
    ------
    ValueError
        Bad ``a`` or ``p``; ``tol <= 0``; ``max_rays``, ``max_memory`` or
        ``max_cells`` not a positive integer.
    """

    def __init__(self, a, p, *, tol: float = 1e-3, max_rays: int = 3_000_000,
                 max_memory: int = 4_000_000, max_cells: int = 2_000_000):
        self.p = check_p(p)
        self.a = check_design("a", a)
        self.tol = check_real("tol", tol, low=0.0, low_open=True)
        self.max_cells = check_int("max_cells", max_cells, low=1)
        max_rays = check_int("max_rays", max_rays, low=1)
        max_memory = check_int("max_memory", max_memory, low=1)
        n, d = self.a.shape
        self._z = None
        if self.p == 1.0 and math.comb(n, d - 1) <= max_rays and \
                math.comb(n, d - 1) * n <= max_memory:
            z = np.abs(arrangement_rays(self.a, max_rays=max_rays) @ self.a.T)
            self._z = z / z.sum(axis=1, keepdims=True)  # ratio = (|R A^T| / row sums) @ c
        self.method = ("eigen" if self.p == 2.0 else
                       "rays" if self._z is not None else "branch_and_bound")

    def __call__(self, indices, weights) -> DistortionResult:
        n = self.a.shape[0]
        c = _weights_vector(n, indices, weights) ** self.p
        if self.method == "eigen":
            return _distortion_eigen(self.a, c)
        if self.method == "rays":
            return _distortion_rays(self.a, c, zn=self._z)
        return _distortion_bnb(self.a, c, self.p, self.tol, self.max_cells)

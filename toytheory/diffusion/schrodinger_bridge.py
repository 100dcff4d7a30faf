r"""Gaussian Schrödinger bridges, piecewise multi-marginal bridges and reference refinement.

Static Schrödinger bridge (SB) between :math:`N(m_0, S_0)` and :math:`N(m_1, S_1)` with a
Gaussian reference transition :math:`X_1 \mid X_0 = x \sim N(Mx + h, Q)` (Brownian motion:
:math:`M = I`, :math:`Q = \varepsilon I`; Ornstein–Uhlenbeck :math:`dX = BX\,dt + s\,dW` over
:math:`\Delta`: :math:`M = e^{B\Delta}`, :math:`Q = \int_0^\Delta e^{Bu} s^2 e^{B^T u} du`):
the coupling minimising :math:`KL(\pi \| \pi_{ref})` with those marginals. With
:math:`L = Q^{-1/2}`, :math:`u = L(Mx + h)`, :math:`v = Ly` it is entropic OT with cost
:math:`\tfrac12\|u - v\|^2` and :math:`\varepsilon = 1`, whose Gaussian solution has
cross-covariance (Janati et al. 2020; Bunne et al. 2023, "The Schrödinger bridge between
Gaussian measures has a closed form", Theorem 3)

.. math:: C = \tfrac12\big(A^{1/2} D A^{-1/2} - \varepsilon I\big), \qquad
          D = (4 A^{1/2} B A^{1/2} + \varepsilon^2 I)^{1/2}

for :math:`u \sim N(\cdot, A)`, :math:`v \sim N(\cdot, B)`; equivalently the joint precision
has off-diagonal block :math:`-I/\varepsilon` (the Schrödinger system).

"Multi-marginal Schrödinger Bridges with Iterative Reference Refinement" (Shen, Berlinghieri,
Broderick 2024): snapshots at times :math:`t_1 < \dots < t_T`; a piecewise SB couples
adjacent snapshots and glues the pieces as a Markov chain (Gaussian:
:math:`\mathrm{Cov}(X_j, X_k) = C_j S_{j+1}^{-1} C_{j+1} \cdots S_{k-1}^{-1} C_{k-1}`); the
refinement alternates the piecewise SB with refitting the reference inside its class (here
the drift matrix of an OU process with known diffusion, by least squares on the bridge's
transitions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from .._validation import as_float_array, check_int, check_psd, check_real

__all__ = ["eot_cross_covariance", "sb_cross_covariance", "ou_transition", "ou_snapshots",
           "piecewise_joint", "joint_kl", "fit_drift", "refine_reference", "Snapshots",
           "RefinementResult"]


def _eig_fn(a, fn, fallback):
    """``fn`` applied to a diagonalisable real matrix through its eigendecomposition (fast
    for the small matrices here); ``fallback`` (scipy) when the eigenvectors are
    ill-conditioned."""
    w, v = np.linalg.eig(a)
    if np.linalg.cond(v) > 1e8:
        return fallback(a)
    out = (v * fn(w)) @ np.linalg.inv(v)
    if np.abs(out.imag).max() > 1e-9 * max(1.0, np.abs(out.real).max()):
        return out  # complex: the caller decides
    return out.real


def _expm(a):
    return _eig_fn(a, np.exp, linalg.expm)


def _logm(a):
    return _eig_fn(a, lambda w: np.log(w.astype(complex)), linalg.logm)


def _sqrt_spd(a):
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(w)) @ v.T, (v / np.sqrt(w)) @ v.T


def _spd(name, a, d=None):
    a = check_psd(name, a, strict=True)
    if d is not None and a.shape != (d, d):
        raise ValueError(f"{name}: must have shape ({d}, {d}) (got {a.shape})")
    return a


def eot_cross_covariance(cov0, cov1, eps: float) -> np.ndarray:
    """Cross-covariance of the entropic OT coupling (cost ½‖x − y‖², regulariser ``eps``)
    between Gaussians with covariances ``cov0`` and ``cov1`` (means do not enter).

    Raises
    ------
    ValueError
        ``cov0``/``cov1`` not symmetric positive definite or of different shapes; ``eps <= 0``.
    """
    s0 = _spd("cov0", cov0)
    s1 = _spd("cov1", cov1, s0.shape[0])
    eps = check_real("eps", eps, low=0.0, low_open=True)
    r, r_inv = _sqrt_spd(s0)
    inner = 4 * r @ s1 @ r + eps ** 2 * np.eye(s0.shape[0])
    dmat, _ = _sqrt_spd(0.5 * (inner + inner.T))
    return 0.5 * (r @ dmat @ r_inv - eps * np.eye(s0.shape[0]))


def sb_cross_covariance(cov0, cov1, trans, noise) -> np.ndarray:
    """:math:`\\mathrm{Cov}(X_0, X_1)` of the static SB with reference transition
    :math:`N(Mx + h, Q)` (``trans`` = M invertible, ``noise`` = Q SPD)."""
    s0 = _spd("cov0", cov0)
    d = s0.shape[0]
    s1 = _spd("cov1", cov1, d)
    m = as_float_array("trans", trans, ndim=2)
    if m.shape != (d, d) or abs(np.linalg.det(m)) < 1e-300:
        raise ValueError(f"trans: must be an invertible ({d}, {d}) matrix")
    q = _spd("noise", noise, d)
    q_half, l_mat = _sqrt_spd(q)
    lm = l_mat @ m
    a = lm @ s0 @ lm.T
    b = l_mat @ s1 @ l_mat
    c_uv = eot_cross_covariance(0.5 * (a + a.T), 0.5 * (b + b.T), 1.0)
    return np.linalg.solve(lm, c_uv) @ q_half


def ou_transition(drift, diffusion: float, dt: float):
    """``(M, Q)`` of :math:`dX = BX\\,dt + s\\,dW` over ``dt``: :math:`e^{B\\Delta}` and
    :math:`\\int_0^\\Delta e^{Bu}s^2e^{B^Tu}du` (Van Loan's block exponential)."""
    b = as_float_array("drift", drift, ndim=2)
    if b.shape[0] != b.shape[1]:
        raise ValueError(f"drift: must be square (got {b.shape})")
    s = check_real("diffusion", diffusion, low=0.0, low_open=True)
    dt = check_real("dt", dt, low=0.0, low_open=True)
    d = b.shape[0]
    block = np.zeros((2 * d, 2 * d))
    block[:d, :d] = -b
    block[:d, d:] = s * s * np.eye(d)
    block[d:, d:] = b.T
    e = _expm(block * dt)
    m = e[d:, d:].T
    q = m @ e[:d, d:]
    return m, 0.5 * (q + q.T)


@dataclass(frozen=True)
class Snapshots:
    """Gaussian snapshot marginals and a joint law at equally spaced times.

    ``means`` (T, d), ``covs`` (T, d, d), ``joint`` (T d, T d) covariance of the stacked
    snapshots (the truth's, or a bridge's), ``dt`` the spacing.
    """

    means: np.ndarray
    covs: np.ndarray
    joint: np.ndarray
    dt: float

    def cross(self, j: int, k: int) -> np.ndarray:
        d = self.means.shape[1]
        return self.joint[j * d:(j + 1) * d, k * d:(k + 1) * d]


def _markov_joint(covs, pair_cross):
    n, d = covs.shape[0], covs.shape[1]
    joint = np.zeros((n * d, n * d))
    for j in range(n):
        joint[j * d:(j + 1) * d, j * d:(j + 1) * d] = covs[j]
        block = covs[j]
        for k in range(j + 1, n):
            # Cov(X_j, X_k) = Cov(X_j, X_{k-1}) S_{k-1}^{-1} C_{k-1}
            block = (block @ np.linalg.solve(covs[k - 1], pair_cross[k - 1]) if k > j + 1
                     else pair_cross[j])
            joint[j * d:(j + 1) * d, k * d:(k + 1) * d] = block
            joint[k * d:(k + 1) * d, j * d:(j + 1) * d] = block.T
    return joint


def ou_snapshots(drift, diffusion: float, mean0, cov0, n_times: int, dt: float) -> Snapshots:
    """The exact joint law of an OU process observed at ``n_times`` equally spaced times.

    Raises
    ------
    ValueError
        ``n_times < 2``; ``cov0`` not SPD; bad drift/diffusion/dt.
    """
    n_times = check_int("n_times", n_times, low=2)
    m0 = as_float_array("mean0", mean0, ndim=1)
    if m0.size == 0:
        raise ValueError("mean0: must not be empty")
    s0 = _spd("cov0", cov0, m0.size)
    m, q = ou_transition(drift, diffusion, dt)
    if m.shape[0] != m0.size:
        raise ValueError(f"drift: must be ({m0.size}, {m0.size}) (got {m.shape})")
    means, covs = [m0], [s0]
    for _ in range(n_times - 1):
        means.append(m @ means[-1])
        c = m @ covs[-1] @ m.T + q
        covs.append(0.5 * (c + c.T))
    covs = np.array(covs)
    pair = [covs[k] @ m.T for k in range(n_times - 1)]
    return Snapshots(np.array(means), covs, _markov_joint(covs, pair), float(dt))


def piecewise_joint(snaps: Snapshots, trans, noise) -> Snapshots:
    """The piecewise SB through the snapshot marginals with one reference transition
    ``(trans, noise)`` per gap, glued as a Markov chain."""
    n = snaps.covs.shape[0]
    if n < 2:
        raise ValueError(f"snaps: need T >= 2 snapshots (got {n})")
    pair = [sb_cross_covariance(snaps.covs[k], snaps.covs[k + 1], trans, noise)
            for k in range(n - 1)]
    return Snapshots(snaps.means, snaps.covs, _markov_joint(snaps.covs, pair), snaps.dt)


def joint_kl(law: Snapshots, truth: Snapshots) -> float:
    """KL(law's joint || truth's joint) of the stacked snapshots (same means)."""
    s0, s1 = law.joint, truth.joint
    n = s0.shape[0]
    sol = np.linalg.solve(s1, s0)
    return float(0.5 * (np.trace(sol) - n + np.linalg.slogdet(s1)[1]
                        - np.linalg.slogdet(s0)[1]))


def fit_drift(law: Snapshots, cls: str = "full"):
    """Least-squares transition matrix :math:`\\hat M` of :math:`X_{k+1} \\approx M X_k`,
    pooled over the gaps of the joint law (second moments include the means), and the drift
    :math:`\\hat B = \\log \\hat M / \\Delta` (``cls`` "full": any matrix; "scalar":
    :math:`-\\theta I`)."""
    n, d = law.means.shape
    num = np.zeros((d, d))
    den = np.zeros((d, d))
    for k in range(n - 1):
        num += law.cross(k, k + 1).T + np.outer(law.means[k + 1], law.means[k])
        den += law.covs[k] + np.outer(law.means[k], law.means[k])
    if cls == "full":
        m_hat = np.linalg.solve(den.T, num.T).T
        b = _logm(m_hat) / law.dt
        if np.iscomplexobj(b):
            if np.abs(b.imag).max() > 1e-9:
                raise ValueError("law: the fitted transition has no real logarithm")
            b = b.real
        return b
    if cls == "scalar":
        ratio = np.trace(num) / np.trace(den)
        if ratio <= 0:
            raise ValueError("law: the fitted scalar transition is not positive")
        return np.log(ratio) / law.dt * np.eye(d)
    raise ValueError(f"cls: must be 'full' or 'scalar' (got {cls!r})")


@dataclass(frozen=True)
class RefinementResult:
    """Iterates of the reference refinement: ``drifts`` (iterations + 1 of them, the first the
    initial reference), the final piecewise ``law`` and whether it ``converged``."""

    drifts: list
    law: Snapshots
    converged: bool

    @property
    def iterations(self) -> int:
        return len(self.drifts) - 1


def refine_reference(snaps: Snapshots, diffusion: float, drift0=None, cls: str = "full",
                     tol: float = 1e-10, max_iter: int = 500) -> RefinementResult:
    """Alternate a piecewise SB with OU reference ``(drift, diffusion)`` and refitting the
    drift in class ``cls`` on the bridge, from ``drift0`` (default 0: Brownian motion),
    until the drift moves by less than ``tol`` (max-abs)."""
    tol = check_real("tol", tol, low=0.0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    d = snaps.means.shape[1]
    b = np.zeros((d, d)) if drift0 is None else as_float_array("drift0", drift0, ndim=2)
    drifts = [b]
    law = None
    for _ in range(max_iter):
        m, q = ou_transition(drifts[-1], diffusion, snaps.dt)
        law = piecewise_joint(snaps, m, q)
        b_new = fit_drift(law, cls)
        drifts.append(b_new)
        if np.abs(b_new - drifts[-2]).max() < tol:
            m, q = ou_transition(b_new, diffusion, snaps.dt)
            return RefinementResult(drifts, piecewise_joint(snaps, m, q), True)
    return RefinementResult(drifts, law, False)


def symbolic_sb_proof() -> dict:
    """Sympy proof, in one dimension, that the closed-form coupling solves the Schrödinger
    system, and the OU change of variables.

    1. With :math:`C = (\\sqrt{4 s_0 s_1 + \\varepsilon^2} - \\varepsilon)/2`, the joint
       precision of ``[[s0, C], [C, s1]]`` has off-diagonal entry :math:`-1/\\varepsilon`
       (so the density is :math:`e^{f(x) + g(y) - (x-y)^2/(2\\varepsilon)}`), and
       :math:`|C| < \\sqrt{s_0 s_1}` (a valid coupling).
    2. With reference :math:`N(mx + h, q)`: the cross-covariance
       :math:`C_{uv}\\sqrt q / (m/\\sqrt q)` of the transformed problem gives a joint precision
       off-diagonal :math:`-m/q`, the coefficient of :math:`xy` in :math:`-(y - mx - h)^2/(2q)`.

    Returns a dict of residuals (each 0 when the proof holds).
    """
    import sympy as sp

    s0, s1, eps, m, q = sp.symbols("s0 s1 epsilon m q", positive=True)
    c = (sp.sqrt(4 * s0 * s1 + eps ** 2) - eps) / 2
    joint = sp.Matrix([[s0, c], [c, s1]])
    off = sp.simplify(joint.inv()[0, 1] + 1 / eps)
    valid = sp.simplify(s0 * s1 - c ** 2 - eps * c)  # = 0, and eps c > 0 makes C^2 < s0 s1
    # OU / general scalar reference: u = m x / sqrt(q), v = y / sqrt(q), eps = 1
    a_u, b_v = m ** 2 * s0 / q, s1 / q
    c_uv = (sp.sqrt(4 * a_u * b_v + 1) - 1) / 2
    c_xy = c_uv * sp.sqrt(q) / (m / sp.sqrt(q))
    joint_xy = sp.Matrix([[s0, c_xy], [c_xy, s1]])
    off_xy = sp.simplify(joint_xy.inv()[0, 1] + m / q)
    return {"brownian_precision": off, "brownian_quadratic": valid, "reference_precision": off_xy}

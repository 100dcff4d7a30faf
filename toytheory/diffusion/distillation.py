r"""Progressive distillation of a DDIM teacher on Gaussian data, exactly.

"ProDiff: Progressive Fast Diffusion Model For High-Quality Text-to-Speech" (Huang et al.,
ACM MM 2022), Section 3 (after Salimans & Ho's progressive distillation): the denoiser of an
:math:`N/2`-step student is trained so that *one* DDIM step from :math:`t` to :math:`t''`
lands where *two* steps of the :math:`N`-step DDIM teacher land (:math:`t \to t' \to t''`).
With :math:`x_t = \alpha_t x_0 + \sigma_t\varepsilon`, the DDIM step with an
:math:`x_0`-prediction :math:`\hat x_0` is

.. math:: x_s = \alpha_s \hat x_0 + \sigma_s (x_t - \alpha_t \hat x_0)/\sigma_t ,

so the student's :math:`x_0`-target is

.. math:: \tilde x_0(x_t) = \frac{x_{t''} - (\sigma_{t''}/\sigma_t)\, x_t}
                                 {\alpha_{t''} - \sigma_{t''}\alpha_t/\sigma_t},

and its :math:`\varepsilon`-target is :math:`(x_t - \alpha_t \tilde x_0)/\sigma_t`.

On Gaussian data :math:`N(\mu, \Sigma)` the exact denoiser
:math:`\mu + \alpha\Sigma(\alpha^2\Sigma + \sigma^2 I)^{-1}(x - \alpha\mu)` is affine,
so every DDIM step is affine, the teacher's two steps are an affine map
:math:`x_t \mapsto P x_t + p`, the distillation target is affine in :math:`x_t`, and a
student whose per-step denoiser is affine has an exact least-squares solution under the
training law :math:`x_t \sim q_t = N(\alpha_t\mu, \alpha_t^2\Sigma + \sigma_t^2 I)`:

.. math:: A = \mathrm{Cov}(\text{target}, x_t)\,\mathrm{Cov}(x_t)^{-1}, \qquad
          b = E[\text{target}] - A\,E[x_t].

The sampler's output law from :math:`x_T \sim N(0, I)` is then Gaussian in closed form.
A *controlled model error* (the student's prediction shifted by :math:`\rho` times the
RMS of its own target, along a fixed unit direction) shows how the two parametrisations
propagate the same relative error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import as_float_array, check_int, check_psd, check_real

__all__ = ["AffineStep", "GaussianDistillation", "exact_denoiser", "ddim_step_matrix",
           "compose", "check_power_of_two"]


def check_power_of_two(name: str, n) -> int:
    """``n`` as an int, or ``ValueError`` naming ``name`` unless it is a power of two >= 1."""
    n = check_int(name, n, low=1)
    if n & (n - 1):
        raise ValueError(f"{name}: must be a power of two when halving is asked for (got {n})")
    return n


def exact_denoiser(mean, cov, alpha: float, sigma: float):
    """The exact :math:`E[x_0 \\mid x_t]` on :math:`N(\\mu, \\Sigma)` data as ``(A, b)``:
    :math:`A = \\alpha\\Sigma(\\alpha^2\\Sigma + \\sigma^2 I)^{-1}`, :math:`b = \\mu - \\alpha A\\mu`."""
    mu = np.asarray(mean, float)
    s = np.asarray(cov, float)
    d = mu.size
    m = alpha * alpha * s + sigma * sigma * np.eye(d)
    a = alpha * np.linalg.solve(m, s).T  # alpha S M^{-1} (S, M symmetric)
    return a, mu - alpha * a @ mu


def ddim_step_matrix(a_den, b_den, alpha_t, sigma_t, alpha_s, sigma_s):
    """The DDIM step :math:`t \\to s` with the affine :math:`x_0`-prediction
    :math:`A x + b` as the affine map ``(M, c)``:
    :math:`M = (\\alpha_s - \\sigma_s\\alpha_t/\\sigma_t) A + (\\sigma_s/\\sigma_t) I`,
    :math:`c = (\\alpha_s - \\sigma_s\\alpha_t/\\sigma_t) b`."""
    k = alpha_s - sigma_s * alpha_t / sigma_t
    d = a_den.shape[0]
    return k * a_den + (sigma_s / sigma_t) * np.eye(d), k * b_den


def compose(maps):
    """Compose affine maps applied in order: ``maps[0]`` first. Returns ``(M, c)``."""
    d = maps[0][0].shape[1]
    m, c = np.eye(d), np.zeros(d)
    for mi, ci in maps:
        m, c = mi @ m, mi @ c + ci
    return m, c


@dataclass(frozen=True)
class AffineStep:
    """One sampler step ``t -> s`` with the affine x0-prediction ``A x + b``."""

    t: float
    s: float
    a: np.ndarray
    b: np.ndarray


class GaussianDistillation:
    """Progressive distillation of an N-step DDIM teacher on :math:`N(\\mu, \\Sigma)` data.

    Parameters
    ----------
    mean : (d,) array
    cov : (d, d) array, symmetric positive definite
    schedule : NoiseSchedule
        A VP schedule (``alpha`` and ``sigma`` of the grid times are used).
    n_steps : int
        The teacher's number of DDIM steps; a power of two (it is halved).
    t_min : float, optional
        Last time of the grid (default ``schedule.t_min`` if positive, else 1e-3).

    Raises
    ------
    ValueError
        ``cov`` not symmetric positive definite, ``n_steps`` not a power of two,
        shapes that do not match.
    """

    def __init__(self, mean, cov, schedule, n_steps: int, t_min: float | None = None):
        self.mean = as_float_array("mean", mean, ndim=1)
        if self.mean.size == 0:
            raise ValueError("mean: must not be empty")
        self.cov = check_psd("cov", cov, strict=True)
        if self.cov.shape != (self.mean.size, self.mean.size):
            raise ValueError(f"cov: must have shape ({self.mean.size}, {self.mean.size}) "
                             f"(got {self.cov.shape})")
        self.n_steps = check_power_of_two("n_steps", n_steps)
        self.schedule = schedule
        lo = schedule.t_min if t_min is None else t_min
        lo = check_real("t_min", lo if lo > 0 else 1e-3, low=schedule.t_min,
                        high=schedule.t_max)
        self.grid = np.linspace(schedule.t_max, lo, self.n_steps + 1)
        self.d = self.mean.size

    # ------------------------------------------------------------------ basics
    def coeffs(self, t):
        return float(self.schedule.alpha(t)), float(self.schedule.sigma(t))

    def training_law(self, t):
        """Moments of :math:`q_t`: ``(alpha mu, alpha^2 Sigma + sigma^2 I)``."""
        a, s = self.coeffs(t)
        return a * self.mean, a * a * self.cov + s * s * np.eye(self.d)

    def teacher(self, n_steps: int | None = None):
        """The exact-denoiser DDIM sampler with ``n_steps`` (default N) on the grid."""
        n = self.n_steps if n_steps is None else check_power_of_two("n_steps", n_steps)
        if n > self.n_steps:
            raise ValueError(f"n_steps: must be <= {self.n_steps} (got {n})")
        times = self.grid[:: self.n_steps // n]
        steps = []
        for t, s in zip(times[:-1], times[1:]):
            a_t, s_t = self.coeffs(t)
            a, b = exact_denoiser(self.mean, self.cov, a_t, s_t)
            steps.append(AffineStep(float(t), float(s), a, b))
        return steps

    def step_map(self, step: AffineStep):
        a_t, s_t = self.coeffs(step.t)
        a_s, s_s = self.coeffs(step.s)
        return ddim_step_matrix(step.a, step.b, a_t, s_t, a_s, s_s)

    def sampler_map(self, steps):
        """The whole sampler as ``(M, c)``."""
        return compose([self.step_map(st) for st in steps])

    def output_law(self, steps, prior=None):
        """Output moments from :math:`x_T \\sim` ``prior`` (default N(0, I))."""
        m, c = self.sampler_map(steps)
        pm, pc = (np.zeros(self.d), np.eye(self.d)) if prior is None else prior
        out = m @ pc @ m.T
        return m @ pm + c, 0.5 * (out + out.T)

    # ------------------------------------------------------------------ distillation
    def target_map(self, teacher_pair, kind: str = "x0"):
        """The student's regression target as an affine function of :math:`x_t`.

        ``teacher_pair`` are two consecutive teacher steps ``t -> t' -> t''``;
        ``kind`` "x0" or "eps". Returns ``(A_target, b_target)``.
        """
        if kind not in ("x0", "eps"):
            raise ValueError(f"kind: must be 'x0' or 'eps' (got {kind!r})")
        first, second = teacher_pair
        if first.s != second.t:
            raise ValueError("teacher_pair: the steps must be consecutive")
        p, q = compose([self.step_map(first), self.step_map(second)])
        a_t, s_t = self.coeffs(first.t)
        a_u, s_u = self.coeffs(second.s)
        k = a_u - s_u * a_t / s_t
        a_x0 = (p - (s_u / s_t) * np.eye(self.d)) / k
        b_x0 = q / k
        if kind == "x0":
            return a_x0, b_x0
        return (np.eye(self.d) - a_t * a_x0) / s_t, -a_t * b_x0 / s_t

    def least_squares(self, t, a_tgt, b_tgt):
        """Population least squares of the affine target on :math:`x_t \\sim q_t`:
        ``A = Cov(target, x) Cov(x)^{-1}``, ``b = E target - A E x``."""
        m, c = self.training_law(t)
        cross = a_tgt @ c  # Cov(A_tgt x + b_tgt, x)
        a = np.linalg.solve(c, cross.T).T
        return a, (a_tgt @ m + b_tgt) - a @ m

    def target_second_moment(self, t, a_tgt, b_tgt) -> float:
        """:math:`E\\|A x_t + b\\|^2` under :math:`q_t`."""
        m, c = self.training_law(t)
        mean = a_tgt @ m + b_tgt
        return float(np.trace(a_tgt @ c @ a_tgt.T) + mean @ mean)

    def distil(self, teacher, kind: str = "x0", error: float = 0.0, direction=None):
        """One stage: the exact least-squares student of ``teacher`` (with half its steps).

        Parameters
        ----------
        teacher : list of AffineStep, even length
        kind : {"x0", "eps"}
            The student's parametrisation (what it predicts and is regressed on).
        error : float, >= 0
            Controlled model error: the student's prediction is shifted by
            ``error * sqrt(E||target||^2) * direction`` in its own output space.
        direction : (d,) array, optional
            Unit direction of the error (default the first basis vector).
        """
        error = check_real("error", error, low=0.0)
        if len(teacher) % 2 or not teacher:
            raise ValueError(f"teacher: must have an even, positive number of steps "
                             f"(got {len(teacher)})")
        u = np.eye(self.d)[0] if direction is None else as_float_array(
            "direction", direction, ndim=1)
        if u.size != self.d or not np.isclose(np.linalg.norm(u), 1.0):
            raise ValueError("direction: must be a unit vector of dimension d")
        student = []
        for first, second in zip(teacher[::2], teacher[1::2]):
            a_tgt, b_tgt = self.target_map((first, second), kind)
            a, b = self.least_squares(first.t, a_tgt, b_tgt)
            if error:
                b = b + error * np.sqrt(self.target_second_moment(first.t, a_tgt, b_tgt)) * u
            if kind == "eps":  # the eps-prediction C x + e as an x0-prediction
                a_t, s_t = self.coeffs(first.t)
                a, b = (np.eye(self.d) - s_t * a) / a_t, -s_t * b / a_t
            student.append(AffineStep(first.t, second.s, a, b))
        return student

    def progressive(self, kind: str = "x0", error: float = 0.0, direction=None):
        """All stages N, N/2, ..., 1: a list of samplers (stage 0 is the exact teacher)."""
        stages = [self.teacher()]
        while len(stages[-1]) > 1:
            stages.append(self.distil(stages[-1], kind, error, direction))
        return stages

    def target_variances(self, teacher_pair):
        """Exact variances of the two regression targets at the student's input time t.

        Returns a dict with the total variance (trace of the covariance) of the original
        denoising target :math:`x_0` (``tr Sigma``), its part not explained by the input
        (``tr Cov(x_0 | x_t)``), and the same two numbers for the distillation target
        :math:`\\tilde x_0(x_t)` (deterministic given :math:`x_t`, so its unexplained part is 0).
        """
        t = teacher_pair[0].t
        a_t, s_t = self.coeffs(t)
        _, c = self.training_law(t)
        post = self.cov - a_t * a_t * self.cov @ np.linalg.solve(c, self.cov)
        a_tgt, _ = self.target_map(teacher_pair, "x0")
        return {"denoising_total": float(np.trace(self.cov)),
                "denoising_unexplained": float(np.trace(post)),
                "distillation_total": float(np.trace(a_tgt @ c @ a_tgt.T)),
                "distillation_unexplained": 0.0}

r"""Progressive distillation with small MLP students on Gaussian-mixture data (torch, CPU).

The same scheme as :mod:`toytheory.diffusion.distillation` where the exact least-squares
student no longer exists: the teacher is DDIM with the *exact* mixture denoiser
(:meth:`GaussianMixture.denoise`) on an N-step grid, and each student is an MLP
:math:`f_\theta(x_t, \lambda_t)` (two hidden layers, SiLU) shared by its steps, trained by
Adam on fresh draws :math:`x_t \sim q_t` (exact mixture marginals) at the student's step
times, against the distillation target of the previous sampler's two steps
(ProDiff, Section 3; Salimans & Ho 2022):

.. math:: \tilde x_0 = \frac{x_{t''} - (\sigma_{t''}/\sigma_t) x_t}
                           {\alpha_{t''} - \sigma_{t''}\alpha_t/\sigma_t}, \qquad
          \tilde\varepsilon = (x_t - \alpha_t\tilde x_0)/\sigma_t .

``prediction="x0"`` regresses :math:`\tilde x_0`; ``"eps"`` regresses :math:`\tilde\varepsilon`
and samples with :math:`\hat x_0 = (x_t - \sigma_t\hat\varepsilon)/\alpha_t`.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_int, check_real
from .distillation import check_power_of_two

__all__ = ["MixtureDistillation"]


class MixtureDistillation:
    """Teacher and MLP students on a :class:`GaussianMixture`.

    Parameters
    ----------
    law : GaussianMixture
    schedule : NoiseSchedule (VP)
    n_steps : int, power of two
    t_min : float, default 1e-3
    """

    def __init__(self, law, schedule, n_steps: int, t_min: float = 1e-3):
        self.law = law
        self.schedule = schedule
        self.n_steps = check_power_of_two("n_steps", n_steps)
        t_min = check_real("t_min", t_min, low=schedule.t_min, high=schedule.t_max)
        self.grid = np.linspace(schedule.t_max, t_min, self.n_steps + 1)
        self.d = law.dim

    def coeffs(self, t):
        return float(self.schedule.alpha(t)), float(self.schedule.sigma(t))

    # ------------------------------------------------------------------ samplers
    def ddim(self, x, n_steps: int):
        """Plain DDIM with the exact denoiser on every ``N / n_steps``-th grid point."""
        n = check_power_of_two("n_steps", n_steps)
        times = self.grid[:: self.n_steps // n]
        return self._run(x, times, lambda y, t: self.law.denoise(y, *self.coeffs(t)))

    def _run(self, x, times, x0_fn):
        x = np.array(x, float)
        for t, s in zip(times[:-1], times[1:]):
            a_t, s_t = self.coeffs(t)
            a_s, s_s = self.coeffs(s)
            x0 = x0_fn(x, t)
            x = a_s * x0 + s_s * (x - a_t * x0) / s_t
        return x

    def student_sampler(self, student):
        """``x -> output`` of a trained student (dict from :meth:`distil`)."""
        return lambda x: self._run(x, student["times"], student["x0_fn"])

    # ------------------------------------------------------------------ training
    def distil(self, teacher_times, teacher_x0_fn, prediction: str, rng, *, hidden: int = 64,
               steps: int = 400, batch: int = 512, lr: float = 3e-3):
        """One stage: an MLP student with half the teacher's steps.

        Parameters
        ----------
        teacher_times : (2k + 1,) array, decreasing
        teacher_x0_fn : callable ``(x, t) -> x0``
        prediction : {"x0", "eps"}
        rng : numpy Generator (data draws and the MLP's initialisation seed)

        Returns
        -------
        dict with ``times`` (k + 1,), ``x0_fn`` and the final training ``loss``.
        """
        import torch

        if prediction not in ("x0", "eps"):
            raise ValueError(f"prediction: must be 'x0' or 'eps' (got {prediction!r})")
        steps = check_int("steps", steps, low=1)
        batch = check_int("batch", batch, low=1)
        times = np.asarray(teacher_times, float)
        if times.size < 3 or (times.size - 1) % 2:
            raise ValueError("teacher_times: need an even, positive number of steps")
        starts, mids, ends = times[:-1:2], times[1::2], times[2::2]
        torch.manual_seed(int(rng.integers(2**31)))
        d = self.d
        net = torch.nn.Sequential(torch.nn.Linear(d + 1, hidden), torch.nn.SiLU(),
                                  torch.nn.Linear(hidden, hidden), torch.nn.SiLU(),
                                  torch.nn.Linear(hidden, d)).double()
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        lam = np.array([float(self.schedule.log_snr(t)) for t in times])
        lam_scale = max(abs(lam).max(), 1.0)

        def features(x, t):
            col = np.full((x.shape[0], 1), float(self.schedule.log_snr(t)) / lam_scale)
            return torch.as_tensor(np.hstack([x, col]))

        loss = None
        for _ in range(steps):
            k = rng.integers(starts.size, size=batch)
            xs, ys, feats = [], [], []
            for j in np.unique(k):
                m = int(np.sum(k == j))
                t, u, v = starts[j], mids[j], ends[j]
                a_t, s_t = self.coeffs(t)
                x = self.law.sample(m, a_t, s_t, rng)
                y = self._run(x, np.array([t, u, v]), teacher_x0_fn)
                a_v, s_v = self.coeffs(v)
                x0_tgt = (y - (s_v / s_t) * x) / (a_v - s_v * a_t / s_t)
                tgt = x0_tgt if prediction == "x0" else (x - a_t * x0_tgt) / s_t
                xs.append(x)
                ys.append(tgt)
                feats.append(features(x, t))
            inp = torch.cat(feats)
            target = torch.as_tensor(np.vstack(ys))
            opt.zero_grad()
            loss = torch.mean((net(inp) - target) ** 2)
            loss.backward()
            opt.step()
            sched.step()

        def x0_fn(x, t):
            with torch.no_grad():
                out = net(features(x, t)).numpy()
            if prediction == "x0":
                return out
            a_t, s_t = self.coeffs(t)
            return (x - s_t * out) / a_t

        return {"times": times[::2].copy(), "x0_fn": x0_fn, "loss": float(loss.detach())}

    def progressive(self, prediction: str, rng, **train):
        """Students with N/2, ..., 1 steps, each distilled from the previous sampler."""
        times = self.grid
        x0_fn = lambda x, t: self.law.denoise(x, *self.coeffs(t))  # noqa: E731
        students = []
        while times.size > 2:
            st = self.distil(times, x0_fn, prediction, rng, **train)
            students.append(st)
            times, x0_fn = st["times"], st["x0_fn"]
        return students

r"""Sequential Neural Likelihood with a normalising-flow density estimator (Papamakarios,
Sterratt & Murray 2019, the estimator of "Efficient Massive Black Hole Binary parameter
estimation for LISA using Sequential Neural Likelihood"), on the linear-Gaussian simulator
of :mod:`toytheory.diffusion.posterior.snl`.

The estimator :math:`q_\psi(x \mid \theta)` is a conditional affine-coupling flow
(RealNVP, Dinh et al. 2017): data and parameters standardised by their training moments;
``layers`` couplings, each transforming half of the coordinates of :math:`x` by

.. math:: x_b \mapsto x_b\,e^{s(x_a, \theta)} + t(x_a, \theta), \qquad
          s = \tanh(\cdot)\ \text{(bounded log-scale)},

with a small MLP for :math:`(s, t)`, the halves alternating through fixed permutations; base
:math:`N(0, I)`. Trained by maximum likelihood (Adam, full batch) on every simulation so
far, warm-started from the previous round, as SNL does. The surrogate posterior
:math:`\propto p(\theta)\,q_\psi(x_o \mid \theta)` is read by self-normalised importance
sampling, adaptive: passes from the Gaussian with the previous pass's moments widened by
1.5, the first from the previous round's fit (tempered from the prior in round 1): its mean and
covariance (:func:`snl_flow_rounds`), and the next round simulates at draws of the
moment-matched Gaussian. No simulator call is spent on the posterior reading.

Training runs in float32 on one CPU thread with deterministic algorithms, seeded from
``rng``: the same generator state gives the same result.
"""

from __future__ import annotations

import numpy as np

from ..._validation import as_float_array, check_int, check_real
from .snl import LinearGaussianSimulator

__all__ = ["ConditionalCouplingFlow", "snl_flow_rounds"]


class ConditionalCouplingFlow:
    """``reps`` independent conditional affine-coupling flows :math:`q_r(x \\mid \\theta)`
    (module doc), trained side by side: every weight carries a leading ``reps`` axis, so one
    Adam run over the sum of their losses trains each on its own data (Adam's update of a
    weight depends on that weight's gradients only).

    Parameters
    ----------
    dim_x, dim_theta : int
    layers, hidden : int
        Couplings and hidden width of each coupling's MLP.
    reps : int
    seed : int
        Initialisation.
    """

    def __init__(self, dim_x, dim_theta, layers=4, hidden=32, reps=1, seed=0):
        import torch

        from ..learned import deterministic_cpu

        self.dim_x = check_int("dim_x", dim_x, low=2)
        self.dim_theta = check_int("dim_theta", dim_theta, low=1)
        self.layers = check_int("layers", layers, low=1)
        self.reps = check_int("reps", reps, low=1)
        hidden = check_int("hidden", hidden, low=1)
        g = np.random.default_rng(check_int("seed", seed, low=0))
        self.perms = [np.arange(self.dim_x)[::-1].copy() if i % 2 else g.permutation(self.dim_x)
                      for i in range(self.layers)]
        self.na = self.dim_x // 2
        nb = self.dim_x - self.na
        R, fan = self.reps, self.na + self.dim_theta
        gen = torch.Generator().manual_seed(int(seed))

        def unif(shape, fan_in):
            bound = 1.0 / np.sqrt(fan_in)
            return ((torch.rand(shape, generator=gen) * 2 - 1) * bound).requires_grad_(True)

        with deterministic_cpu():
            self.params = []
            for _ in range(self.layers):       # the last layer starts at 0: the identity map
                self.params.append([unif((R, fan, hidden), fan), unif((R, 1, hidden), fan),
                                    unif((R, hidden, hidden), hidden),
                                    unif((R, 1, hidden), hidden),
                                    torch.zeros((R, hidden, 2 * nb), requires_grad=True),
                                    torch.zeros((R, 1, 2 * nb), requires_grad=True)])
        self.x_mean = np.zeros((R, 1, self.dim_x))
        self.x_std = np.ones((R, 1, self.dim_x))
        self.t_mean = np.zeros((R, 1, self.dim_theta))
        self.t_std = np.ones((R, 1, self.dim_theta))

    def _log_prob(self, x, th):
        """torch, (R, N, .): log q of standardised ``x`` given standardised ``th`` (without
        the standardisation's Jacobian)."""
        import torch

        z = x
        logdet = torch.zeros(x.shape[:2], dtype=x.dtype)
        nb = self.dim_x - self.na
        for perm, (w1, b1, w2, b2, w3, b3) in zip(self.perms, self.params):
            z = z[:, :, torch.as_tensor(perm)]
            za, zb = z[:, :, :self.na], z[:, :, self.na:]
            h = torch.tanh(torch.bmm(torch.cat([za, th], dim=2), w1) + b1)
            h = torch.tanh(torch.bmm(h, w2) + b2)
            out = torch.bmm(h, w3) + b3
            s, t = torch.tanh(out[:, :, :nb]), out[:, :, nb:]
            zb = (zb - t) * torch.exp(-s)
            logdet = logdet - s.sum(dim=2)
            z = torch.cat([za, zb], dim=2)
        return -0.5 * (z * z).sum(dim=2) - 0.5 * self.dim_x * np.log(2 * np.pi) + logdet

    def _shapes(self, theta, x):
        th = as_float_array("theta", theta, ndim=3)
        xx = as_float_array("x", x, ndim=3)
        if (th.shape[0] != self.reps or th.shape[2] != self.dim_theta
                or xx.shape != th.shape[:2] + (self.dim_x,)):
            raise ValueError(f"theta, x: must have shapes ({self.reps}, n, {self.dim_theta}) "
                             f"and ({self.reps}, n, {self.dim_x}) (got {th.shape}, {xx.shape})")
        return th, xx

    def fit(self, theta, x, steps=200, lr=1e-2):
        """Maximum likelihood on ``theta (reps, n, p)``, ``x (reps, n, m)`` by full-batch
        Adam (warm start from the current weights; the standardisation is refitted).
        Returns the final mean negative log-likelihood per flow."""
        import torch

        from ..learned import deterministic_cpu

        th, xx = self._shapes(theta, x)
        steps = check_int("steps", steps, low=1)
        lr = check_real("lr", lr, low=0.0, low_open=True)
        self.x_mean, self.x_std = xx.mean(1, keepdims=True), xx.std(1, keepdims=True) + 1e-12
        self.t_mean, self.t_std = th.mean(1, keepdims=True), th.std(1, keepdims=True) + 1e-12
        X = torch.as_tensor((xx - self.x_mean) / self.x_std, dtype=torch.float32)
        T = torch.as_tensor((th - self.t_mean) / self.t_std, dtype=torch.float32)
        flat = [q for layer in self.params for q in layer]
        with deterministic_cpu():
            opt = torch.optim.Adam(flat, lr=lr)
            for _ in range(steps):
                opt.zero_grad(set_to_none=True)
                nll = -self._log_prob(X, T).mean(dim=1)
                nll.sum().backward()
                opt.step()
        return nll.detach().double().numpy()

    def log_prob(self, x, theta):
        """:math:`\\log q_r(x_r \\mid \\theta)` for ``theta (reps, n, p)`` and ``x``
        ``(reps, m)`` (one point per flow) or ``(reps, n, m)``; float64 ``(reps, n)``."""
        import torch

        from ..learned import deterministic_cpu

        th = as_float_array("theta", theta, ndim=3)
        xx = as_float_array("x", x)
        if xx.ndim == 2:
            xx = xx[:, None, :]
        xx = np.broadcast_to(xx, th.shape[:2] + (self.dim_x,))
        th, xx = self._shapes(th, xx)
        X = torch.as_tensor((xx - self.x_mean) / self.x_std, dtype=torch.float32)
        T = torch.as_tensor((th - self.t_mean) / self.t_std, dtype=torch.float32)
        with torch.no_grad(), deterministic_cpu():
            lp = self._log_prob(X, T).double().numpy()
        return lp - np.sum(np.log(self.x_std), axis=2)


COLD = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 1.0, 1.0)
WARM = (1.0, 1.0, 1.0)


def _surrogate_moments(flow, sim, x_o, mean, cov, n_is, rng, betas=WARM):
    """Per flow, mean and covariance of :math:`p(\\theta)q_r(x_o \\mid \\theta)` by
    adaptive self-normalised importance sampling (``mean (R, p)``, ``cov (R, p, p)``): one
    pass per entry of ``betas``, each proposing from the Gaussian with the last pass's
    moments widened by 1.5 and targeting :math:`p(\\theta)q^\\beta` (tempering from the
    prior when the start is far: :data:`COLD`); the last passes at :math:`\\beta = 1`."""
    R, p = mean.shape
    xo = np.broadcast_to(x_o, (R, sim.m))
    for beta in betas:
        Lp = 1.5 * np.linalg.cholesky(cov)
        eps = rng.standard_normal((R, n_is, p))
        draws = mean[:, None, :] + np.einsum("rij,rnj->rni", Lp, eps)
        log_prop = -0.5 * np.sum(eps * eps, axis=2)          # up to a constant per flow
        log_prior = -0.5 * np.sum(draws * draws, axis=2) / sim.prior_std ** 2
        lw = beta * flow.log_prob(xo, draws) + log_prior - log_prop
        w = np.exp(lw - lw.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        mean = np.einsum("rn,rni->ri", w, draws)
        c = draws - mean[:, None, :]
        cov = np.einsum("rn,rni,rnj->rij", w, c, c)
        cov = 0.5 * (cov + np.swapaxes(cov, 1, 2)) + 1e-9 * np.eye(p)
    return mean, cov


def snl_flow_rounds(sim, x_o, rounds, per_round, rng, *, reps=1, steps=100, n_is=2000,
                    layers=4, hidden=32):
    """``reps`` independent SNL runs with :class:`ConditionalCouplingFlow`, side by side;
    returns, per run, ``[(calls, mean, cov)]`` after each round (the surrogate posterior's
    moments by adaptive self-normalised importance sampling, module doc)."""
    if not isinstance(sim, LinearGaussianSimulator):
        raise ValueError("sim: must be a LinearGaussianSimulator")
    rounds = check_int("rounds", rounds, low=1)
    per_round = check_int("per_round", per_round, low=sim.p + 2)
    reps = check_int("reps", reps, low=1)
    n_is = check_int("n_is", n_is, low=100)
    x_o = as_float_array("x_o", x_o, ndim=1)
    if x_o.shape != (sim.m,):
        raise ValueError(f"x_o: must have shape ({sim.m},) (got {x_o.shape})")
    flow = ConditionalCouplingFlow(sim.m, sim.p, layers, hidden, reps,
                                   seed=int(rng.integers(0, 2 ** 31)))
    mean = np.zeros((reps, sim.p))
    cov = np.broadcast_to(sim.prior_std ** 2 * np.eye(sim.p), (reps, sim.p, sim.p)).copy()
    thetas, xs = [], []
    out = [[] for _ in range(reps)]
    for r in range(rounds):
        th = mean[:, None, :] + np.einsum("rij,rnj->rni", np.linalg.cholesky(cov),
                                          rng.standard_normal((reps, per_round, sim.p)))
        thetas.append(th)
        xs.append(sim.simulate(th.reshape(-1, sim.p), rng).reshape(reps, per_round, sim.m))
        flow.fit(np.concatenate(thetas, 1), np.concatenate(xs, 1), steps=steps)
        mean, cov = _surrogate_moments(flow, sim, x_o, mean, cov, n_is, rng,
                                       COLD if r == 0 else WARM)
        for k in range(reps):
            out[k].append(((r + 1) * per_round, mean[k].copy(), cov[k].copy()))
    return out

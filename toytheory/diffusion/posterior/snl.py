r"""Sequential Neural Likelihood on a linear-Gaussian simulator, against rejection ABC and
Metropolis on the true likelihood: the toy of "Efficient Massive Black Hole Binary parameter
estimation for LISA using Sequential Neural Likelihood" (2024).

Simulator :math:`x = G\theta + s\,\xi \in \mathbb R^m`, prior :math:`\theta \sim N(0,
\tau^2 I_p)`; the posterior given :math:`x_o` is Gaussian in closed form
(:meth:`LinearGaussianSimulator.posterior`). One *simulator call* is one evaluation of the
forward model :math:`G\theta` (with or without its noise): a draw for SNL and ABC, one
likelihood evaluation for Metropolis (LISA's cost model: the waveform is the expensive part).

SNL (Papamakarios et al. 2019) with a conditional Gaussian density estimator
:math:`q(x\mid\theta) = N(W\theta + b, \Sigma)`, fitted by maximum likelihood (least squares
and the residual covariance) to every simulation so far; round :math:`r+1` proposes from
round :math:`r`'s posterior :math:`\propto p(\theta)\,q(x_o\mid\theta)` (Gaussian in closed
form here, where SNL would run MCMC on it).
"""

from __future__ import annotations

import numpy as np

from ..._validation import as_float_array, check_int, check_real

__all__ = ["LinearGaussianSimulator", "snl_rounds", "rejection_abc", "metropolis_chains",
           "NonlinearSimulator", "snl_rounds_nonlinear", "metropolis_nonlinear"]


class LinearGaussianSimulator:
    """``x = G theta + noise_std xi``, prior ``N(0, prior_std^2 I)``."""

    def __init__(self, G, noise_std, prior_std):
        self.G = as_float_array("G", G, ndim=2)
        self.noise_std = check_real("noise_std", noise_std, low=0.0, low_open=True)
        self.prior_std = check_real("prior_std", prior_std, low=0.0, low_open=True)

    @property
    def p(self):
        return self.G.shape[1]

    @property
    def m(self):
        return self.G.shape[0]

    def simulate(self, theta, rng):
        th = as_float_array("theta", theta, ndim=2)
        if th.shape[1] != self.p:
            raise ValueError(f"theta: must have shape (n, {self.p}) (got {th.shape})")
        return th @ self.G.T + self.noise_std * rng.standard_normal((th.shape[0], self.m))

    def loglik(self, theta, x_o):
        """log p(x_o | theta) up to a constant, for rows of ``theta``."""
        r = x_o - theta @ self.G.T
        return -0.5 * np.sum(r * r, axis=-1) / self.noise_std ** 2

    def posterior(self, x_o):
        r"""Exact ``(mean, cov)``: precision :math:`I/\tau^2 + G^TG/s^2`."""
        x = as_float_array("x_o", x_o, ndim=1)
        if x.shape != (self.m,):
            raise ValueError(f"x_o: must have shape ({self.m},) (got {x.shape})")
        prec = np.eye(self.p) / self.prior_std ** 2 + self.G.T @ self.G / self.noise_std ** 2
        cov = np.linalg.inv(prec)
        return cov @ self.G.T @ x / self.noise_std ** 2, 0.5 * (cov + cov.T)


def _fit_conditional(theta, x):
    """MLE of N(W theta + b, Sigma): least squares and the residual covariance."""
    Z = np.hstack([theta, np.ones((theta.shape[0], 1))])
    coef, *_ = np.linalg.lstsq(Z, x, rcond=None)
    res = x - Z @ coef
    return coef[:-1].T, coef[-1], res.T @ res / theta.shape[0]


def _surrogate_posterior(sim, W, b, S, x_o):
    Si = np.linalg.inv(S)
    prec = np.eye(sim.p) / sim.prior_std ** 2 + W.T @ Si @ W
    cov = np.linalg.inv(prec)
    return cov @ W.T @ Si @ (x_o - b), 0.5 * (cov + cov.T)


def snl_rounds(sim, x_o, rounds, per_round, rng):
    """SNL with the conditional Gaussian estimator; returns ``[(calls, mean, cov)]`` after
    each round."""
    if not isinstance(sim, LinearGaussianSimulator):
        raise ValueError("sim: must be a LinearGaussianSimulator")
    rounds = check_int("rounds", rounds, low=1)
    per_round = check_int("per_round", per_round, low=sim.p + 2)
    x_o = as_float_array("x_o", x_o, ndim=1)
    mean, cov = np.zeros(sim.p), sim.prior_std ** 2 * np.eye(sim.p)
    thetas, xs, out = [], [], []
    for r in range(rounds):
        th = mean + rng.standard_normal((per_round, sim.p)) @ np.linalg.cholesky(cov).T
        thetas.append(th)
        xs.append(sim.simulate(th, rng))
        W, b, S = _fit_conditional(np.vstack(thetas), np.vstack(xs))
        mean, cov = _surrogate_posterior(sim, W, b, S, x_o)
        out.append(((r + 1) * per_round, mean, cov))
    return out


def rejection_abc(sim, x_o, calls, accept, rng):
    """Rejection ABC: ``calls`` prior draws, keep the ``accept`` nearest to ``x_o``
    (Euclidean); returns the kept draws' ``(mean, cov)``."""
    calls = check_int("calls", calls, low=2)
    accept = check_int("accept", accept, low=sim.p + 1, high=calls)
    th = sim.prior_std * rng.standard_normal((calls, sim.p))
    d = np.sum((sim.simulate(th, rng) - x_o) ** 2, axis=1)
    keep = th[np.argsort(d)[:accept]]
    return keep.mean(0), np.cov(keep.T)


def metropolis_chains(sim, x_o, calls, chains, rng, *, proposal_cov=None, burn=0.1):
    """Random-walk Metropolis on the exact posterior, ``chains`` independent chains of
    ``calls`` likelihood evaluations each (one simulator call each), started at the prior
    mean; proposal ``2.38^2/p x proposal_cov`` (default: the exact posterior covariance, the
    sampler's best case). Returns per chain ``(mean (chains, p), cov (chains, p, p))`` of the
    draws after a ``burn`` fraction."""
    calls = check_int("calls", calls, low=10)
    chains = check_int("chains", chains, low=1)
    burn = check_real("burn", burn, low=0.0, high=1.0, high_open=True)
    post_cov = sim.posterior(x_o)[1] if proposal_cov is None else proposal_cov
    L = np.linalg.cholesky(2.38 ** 2 / sim.p * post_cov)
    prior_var = sim.prior_std ** 2
    th = np.zeros((chains, sim.p))
    lp = sim.loglik(th, x_o) - 0.5 * np.sum(th * th, axis=1) / prior_var
    start = int(burn * calls)
    keep = calls - start
    s1 = np.zeros((chains, sim.p))
    s2 = np.zeros((chains, sim.p, sim.p))
    for it in range(calls):
        prop = th + rng.standard_normal((chains, sim.p)) @ L.T
        lq = sim.loglik(prop, x_o) - 0.5 * np.sum(prop * prop, axis=1) / prior_var
        acc = np.log(rng.random(chains)) < lq - lp
        th = np.where(acc[:, None], prop, th)
        lp = np.where(acc, lq, lp)
        if it >= start:
            s1 += th
            s2 += th[:, :, None] * th[:, None, :]
    mean = s1 / keep
    cov = s2 / keep - mean[:, :, None] * mean[:, None, :]
    return mean, cov


class NonlinearSimulator:
    r"""A 2-parameter nonlinear simulator with a banana-shaped posterior:
    :math:`x = (\theta_1\theta_2,\ \theta_1 + \theta_2,\ \sin\theta_1) + s\,\xi`, prior
    :math:`N(0, I_2)`. The reference posterior is by quadrature on a grid
    (:meth:`grid_posterior`)."""

    p, m = 2, 3

    def __init__(self, noise_std=0.3, half=4.0, n_grid=161):
        self.noise_std = check_real("noise_std", noise_std, low=0.0, low_open=True)
        g = np.linspace(-half, half, check_int("n_grid", n_grid, low=11))
        self.grid = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
        self.cell = g[1] - g[0]

    @staticmethod
    def forward(theta):
        th = np.asarray(theta, float)
        return np.stack([th[..., 0] * th[..., 1], th[..., 0] + th[..., 1],
                         np.sin(th[..., 0])], axis=-1)

    def simulate(self, theta, rng):
        th = as_float_array("theta", theta, ndim=2)
        return self.forward(th) + self.noise_std * rng.standard_normal((th.shape[0], 3))

    def log_prior(self, theta):
        return -0.5 * np.sum(np.asarray(theta) ** 2, axis=-1)

    def loglik(self, theta, x_o):
        r = x_o - self.forward(theta)
        return -0.5 * np.sum(r * r, axis=-1) / self.noise_std ** 2

    def grid_posterior(self, x_o, loglik=None):
        """Normalised posterior weights on the grid (``loglik`` defaults to the true one)."""
        ll = self.loglik(self.grid, x_o) if loglik is None else loglik(self.grid)
        lp = self.log_prior(self.grid) + ll
        w = np.exp(lp - lp.max())
        return w / w.sum()

    def moments(self, w):
        """Mean and covariance of grid weights ``w``."""
        mean = w @ self.grid
        c = self.grid - mean
        return mean, (w[:, None] * c).T @ c

    def draw(self, w, n, rng):
        """``n`` draws from grid weights (a cell, then uniform inside it)."""
        idx = rng.choice(len(w), size=n, p=w)
        return self.grid[idx] + self.cell * (rng.random((n, 2)) - 0.5)


def _features(theta):
    """Quadratic features (1, t1, t2, t1^2, t2^2, t1 t2): the SNL estimator's mean is linear
    in them (a flexible but misspecified family: the simulator has a sine)."""
    t1, t2 = theta[:, 0], theta[:, 1]
    return np.stack([np.ones_like(t1), t1, t2, t1 * t1, t2 * t2, t1 * t2], axis=1)


def snl_rounds_nonlinear(sim, x_o, rounds, per_round, rng):
    """SNL on :class:`NonlinearSimulator` with the conditional Gaussian
    :math:`N(B\\phi(\\theta), \\Sigma)`, quadratic :math:`\\phi`, proposals drawn from the
    previous round's surrogate posterior on the grid; returns ``[(calls, grid weights)]``."""
    if not isinstance(sim, NonlinearSimulator):
        raise ValueError("sim: must be a NonlinearSimulator")
    rounds = check_int("rounds", rounds, low=1)
    per_round = check_int("per_round", per_round, low=8)
    x_o = as_float_array("x_o", x_o, ndim=1)
    thetas, xs, out = [], [], []
    w = None
    for r in range(rounds):
        th = rng.standard_normal((per_round, 2)) if w is None else sim.draw(w, per_round, rng)
        thetas.append(th)
        xs.append(sim.simulate(th, rng))
        T, X = np.vstack(thetas), np.vstack(xs)
        Phi = _features(T)
        B, *_ = np.linalg.lstsq(Phi, X, rcond=None)
        res = X - Phi @ B
        S = res.T @ res / len(T)
        Si = np.linalg.inv(S)

        def loglik(grid, B=B, Si=Si):
            d = x_o - _features(grid) @ B
            return -0.5 * np.einsum("ni,ij,nj->n", d, Si, d)

        w = sim.grid_posterior(x_o, loglik)
        out.append(((r + 1) * per_round, w))
    return out


def metropolis_nonlinear(sim, x_o, calls, chains, rng, proposal_cov, burn=0.1):
    """Random-walk Metropolis on :class:`NonlinearSimulator`'s exact posterior, one
    likelihood evaluation (simulator call) per step; returns per-chain moments of the draws
    after burn-in, as :func:`metropolis_chains`."""
    calls = check_int("calls", calls, low=10)
    chains = check_int("chains", chains, low=1)
    L = np.linalg.cholesky(2.38 ** 2 / 2 * np.asarray(proposal_cov, float))
    th = np.zeros((chains, 2))
    lp = sim.loglik(th, x_o) + sim.log_prior(th)
    start = int(burn * calls)
    s1 = np.zeros((chains, 2))
    s2 = np.zeros((chains, 2, 2))
    for it in range(calls):
        prop = th + rng.standard_normal((chains, 2)) @ L.T
        lq = sim.loglik(prop, x_o) + sim.log_prior(prop)
        acc = np.log(rng.random(chains)) < lq - lp
        th = np.where(acc[:, None], prop, th)
        lp = np.where(acc, lq, lp)
        if it >= start:
            s1 += th
            s2 += th[:, :, None] * th[:, None, :]
    keep = calls - start
    mean = s1 / keep
    return mean, s2 / keep - mean[:, :, None] * mean[:, None, :]

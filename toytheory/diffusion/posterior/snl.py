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

__all__ = ["LinearGaussianSimulator", "snl_rounds", "rejection_abc", "metropolis_chains"]


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

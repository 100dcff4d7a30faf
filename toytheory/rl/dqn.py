"""Minibatch DQN on Linearq(u) from the paper's offline dataset, in Numba.

The learner of the paper's Linearq comparison (section 5.1 of "Free from
Bellman Completeness: Trajectory Stitching via Model-based Return-conditioned
Supervised Learning"), as close to DQN as the toy allows:

- a Q-network: two-layer ReLU MLP of width ``w``, input ``s / (|S| - 1)``, one
  output per action (``Q(s, 0), Q(s, 1)``), initialised as torch's ``Linear``
  (uniform on :math:`\\pm 1/\\sqrt{\\text{fan-in}}`);
- a target network, a copy of the Q-network refreshed every ``target_every``
  steps;
- replay from the fixed offline dataset: each step draws a minibatch of
  ``batch`` transitions uniformly (with replacement) from the dataset's
  transitions;
- the TD target :math:`y = r + \\mathbb{1}[s' \\ne 3u+2]\\max_{a'} Q_{\\text{target}}(s', a')`
  (undiscounted, finite horizon, stopped at the absorbing state), rewards
  divided by the best return in the data;
- squared TD error (the Huber loss DQN uses is the same function for
  ``|y - Q| <= 1``, which the scaled targets keep), Adam.

The greedy policy (ties to action 0) is then evaluated exactly in the true MDP
by the caller. Each network draws from its own Numba stream seeded by
``seed``, so a run's result depends only on its seed and settings.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["dqn_greedy_actions", "fit_dqn", "dqn_widths"]


@njit(cache=True)
def _train(xs, acts, rew, xs2, live, cum, n_states, width, seed, n_targets, target_every,
           batch, lr):  # pragma: no cover - compiled
    np.random.seed(seed)
    w = width
    W1 = (np.random.random(w) * 2.0 - 1.0)            # fan-in 1
    b1 = (np.random.random(w) * 2.0 - 1.0)
    bound = 1.0 / np.sqrt(w)
    W2 = (np.random.random((2, w)) * 2.0 - 1.0) * bound
    b2 = (np.random.random(2) * 2.0 - 1.0) * bound
    m = [np.zeros_like(p) for p in (W1, b1)]
    v = [np.zeros_like(p) for p in (W1, b1)]
    mW2, vW2 = np.zeros_like(W2), np.zeros_like(W2)
    mb2, vb2 = np.zeros(2), np.zeros(2)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    gW1, gb1 = np.zeros(w), np.zeros(w)
    gW2, gb2 = np.zeros((2, w)), np.zeros(2)
    h = np.zeros(w)
    t = 0
    for _ in range(n_targets):
        tW1, tb1, tW2, tb2 = W1.copy(), b1.copy(), W2.copy(), b2.copy()
        for _ in range(target_every):
            gW1[:] = 0.0
            gb1[:] = 0.0
            gW2[:, :] = 0.0
            gb2[:] = 0.0
            for _ in range(batch):
                i = np.searchsorted(cum, np.random.random(), side="right")
                if i >= cum.size:
                    i = cum.size - 1
                # target network at s'
                y = rew[i]
                if live[i] > 0.0:
                    q0 = tb2[0]
                    q1 = tb2[1]
                    for j in range(w):
                        z = tW1[j] * xs2[i] + tb1[j]
                        if z > 0.0:
                            q0 += tW2[0, j] * z
                            q1 += tW2[1, j] * z
                    y += q0 if q0 >= q1 else q1
                a = acts[i]
                q = b2[a]
                for j in range(w):
                    z = W1[j] * xs[i] + b1[j]
                    h[j] = z if z > 0.0 else 0.0
                    q += W2[a, j] * h[j]
                d = 2.0 * (q - y) / batch
                gb2[a] += d
                for j in range(w):
                    if h[j] > 0.0:
                        gW2[a, j] += d * h[j]
                        dh = d * W2[a, j]
                        gW1[j] += dh * xs[i]
                        gb1[j] += dh
            t += 1
            c1 = 1.0 - beta1 ** t
            c2 = 1.0 - beta2 ** t
            for p, g, mm, vv in ((W1, gW1, m[0], v[0]), (b1, gb1, m[1], v[1])):
                for j in range(w):
                    mm[j] = beta1 * mm[j] + (1.0 - beta1) * g[j]
                    vv[j] = beta2 * vv[j] + (1.0 - beta2) * g[j] * g[j]
                    p[j] -= lr / c1 * mm[j] / (np.sqrt(vv[j] / c2) + eps)
            for a in range(2):
                mb2[a] = beta1 * mb2[a] + (1.0 - beta1) * gb2[a]
                vb2[a] = beta2 * vb2[a] + (1.0 - beta2) * gb2[a] * gb2[a]
                b2[a] -= lr / c1 * mb2[a] / (np.sqrt(vb2[a] / c2) + eps)
                for j in range(w):
                    mW2[a, j] = beta1 * mW2[a, j] + (1.0 - beta1) * gW2[a, j]
                    vW2[a, j] = beta2 * vW2[a, j] + (1.0 - beta2) * gW2[a, j] * gW2[a, j]
                    W2[a, j] -= lr / c1 * mW2[a, j] / (np.sqrt(vW2[a, j] / c2) + eps)
    greedy = np.zeros(n_states, dtype=np.int64)
    for s in range(n_states):
        x = s / (n_states - 1.0)
        q0 = b2[0]
        q1 = b2[1]
        for j in range(w):
            z = W1[j] * x + b1[j]
            if z > 0.0:
                q0 += W2[0, j] * z
                q1 += W2[1, j] * z
        greedy[s] = 1 if q1 > q0 else 0
    return greedy


def dqn_greedy_actions(u: int, width: int, seed: int, *, n_targets: int | None = None,
                       target_every: int = 50, batch: int = 32, lr: float = 1e-3,
                       dataset=None) -> np.ndarray:
    """Train one DQN on the Linearq(u) dataset and return its greedy actions.

    Parameters
    ----------
    u : int
        ``u >= 1``.
    width : int
        Hidden width ``>= 1``.
    seed : int
        ``>= 0``: initialisation and minibatch stream.
    n_targets : int, optional
        Target-network refreshes (default ``2 |S|``: enough refreshes to carry
        values down the whole chain of length ``|S|``).
    target_every : int
        Gradient steps between refreshes (``>= 1``).
    batch : int
        Minibatch size (``>= 1``).
    lr : float
        Adam step size (``> 0``).
    dataset : TrajectoryDataset, optional
        Default :func:`~toytheory.rl.datasets.linearq_dataset`.

    Returns
    -------
    (3u+3,) int64 array
        ``argmax_a Q(s, a)`` at every state (ties: action 0).

    Raises
    ------
    ValueError
        Naming the argument that is out of range.
    """
    from .._validation import check_int, check_real
    from .datasets import linearq_dataset

    u = check_int("u", u, low=1)
    width = check_int("width", width, low=1)
    seed = check_int("seed", seed, low=0)
    target_every = check_int("target_every", target_every, low=1)
    batch = check_int("batch", batch, low=1)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    n = 3 * u + 3
    n_targets = 2 * n if n_targets is None else check_int("n_targets", n_targets, low=1)
    data = linearq_dataset(u) if dataset is None else dataset
    s = data.states[:, :-1].ravel()
    s2 = data.states[:, 1:].ravel()
    a = data.actions.ravel().astype(np.int64)
    r = data.rewards.ravel().astype(float)
    scale = float(data.returns().max())
    stacked = np.stack([s, a, r, s2], axis=1)
    rows, counts = np.unique(stacked, axis=0, return_counts=True)
    cum = np.cumsum(counts / counts.sum())
    cum[-1] = 1.0
    return _train(rows[:, 0] / (n - 1), rows[:, 1].astype(np.int64), rows[:, 2] / scale,
                  rows[:, 3] / (n - 1), (rows[:, 3] != n - 1).astype(float), cum, n, width,
                  seed % (2 ** 32), n_targets, target_every, batch, lr)


def dqn_widths(u: int) -> list[int]:
    """The paper's widths ``{2, 4, 8, 16, u/4, u, 4u}`` that lie in ``[u/4, 4u]`` (``u/4`` rounded up)."""
    from .._validation import check_int

    u = check_int("u", u, low=1)
    low = -(-u // 4)
    return sorted(w for w in {2, 4, 8, 16, low, u, 4 * u} if low <= w <= 4 * u)


def fit_dqn(u: int, widths, seeds, **settings):
    """:func:`dqn_greedy_actions` for every ``(width, seed)``, evaluated exactly.

    Parameters
    ----------
    u : int
    widths, seeds : sequences of int
        Every width is trained once per seed.
    **settings
        Passed to :func:`dqn_greedy_actions` (``n_targets``, ``target_every``,
        ``batch``, ``lr``).

    Returns
    -------
    LearnerRun
        ``method = "dqn"``; ``returns[(width, seed)]`` is the exact return of the
        greedy policy; ``details["greedy_actions"]`` the policies.
    """
    from fractions import Fraction

    from .exact import exact_return
    from .learners import LearnerRun, _int_list
    from .linearq_mdp import linearq

    widths = _int_list("widths", widths, low=1)
    seeds = _int_list("seeds", seeds, low=0)
    mdp = linearq(u)
    returns, greedy = {}, {}
    for w in widths:
        for seed in seeds:
            actions = dqn_greedy_actions(u, w, seed, **settings)
            returns[(w, seed)] = exact_return(mdp, actions)
            greedy[(w, seed)] = actions.tolist()
    return LearnerRun("dqn", u, returns, Fraction(4 * u + 2),
                      {"greedy_actions": greedy, **settings})

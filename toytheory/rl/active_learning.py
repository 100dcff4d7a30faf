"""Learning to actively learn, exactly: noisy thresholds on a grid with a tiny query budget.

Source paper: "Learning to Actively Learn: A Robust Approach" (Tong, Jamieson et al.).

The toy. Query points ``x = 0, ..., m - 1``; hypotheses are thresholds
``h_t(x) = 1[x >= t]`` for ``t = 0, ..., m``. A problem ``theta = (t, k)`` is a threshold and
a noise class: a query at ``x`` returns ``h_t(x)`` flipped with probability ``eta_k(x)``
(a class is one flip probability everywhere, or a profile over the points).
A policy makes ``B`` queries (adaptively) and then names a threshold ``t_hat``; its error on
``theta`` is ``P_theta(t_hat != t)``. The noise classes are the toy's equivalence classes of
problems: problems of one class have the same information-theoretic difficulty
(``log(m + 1) / KL(eta_k || 1 - eta_k)`` queries).

Everything is exact (float64): a history is summarised by its counts
``c[x, y]`` (how often ``x`` was answered ``y``), which is sufficient for every policy built
here; a deterministic policy is a table from count states to queries and, at the end, to
decisions; its error on every ``theta`` is a forward recursion over the count states.

- :func:`bayes_policy`: the Bayes-optimal policy for a prior over problems (dynamic
  programming over count states; the best response of the learner).
- :func:`minimax_policy`: the exact minimax-optimal (randomised) adaptive policy,
  ``min_pi max_theta (err(pi, theta) - offset_theta)``, by the double-oracle form of
  adversarial training: the adversary's prior is the LP dual over the policies found so
  far, the learner's best response to it is :func:`bayes_policy`; it stops with a
  certificate (the adversary's Bayes risk) within ``tol`` of the mixed policy's value.
  With ``offset = 0`` on one class this is the class's minimax error ``V_k``; with
  ``offset_theta = V_k`` over all classes it is the paper's robust objective (one policy
  that competes with the best policy of every class).
- :func:`binary_search_policy`, :func:`gbs_policy`: the information-theoretic baselines
  (bisection with each query repeated and a majority vote; generalised binary search,
  which queries where the posterior mass splits most evenly and names the MAP threshold).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .._validation import as_float_array, check_int, check_probability_vector, check_real

__all__ = ["ThresholdProblem", "DeterministicPolicy", "MinimaxResult", "policy_errors",
           "bayes_policy", "minimax_policy", "binary_search_policy", "gbs_policy",
           "mixture_errors", "brute_force_minimax", "LearnedPolicy", "adversarial_training",
           "learned_policy_errors"]

MAX_BUDGET = 16


@dataclass(frozen=True)
class ThresholdProblem:
    """Thresholds on ``n_points`` grid points, noise classes ``noises``, query ``budget``.

    Problems are indexed ``j = k * (n_points + 1) + t`` (class ``k``, threshold ``t``).
    """

    n_points: int
    noises: tuple
    budget: int

    def __post_init__(self):
        check_int("n_points", self.n_points, low=1, high=8)
        check_int("budget", self.budget, low=1, high=MAX_BUDGET)
        if not isinstance(self.noises, tuple) or len(self.noises) == 0:
            raise ValueError("noises: must be a non-empty tuple of flip probabilities")
        for eta in self.noises:
            profile = eta if isinstance(eta, tuple) else (eta,) * self.n_points
            if len(profile) != self.n_points:
                raise ValueError(f"noises: a per-point profile must have n_points = "
                                 f"{self.n_points} entries (got {len(profile)})")
            for e in profile:
                check_real("noises", e, low=0.0, high=0.5, high_open=True)

    def noise_profiles(self) -> np.ndarray:
        """Flip probability of every class at every point, shape (n_classes, n_points)."""
        return np.array([eta if isinstance(eta, tuple) else (eta,) * self.n_points
                         for eta in self.noises], dtype=np.float64)

    @property
    def n_thresholds(self) -> int:
        return self.n_points + 1

    @property
    def n_problems(self) -> int:
        return self.n_thresholds * len(self.noises)

    def thresholds(self) -> np.ndarray:
        """The threshold of every problem, shape (n_problems,)."""
        return np.tile(np.arange(self.n_thresholds), len(self.noises))

    def classes(self) -> np.ndarray:
        """The noise class of every problem, shape (n_problems,)."""
        return np.repeat(np.arange(len(self.noises)), self.n_thresholds)

    def label_one_prob(self) -> np.ndarray:
        """``P(y = 1 | x, theta)``, shape (n_problems, n_points)."""
        x = np.arange(self.n_points)
        t = self.thresholds()[:, None]
        eta = self.noise_profiles()[self.classes()]
        return np.where(x[None, :] >= t, 1.0 - eta, eta)


class _States:
    """All count states with ``n`` queries answered, for ``n = 0..B``, and their children."""

    def __init__(self, n_points: int, budget: int):
        parts = 2 * n_points
        base = budget + 1
        self.powers = base ** np.arange(parts, dtype=np.int64)
        self.levels: list[np.ndarray] = []
        self.keys: list[np.ndarray] = []
        for n in range(budget + 1):
            rows = []
            for bars in itertools.combinations(range(n + parts - 1), parts - 1):
                edges = (-1,) + bars + (n + parts - 1,)
                rows.append([edges[i + 1] - edges[i] - 1 for i in range(parts)])
            counts = np.array(rows, dtype=np.int64).reshape(-1, parts)
            keys = counts @ self.powers
            order = np.argsort(keys)
            self.levels.append(counts[order])
            self.keys.append(keys[order])

    def child(self, n: int, x: np.ndarray, y: int) -> np.ndarray:
        """Index at level n + 1 of each level-n state's child after answer y at query x."""
        keys = self.keys[n] + self.powers[2 * np.asarray(x) + y]
        return np.searchsorted(self.keys[n + 1], keys)


@lru_cache(maxsize=8)
def _states(n_points: int, budget: int) -> _States:
    return _States(n_points, budget)


def _log_likelihood(problem: ThresholdProblem, counts: np.ndarray) -> np.ndarray:
    """log P(answers | theta) of one ordered history with these counts, shape (S, J)."""
    p1 = problem.label_one_prob()
    with np.errstate(divide="ignore"):
        lp = np.empty((2 * problem.n_points, problem.n_problems))
        lp[0::2] = np.log(1.0 - p1).T
        lp[1::2] = np.log(p1).T
    out = np.zeros((counts.shape[0], problem.n_problems))
    for i in range(lp.shape[0]):
        # 0 * log 0 = 0 (noise-free points): an impossible answer makes the history -inf
        c = counts[:, i:i + 1].astype(np.float64)
        finite = np.isfinite(lp[i])[None, :]
        out += c * np.where(finite, lp[i][None, :], 0.0)
        out[np.broadcast_to((c > 0) & ~finite, out.shape)] = -np.inf
    return out


def _posterior(log_lik: np.ndarray) -> np.ndarray:
    """Rows of ``exp(log_lik)`` normalised; an impossible state (all -inf) gets uniform."""
    top = log_lik.max(axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    w = np.exp(log_lik - top)
    total = w.sum(axis=1, keepdims=True)
    return np.where(total > 0, w / np.where(total > 0, total, 1.0), 1.0 / w.shape[1])


@dataclass(frozen=True)
class DeterministicPolicy:
    """A count-state policy: ``actions[n][s]`` is the query at level-n state s (n < B),
    ``decisions[s]`` the threshold named at level-B state s."""

    problem: ThresholdProblem
    actions: tuple
    decisions: np.ndarray
    name: str = ""


def policy_errors(policy: DeterministicPolicy) -> np.ndarray:
    """Exact error ``P_theta(t_hat != t)`` of a deterministic policy on every problem.

    Forward recursion over count states: the probability of reaching each state under each
    problem (summed over the orderings the policy can produce), shape (n_problems,).
    """
    if not isinstance(policy, DeterministicPolicy):
        raise ValueError("policy: must be a DeterministicPolicy")
    pr = policy.problem
    st = _states(pr.n_points, pr.budget)
    p1 = pr.label_one_prob()                                   # (J, m)
    reach = np.ones((1, pr.n_problems))
    for n in range(pr.budget):
        x = np.asarray(policy.actions[n])
        nxt = np.zeros((st.levels[n + 1].shape[0], pr.n_problems))
        py1 = p1[:, x].T                                       # (S, J)
        np.add.at(nxt, st.child(n, x, 1), reach * py1)
        np.add.at(nxt, st.child(n, x, 0), reach * (1.0 - py1))
        reach = nxt
    wrong = policy.decisions[:, None] != pr.thresholds()[None, :]
    return (reach * wrong).sum(axis=0)


def bayes_policy(problem: ThresholdProblem, prior) -> DeterministicPolicy:
    """The Bayes-optimal adaptive policy for ``prior`` over problems (the best response).

    Dynamic programming over count states: with ``W(s) = prior * P(history | theta)``,
    ``V(s) = max_t sum_k W(s)_{(t, k)}`` at the budget and ``V(s) = max_x sum_y V(s + e_xy)``
    before it; the Bayes probability of naming the right threshold is ``V(empty)``. Ties go
    to the smallest query and threshold.
    """
    if not isinstance(problem, ThresholdProblem):
        raise ValueError("problem: must be a ThresholdProblem")
    w = check_probability_vector("prior", prior)
    if w.size != problem.n_problems:
        raise ValueError(f"prior: must have n_problems = {problem.n_problems} entries "
                         f"(got {w.size})")
    st = _states(problem.n_points, problem.budget)
    mass = np.exp(_log_likelihood(problem, st.levels[-1])) * w[None, :]
    by_t = mass.reshape(-1, len(problem.noises), problem.n_thresholds).sum(axis=1)
    decisions = np.argmax(by_t, axis=1)
    value = by_t.max(axis=1)
    actions = [None] * problem.budget
    for n in range(problem.budget - 1, -1, -1):
        size = st.levels[n].shape[0]
        q = np.empty((size, problem.n_points))
        for x in range(problem.n_points):
            xs = np.full(size, x)
            q[:, x] = value[st.child(n, xs, 0)] + value[st.child(n, xs, 1)]
        actions[n] = np.argmax(q, axis=1)
        value = q.max(axis=1)
    return DeterministicPolicy(problem, tuple(actions), decisions, "bayes")


def gbs_policy(problem: ThresholdProblem) -> DeterministicPolicy:
    """Generalised binary search under the uniform prior over problems.

    At each state it queries the point whose predicted label is most uncertain under the
    posterior (``|sum_theta w_theta (2 h_theta(x) - 1)|`` smallest) and at the budget names
    the threshold of largest posterior mass.
    """
    if not isinstance(problem, ThresholdProblem):
        raise ValueError("problem: must be a ThresholdProblem")
    st = _states(problem.n_points, problem.budget)
    x = np.arange(problem.n_points)
    sign = np.where(x[None, :] >= problem.thresholds()[:, None], 1.0, -1.0)   # (J, m)
    actions = []
    for n in range(problem.budget):
        w = _posterior(_log_likelihood(problem, st.levels[n]))
        split = np.abs(w @ sign)
        actions.append(np.argmin(np.round(split, 12), axis=1))
    mass = _posterior(_log_likelihood(problem, st.levels[-1]))
    by_t = mass.reshape(-1, len(problem.noises), problem.n_thresholds).sum(axis=1)
    return DeterministicPolicy(problem, tuple(actions), np.argmax(np.round(by_t, 12), axis=1),
                               "generalised binary search")


def _bisection_plan(problem: ThresholdProblem) -> list[int]:
    rounds = int(np.log2(problem.n_thresholds))
    if 2 ** rounds != problem.n_thresholds:
        raise ValueError("problem: binary search needs n_points + 1 a power of two "
                         f"(got n_points = {problem.n_points})")
    if problem.budget < rounds:
        raise ValueError(f"problem: binary search needs budget >= {rounds} (one query per "
                         f"round; got {problem.budget})")
    return [problem.budget // rounds + (i < problem.budget % rounds) for i in range(rounds)]


def _bisect(counts: np.ndarray, plan: list[int]) -> tuple[int, int, int | None]:
    """(lo, hi, next query or None) after replaying the rounds completed in ``counts``."""
    lo, hi = 0, len(counts) // 2
    for repeats in plan:
        x = (lo + hi - 1) // 2
        zeros, ones = counts[2 * x], counts[2 * x + 1]
        if zeros + ones < repeats:
            return lo, hi, x
        if ones > zeros or (ones == zeros and x % 2 == 0):   # ties: alternate by position
            hi = x
        else:
            lo = x + 1
    return lo, hi, None


def binary_search_policy(problem: ThresholdProblem) -> DeterministicPolicy:
    """Bisection over thresholds, each round's query repeated (budget split evenly, the
    remainder to the first rounds) and decided by majority vote."""
    if not isinstance(problem, ThresholdProblem):
        raise ValueError("problem: must be a ThresholdProblem")
    plan = _bisection_plan(problem)
    st = _states(problem.n_points, problem.budget)
    actions = []
    for n in range(problem.budget):
        act = np.zeros(st.levels[n].shape[0], dtype=np.int64)
        for s, counts in enumerate(st.levels[n]):
            _, _, x = _bisect(counts, plan)
            act[s] = 0 if x is None else x        # unreachable states: any query
        actions.append(act)
    dec = np.array([_bisect(c, plan)[0] for c in st.levels[-1]], dtype=np.int64)
    return DeterministicPolicy(problem, tuple(actions), dec, "binary search")


def mixture_errors(policies, mixture) -> np.ndarray:
    """Error on every problem of the randomised policy that runs ``policies[i]`` with
    probability ``mixture[i]``, shape (n_problems,)."""
    q = check_probability_vector("mixture", mixture)
    if len(policies) != q.size:
        raise ValueError(f"mixture: must have one weight per policy ({len(policies)}; got "
                         f"{q.size})")
    return q @ np.array([policy_errors(p) for p in policies])


@dataclass(frozen=True)
class MinimaxResult:
    """Exact minimax policy: ``value = max_theta (errors - offset)`` of the mixture, and a
    certificate ``lower`` (the adversary's prior's Bayes regret) with ``lower <= value``."""

    value: float
    lower: float
    policies: tuple
    mixture: np.ndarray
    adversary: np.ndarray
    errors: np.ndarray
    iterations: int


def minimax_policy(problem: ThresholdProblem, offset=None, *, tol: float = 1e-9,
                   max_iter: int = 200) -> MinimaxResult:
    """``min over randomised policies of max_theta (err(pi, theta) - offset_theta)``.

    Double oracle (adversarial training in its exact form): the LP over the policies found
    so far gives the learner's mixture and, as its dual, the adversary's prior over
    problems; the learner's best response to that prior (:func:`bayes_policy`) is added
    until the prior's Bayes regret is within ``tol`` of the mixture's value. Both numbers
    are returned: the gap is the certificate.
    """
    from scipy.optimize import linprog

    if not isinstance(problem, ThresholdProblem):
        raise ValueError("problem: must be a ThresholdProblem")
    J = problem.n_problems
    off = np.zeros(J) if offset is None else as_float_array("offset", offset, ndim=1)
    if off.size != J:
        raise ValueError(f"offset: must have n_problems = {J} entries (got {off.size})")
    check_real("tol", tol, low=0.0, low_open=True)
    check_int("max_iter", max_iter, low=1)
    seeds = [gbs_policy(problem), bayes_policy(problem, np.full(J, 1.0 / J))]
    policies, columns = [], []
    for p in seeds:
        policies.append(p)
        columns.append(policy_errors(p))
    for it in range(1, max_iter + 1):
        E = np.array(columns).T                                   # (J, P)
        P = E.shape[1]
        c = np.zeros(P + 1)
        c[-1] = 1.0
        A_ub = np.hstack([E, -np.ones((J, 1))])
        A_eq = np.hstack([np.ones((1, P)), np.zeros((1, 1))])
        res = linprog(c, A_ub=A_ub, b_ub=off, A_eq=A_eq, b_eq=[1.0],
                      bounds=[(0, None)] * P + [(None, None)], method="highs")
        if res.status != 0:
            raise RuntimeError(f"minimax LP failed: {res.message}")
        q = np.clip(res.x[:P], 0.0, None)
        q /= q.sum()
        w = np.clip(-res.ineqlin.marginals, 0.0, None)
        w = w / w.sum() if w.sum() > 0 else np.full(J, 1.0 / J)
        errors = q @ E.T
        value = float(np.max(errors - off))
        best = bayes_policy(problem, w)
        best_err = policy_errors(best)
        lower = float(w @ (best_err - off))
        if value - lower <= tol:
            return MinimaxResult(value, lower, tuple(policies), q, w, errors, it)
        policies.append(best)
        columns.append(best_err)
    raise RuntimeError(f"minimax_policy: no certificate within tol = {tol} after {max_iter} "
                       f"iterations (gap {value - lower:.3g})")


def brute_force_minimax(problem: ThresholdProblem) -> float:
    """Minimax error over ALL randomised history-based policies, by enumerating every
    deterministic decision tree (any query at every node of the history tree, any threshold
    at every leaf) and solving the LP over them. Feasible only for tiny problems
    (``n_points <= 2``, ``budget <= 2``); the independent check of :func:`minimax_policy`.
    """
    from scipy.optimize import linprog

    if not isinstance(problem, ThresholdProblem):
        raise ValueError("problem: must be a ThresholdProblem")
    if problem.n_points > 2 or problem.budget > 2:
        raise ValueError("problem: brute force needs n_points <= 2 and budget <= 2")
    m, T, B = problem.n_points, problem.n_thresholds, problem.budget
    p1 = problem.label_one_prob()

    def trees(depth):
        """(query/decision structure, error vector) of every tree with ``depth`` queries."""
        if depth == 0:
            for t in range(T):
                yield (problem.thresholds() != t).astype(np.float64)
            return
        subtrees = list(trees(depth - 1))
        for x in range(m):
            for e0 in subtrees:
                for e1 in subtrees:
                    yield (1.0 - p1[:, x]) * e0 + p1[:, x] * e1

    E = np.unique(np.round(np.array(list(trees(B))), 15), axis=0).T   # (J, P)
    J, P = E.shape
    c = np.zeros(P + 1)
    c[-1] = 1.0
    res = linprog(c, A_ub=np.hstack([E, -np.ones((J, 1))]), b_ub=np.zeros(J),
                  A_eq=np.hstack([np.ones((1, P)), np.zeros((1, 1))]), b_eq=[1.0],
                  bounds=[(0, None)] * P + [(None, None)], method="highs")
    return float(res.x[-1])


@dataclass(frozen=True)
class LearnedPolicy:
    """A randomised count-state policy: query probabilities per level, decision probabilities
    at the budget; ``history`` is the max excess after every training step."""

    problem: ThresholdProblem
    query_probs: tuple
    decision_probs: np.ndarray
    history: np.ndarray


def _children(st: _States, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    size = st.levels[n].shape[0]
    c0 = np.stack([st.child(n, np.full(size, x), 0) for x in range(m)], axis=1)
    c1 = np.stack([st.child(n, np.full(size, x), 1) for x in range(m)], axis=1)
    return c0, c1


def _transitions(st: _States, n: int, m: int) -> list:
    """Sparse 0/1 matrices ``(S_{n+1}, S_n)``: for query x and answer y, state -> child."""
    from scipy.sparse import csr_matrix

    c0, c1 = _children(st, n, m)
    size, nxt = c0.shape[0], st.levels[n + 1].shape[0]
    cols = np.arange(size)
    return [[csr_matrix((np.ones(size), (c[:, x], cols)), shape=(nxt, size))
             for c in (c0, c1)] for x in range(m)]


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def learned_policy_errors(policy: LearnedPolicy) -> np.ndarray:
    """Exact error of a randomised count-state policy on every problem, shape (J,)."""
    if not isinstance(policy, LearnedPolicy):
        raise ValueError("policy: must be a LearnedPolicy")
    pr = policy.problem
    st = _states(pr.n_points, pr.budget)
    p1 = pr.label_one_prob()
    reach = np.ones((1, pr.n_problems))
    for n in range(pr.budget):
        c0, c1 = _children(st, n, pr.n_points)
        nxt = np.zeros((st.levels[n + 1].shape[0], pr.n_problems))
        pi = policy.query_probs[n]
        for x in range(pr.n_points):
            flow = reach * pi[:, x:x + 1]
            np.add.at(nxt, c1[:, x], flow * p1[:, x])
            np.add.at(nxt, c0[:, x], flow * (1.0 - p1[:, x]))
        reach = nxt
    right = policy.decision_probs[:, pr.thresholds()]              # (S, J)
    return np.sum(reach * (1.0 - right), axis=0)


def adversarial_training(problem: ThresholdProblem, offset=None, *, steps: int = 1500,
                         lr: float = 0.1, temperature: float = 0.01) -> LearnedPolicy:
    """Train a randomised count-state policy against an adversary over problems.

    The paper's procedure in tabular form: the learner's logits (a query distribution at
    every count state, a decision distribution at the budget) take Adam steps on the
    adversary's weighted excess ``sum_j w_j (err_j - offset_j)``, and the adversary plays the
    softmax of the current excesses at ``temperature`` (an entropy-regularised best
    response), i.e. the learner descends the smoothed worst case
    ``temperature * log sum_j exp((err_j - offset_j) / temperature)``. Gradients are exact
    (forward reach probabilities times backward values). Deterministic: uniform start.
    """
    if not isinstance(problem, ThresholdProblem):
        raise ValueError("problem: must be a ThresholdProblem")
    J = problem.n_problems
    off = np.zeros(J) if offset is None else as_float_array("offset", offset, ndim=1)
    if off.size != J:
        raise ValueError(f"offset: must have n_problems = {J} entries (got {off.size})")
    steps = check_int("steps", steps, low=1)
    lr = check_real("lr", lr, low=0.0, low_open=True)
    tau = check_real("temperature", temperature, low=0.0, low_open=True)
    st = _states(problem.n_points, problem.budget)
    m, B, T = problem.n_points, problem.budget, problem.n_thresholds
    p1 = problem.label_one_prob()
    kids = [_children(st, n, m) for n in range(B)]
    moves = [_transitions(st, n, m) for n in range(B)]
    onehot = (problem.thresholds()[None, :] == np.arange(T)[:, None]).astype(np.float64)
    params = [np.zeros((st.levels[n].shape[0], m)) for n in range(B)]
    params.append(np.zeros((st.levels[B].shape[0], T)))
    mom = [np.zeros_like(p) for p in params]
    var = [np.zeros_like(p) for p in params]
    history = np.empty(steps)
    for it in range(steps):
        pis = [_softmax(p) for p in params]
        reach = [np.ones((1, J))]
        for n in range(B):
            nxt = np.zeros((st.levels[n + 1].shape[0], J))
            for x in range(m):
                flow = reach[n] * pis[n][:, x:x + 1]
                nxt += moves[n][x][1] @ (flow * p1[:, x]) + moves[n][x][0] @ (
                    flow * (1.0 - p1[:, x]))
            reach.append(nxt)
        wrong = 1.0 - pis[B] @ onehot                                 # (S_B, J)
        err = np.sum(reach[B] * wrong, axis=0)
        excess = err - off
        history[it] = excess.max()
        w = _softmax(excess / tau)                                    # the adversary
        grads = [None] * (B + 1)
        # decisions: d/d delta[s, t] of sum_j w_j err_j = -sum_j w_j reach_B[s, j] [t_j = t]
        g = -(reach[B] * w) @ onehot.T
        d = pis[B]
        grads[B] = d * (g - np.sum(d * g, axis=1, keepdims=True))
        value = wrong                                                 # V_B(s, j)
        for n in range(B - 1, -1, -1):
            c0, c1 = kids[n]
            q = np.stack([p1[:, x] * value[c1[:, x]] + (1 - p1[:, x]) * value[c0[:, x]]
                          for x in range(m)], axis=1)                 # (S_n, m, J)
            g = np.einsum("sj,sxj->sx", reach[n] * w, q)
            pi = pis[n]
            grads[n] = pi * (g - np.sum(pi * g, axis=1, keepdims=True))
            value = np.einsum("sx,sxj->sj", pi, q)
        for i, gr in enumerate(grads):                                # Adam
            mom[i] = 0.9 * mom[i] + 0.1 * gr
            var[i] = 0.999 * var[i] + 0.001 * gr * gr
            mh = mom[i] / (1 - 0.9 ** (it + 1))
            vh = var[i] / (1 - 0.999 ** (it + 1))
            params[i] -= lr * mh / (np.sqrt(vh) + 1e-12)
    pis = [_softmax(p) for p in params]
    return LearnedPolicy(problem, tuple(pis[:B]), pis[B], history)

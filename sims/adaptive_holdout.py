"""Fast simulator of the reusable-holdout experiment: torch for the matrices, Numba for Thresholdout.

An independent implementation of the experiment that
:func:`toytheory.adaptive.holdout_experiment.reusable_holdout_experiment`
runs from its definition (same population, same analyst, same Thresholdout),
written for many repetitions at ``n = d = 10,000``.

Two ways to draw the data, both exact in law:

``method="direct"``
    draw the training and holdout matrices (``n x d``, float64) on the device
    and compute the label correlations :math:`c = X^\\top y / n` (the
    definition; use it on a GPU).
``method="projection"`` (default)
    never form the ``n x d`` matrices. With :math:`x_{\\cdot j} = \\mu_j y + g_j`,
    :math:`g_j \\sim N(0, I_n)` and :math:`y^\\top y = n`,

    .. math:: c_j = \\mu_j + y^\\top g_j / n \\sim N(\\mu_j, 1/n)\\ \\text{independently}, \\qquad
              x_{\\cdot j} \\mid c_j \\;=\\; c_j\\, y + \\Big(I - \\frac{y y^\\top}{n}\\Big) z_j,
              \\quad z_j \\sim N(0, I_n),

    because :math:`y^\\top g_j` and :math:`(I - yy^\\top/n) g_j` are independent
    Gaussians **[derived]**. The analyst only looks at the correlations and at
    the ``<= 2 k_max`` columns it selects, so drawing ``d`` correlations and
    those columns reproduces the joint law of everything it sees, at
    :math:`O(n k_{max})` cost instead of :math:`O(n d)`.

Thresholdout runs in a Numba kernel, sequentially over queries and in
parallel over repetitions, from three pre-drawn standard-Laplace streams per
repetition (threshold, comparison, answer) scaled at use, exactly as
:class:`toytheory.adaptive.mechanisms.Thresholdout` consumes its streams:
fed the same streams, the two give identical answers (tested).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from toytheory._validation import check_int
from toytheory.adaptive.holdout_experiment import (HoldoutExperimentResult,
                                                    check_experiment_arguments)

__all__ = ["thresholdout_kernel", "ThresholdoutState", "simulate_reusable_holdout"]


@njit(parallel=True, cache=True)
def thresholdout_kernel(train_means, holdout_means, threshold, sigma, budget_left,
                        noisy_threshold, positions, gamma, eta, xi, answers, answered,
                        over_threshold):
    """One block of queries through Thresholdout, for every repetition.

    Parameters
    ----------
    train_means, holdout_means : (R, q) float64
    threshold, sigma : float
    budget_left : (R,) int64, updated in place
    noisy_threshold : (R,) float64, updated in place
    positions : (R, 3) int64, updated in place
        Next unused index in the ``gamma``, ``eta``, ``xi`` streams.
    gamma, eta, xi : (R, *) float64
        Standard Laplace streams: threshold redraws, comparisons, answers.
    answers : (R, q) float64, written (NaN where unanswered)
    answered : (R, q) bool, written
    over_threshold : (R,) int64, updated in place
    """
    R, q = train_means.shape
    for r in prange(R):
        for j in range(q):
            if budget_left[r] < 1:
                answers[r, j] = np.nan
                answered[r, j] = False
                continue
            t = train_means[r, j]
            h = holdout_means[r, j]
            e = (4.0 * sigma) * eta[r, positions[r, 1]]
            positions[r, 1] += 1
            if abs(h - t) > noisy_threshold[r] + e:
                noise = sigma * xi[r, positions[r, 2]]
                positions[r, 2] += 1
                budget_left[r] -= 1
                over_threshold[r] += 1
                noisy_threshold[r] = threshold + (2.0 * sigma) * gamma[r, positions[r, 0]]
                positions[r, 0] += 1
                answers[r, j] = h + noise
            else:
                answers[r, j] = t
            answered[r, j] = True


class ThresholdoutState:
    """Thresholdout for ``R`` repetitions at once, its state kept between blocks of queries.

    Parameters
    ----------
    gamma, eta, xi : (R, *) float64 arrays
        Standard Laplace streams (``gamma`` needs ``budget + 1`` columns,
        ``eta`` one per query, ``xi`` ``budget``).
    threshold, sigma : float
    budget : int
    """

    def __init__(self, gamma, eta, xi, threshold: float, sigma: float, budget: int):
        self.gamma = np.ascontiguousarray(gamma, dtype=np.float64)
        self.eta = np.ascontiguousarray(eta, dtype=np.float64)
        self.xi = np.ascontiguousarray(xi, dtype=np.float64)
        R = self.gamma.shape[0]
        if self.gamma.shape[1] < budget + 1 or self.xi.shape[1] < budget:
            raise ValueError("gamma, xi: need budget + 1 and budget columns")
        self.threshold, self.sigma = float(threshold), float(sigma)
        self.budget_left = np.full(R, int(budget), dtype=np.int64)
        self.over_threshold = np.zeros(R, dtype=np.int64)
        self.positions = np.zeros((R, 3), dtype=np.int64)
        self.noisy_threshold = self.threshold + (2.0 * self.sigma) * self.gamma[:, 0]
        self.positions[:, 0] = 1

    def answer(self, train_means, holdout_means):
        """Answer a block of queries ``(R, q)``; returns ``(answers, answered)``."""
        t = np.ascontiguousarray(train_means, dtype=np.float64)
        h = np.ascontiguousarray(holdout_means, dtype=np.float64)
        if t.shape != h.shape or t.shape[0] != self.budget_left.size:
            raise ValueError("train_means, holdout_means: must both have shape (R, q)")
        if self.positions[:, 1].max() + t.shape[1] > self.eta.shape[1]:
            raise ValueError("eta: the comparison stream is too short for these queries")
        answers = np.empty(t.shape)
        answered = np.empty(t.shape, dtype=np.bool_)
        thresholdout_kernel(t, h, self.threshold, self.sigma, self.budget_left,
                            self.noisy_threshold, self.positions, self.gamma, self.eta, self.xi,
                            answers, answered, self.over_threshold)
        return answers, answered


def _select_top(torch, ct, cx, n, kmax):
    """Features with both correlations beyond 1/sqrt(n), same sign; top kmax by |ct|."""
    t = 1.0 / math.sqrt(n)
    keep = ((ct > t) & (cx > t)) | ((ct < -t) & (cx < -t))
    score = torch.where(keep, ct.abs(), torch.full_like(ct, -1.0))
    vals, idx = torch.sort(score, dim=1, descending=True, stable=True)
    idx, vals = idx[:, :kmax], vals[:, :kmax]
    return torch.where(vals >= 0, idx, torch.full_like(idx, -1))


def _union_positions(torch, top_a, top_b, d):
    """For each entry of top_b, its position in top_a (or -1)."""
    R, kmax = top_a.shape
    pos = torch.full((R, d + 1), -1, dtype=torch.long, device=top_a.device)
    ar = torch.arange(kmax, device=top_a.device).expand(R, kmax)
    pos.scatter_(1, torch.where(top_a >= 0, top_a, d), ar)
    pos[:, d] = -1
    return torch.gather(pos, 1, torch.where(top_b >= 0, top_b, d))


def _columns_projection(torch, y, c_sel, gen, dtype):
    """x_S given the correlations c_S: c_S y + (I - y y^T / n) Z."""
    R, n = y.shape
    z = torch.randn((R, n, c_sel.shape[1]), generator=gen, device=y.device, dtype=dtype)
    coef = torch.einsum("rn,rnk->rk", y, z) / n
    return z - y[:, :, None] * coef[:, None, :] + y[:, :, None] * c_sel[:, None, :]


def _accuracies(torch, x, y, w, k_values):
    """Accuracy of sign(sum_{j<k} w_j x_j) for every k, shape (R, K), by one batched matmul."""
    R, n, kmax = x.shape
    ks = torch.as_tensor(np.asarray(k_values), device=x.device)
    mask = (torch.arange(kmax, device=x.device)[:, None] < ks[None, :]).to(x.dtype)
    scores = torch.bmm(x, w[:, :, None] * mask[None, :, :])  # (R, n, K)
    margin = y[:, :, None] * scores
    acc = (margin > 0).to(x.dtype).mean(dim=1) + 0.5 * (margin == 0).to(x.dtype).mean(dim=1)
    return torch.where(ks[None, :] == 0, torch.full_like(acc, 0.5), acc)


def _true_accuracy(torch, mu, top, w, k_values):
    from scipy.special import ndtr

    mu_sel = torch.where(top >= 0, mu[top.clamp(min=0)], torch.zeros_like(w))
    signal = torch.cumsum(mu_sel * w, dim=1).cpu().numpy()
    norm = torch.sqrt(torch.cumsum(w * w, dim=1)).cpu().numpy()
    out = np.full((top.shape[0], len(k_values)), 0.5)
    for i, k in enumerate(k_values):
        if k > 0:
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.where(norm[:, k - 1] > 0, signal[:, k - 1] / norm[:, k - 1], 0.0)
            out[:, i] = ndtr(ratio)
    return out


def _direct_split(torch, y, mu, gen, dtype, chunk_rows):
    """Draw X (R, n, d) row-chunk by row-chunk; return it and c = X^T y / n."""
    R, n = y.shape
    d = mu.shape[0]
    x = torch.empty((R, n, d), dtype=dtype, device=y.device)
    for lo in range(0, n, chunk_rows):
        hi = min(n, lo + chunk_rows)
        x[:, lo:hi] = (torch.randn((R, hi - lo, d), generator=gen, device=y.device, dtype=dtype)
                       + y[:, lo:hi, None] * mu)
    return x, torch.einsum("rnd,rn->rd", x, y) / n


def simulate_reusable_holdout(n: int, d: int, k_values=None, reps: int = 1, *,
                              informative: int = 0, strength: float = 6.0,
                              threshold: float | None = None, sigma: float | None = None,
                              budget: int | None = None, seed: int = 0, device: str = "cpu",
                              method: str = "projection", batch: int | None = None,
                              chunk_rows: int = 1024,
                              dtype=None) -> HoldoutExperimentResult:
    """The reusable-holdout experiment, ``reps`` repetitions, batched on ``device``.

    Parameters
    ----------
    n : int
        Points per split (>= 2).
    d : int
        Features (>= 1).
    k_values : sequence of int, optional
        Non-decreasing integers in ``[0, d]`` (default
        :func:`~toytheory.adaptive.holdout_experiment.scaled_k_values` of ``d``);
        floats are refused, never truncated.
    reps : int
        Repetitions (>= 1).
    informative : int
        Features carrying signal, in ``[0, d]``.
    strength : float
        Their shift is ``strength / sqrt(n)`` (finite).
    threshold, sigma : float, optional
        Thresholdout's ``T`` and noise rate (finite, > 0).
    budget : int, optional
        Thresholdout's budget (an integer >= 1; ``2.9`` is refused, not truncated).
    seed : int
        A non-negative integer.
    device : str or torch.device
    method : {"projection", "direct"}
        See the module notes.
    batch : int, optional
        Repetitions drawn at once (>= 1; default: what fits in about 400 MB).
    chunk_rows : int
        Rows drawn at once by ``method="direct"`` (>= 1).
    dtype : torch floating dtype, optional
        Default ``torch.float64``.

    Returns
    -------
    HoldoutExperimentResult
        As :func:`toytheory.adaptive.holdout_experiment.reusable_holdout_experiment`.

    Raises
    ------
    ValueError
        Naming the argument, for every argument above; all are checked
        before any work is done.
    """
    import torch

    if method not in ("projection", "direct"):
        raise ValueError(f"method: must be 'projection' or 'direct' (got {method!r})")
    n, d, ks, reps, informative, strength, threshold, sigma, budget = \
        check_experiment_arguments(n, d, k_values, reps, informative, strength, threshold,
                                   sigma, budget)
    seed = check_int("seed", seed, low=0)
    if batch is not None:
        batch = check_int("batch", batch, low=1)
    chunk_rows = check_int("chunk_rows", chunk_rows, low=1)
    K, kmax = ks.size, max(int(ks.max()), 1)
    if dtype is None:
        dtype = torch.float64
    elif not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"dtype: must be a torch floating dtype (got {dtype!r})")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"device: must name a torch device (got {device!r})") from exc
    if batch is None:
        per_rep = 8 * n * (2 * kmax) * 3 + (16 * n * d if method == "direct" else 0)
        batch = max(1, min(reps, int(4e8 // max(per_rep, 1))))
    mu = torch.zeros(d, dtype=dtype, device=dev)
    mu[:informative] = strength / math.sqrt(n)

    res = dict(standard=np.empty((reps, K, 3)), thresholdout=np.empty((reps, K, 3)),
               answered=np.ones((reps, K), dtype=bool), true_standard=np.empty((reps, K)),
               true_thresholdout=np.empty((reps, K)), budget_used=np.zeros(reps, dtype=np.int64),
               exhausted=np.zeros(reps, dtype=bool),
               top_standard=np.full((reps, kmax), -1, dtype=np.int64),
               top_thresholdout=np.full((reps, kmax), -1, dtype=np.int64))
    seeds = np.random.SeedSequence(seed).spawn((reps + batch - 1) // batch)
    for b, lo in enumerate(range(0, reps, batch)):
        R = min(batch, reps - lo)
        ss_torch, ss_noise = seeds[b].spawn(2)
        gen = torch.Generator(device=dev)
        gen.manual_seed(int(ss_torch.generate_state(1, dtype=np.uint64)[0] % (2**63)))
        noise = np.random.default_rng(ss_noise)
        gamma = noise.laplace(0.0, 1.0, size=(R, budget + 1))
        eta = noise.laplace(0.0, 1.0, size=(R, d + K))
        xi = noise.laplace(0.0, 1.0, size=(R, budget))

        def labels():
            return 2.0 * torch.randint(0, 2, (R, n), generator=gen, device=dev).to(dtype) - 1.0

        y_t, y_h, y_f = labels(), labels(), labels()
        if method == "direct":
            x_t, c_t = _direct_split(torch, y_t, mu, gen, dtype, chunk_rows)
            x_h, c_h = _direct_split(torch, y_h, mu, gen, dtype, chunk_rows)
        else:
            c_t = mu + torch.randn((R, d), generator=gen, device=dev, dtype=dtype) / math.sqrt(n)
            c_h = mu + torch.randn((R, d), generator=gen, device=dev, dtype=dtype) / math.sqrt(n)

        state = ThresholdoutState(gamma, eta, xi, threshold, sigma, budget)
        c_thr, ok = state.answer(c_t.cpu().numpy(), c_h.cpu().numpy())
        c_thr = torch.as_tensor(np.where(ok, c_thr, 0.0), dtype=dtype, device=dev)

        top_s = _select_top(torch, c_t, c_h, n, kmax)
        top_r = _select_top(torch, c_t, c_thr, n, kmax)
        # columns of the union of the two top sets: a feature in both gets one column
        shared = _union_positions(torch, top_s, top_r, d)
        both = torch.cat([top_s, top_r], dim=1)
        safe = both.clamp(min=0)
        if method == "direct":
            cols_t = torch.gather(x_t, 2, safe[:, None, :].expand(R, n, 2 * kmax))
            cols_h = torch.gather(x_h, 2, safe[:, None, :].expand(R, n, 2 * kmax))
            del x_t, x_h
        else:
            cols_t = _columns_projection(torch, y_t, torch.gather(c_t, 1, safe), gen, dtype)
            cols_h = _columns_projection(torch, y_h, torch.gather(c_h, 1, safe), gen, dtype)
        cols_f = (torch.randn((R, n, 2 * kmax), generator=gen, device=dev, dtype=dtype)
                  + y_f[:, :, None] * mu[safe][:, None, :])
        for cols in (cols_t, cols_h, cols_f):
            src = torch.gather(cols[:, :, :kmax], 2,
                               shared.clamp(min=0)[:, None, :].expand(R, n, kmax))
            cols[:, :, kmax:] = torch.where((shared >= 0)[:, None, :], src, cols[:, :, kmax:])

        w_s = torch.where(top_s >= 0, torch.sign(torch.gather(c_t, 1, top_s.clamp(min=0))),
                          torch.zeros_like(c_t[:, :kmax]))
        w_r = torch.where(top_r >= 0, torch.sign(torch.gather(c_t, 1, top_r.clamp(min=0))),
                          torch.zeros_like(c_t[:, :kmax]))
        acc = {}
        for arm, w, sl in (("s", w_s, slice(0, kmax)), ("r", w_r, slice(kmax, 2 * kmax))):
            acc[arm] = [_accuracies(torch, cols[:, :, sl], y, w, ks).cpu().numpy()
                        for cols, y in ((cols_t, y_t), (cols_h, y_h), (cols_f, y_f))]
        reported, answered = state.answer(acc["r"][0][:, ks > 0], acc["r"][1][:, ks > 0])
        thr_reported = np.full((R, K), 0.5)
        thr_answered = np.ones((R, K), dtype=bool)
        thr_reported[:, ks > 0] = reported
        thr_answered[:, ks > 0] = answered

        sl = slice(lo, lo + R)
        res["standard"][sl] = np.stack(acc["s"], axis=2)
        res["thresholdout"][sl] = np.stack([acc["r"][0], thr_reported, acc["r"][2]], axis=2)
        res["answered"][sl] = thr_answered
        res["true_standard"][sl] = _true_accuracy(torch, mu, top_s, w_s, ks)
        res["true_thresholdout"][sl] = _true_accuracy(torch, mu, top_r, w_r, ks)
        res["budget_used"][sl] = state.over_threshold
        res["exhausted"][sl] = state.budget_left < 1
        res["top_standard"][sl] = top_s.cpu().numpy()
        res["top_thresholdout"][sl] = top_r.cpu().numpy()
    params = dict(n=n, d=d, reps=reps, informative=informative, strength=strength,
                  threshold=threshold, sigma=sigma, budget=budget, method=method,
                  device=str(dev), seed=seed)
    return HoldoutExperimentResult(k_values=ks, params=params, **res)

"""The reusable-holdout experiment, straight from its definition (numpy, float64).

Dwork, Feldman, Hardt, Pitassi, Reingold and Roth, "The reusable holdout:
Preserving validity in adaptive data analysis" (Science 2015), Figures 1 and
2 (REFERENCE.md section 7, **[read]**; the paper's supplementary code was
read too):

- three splits (training, holdout, fresh) of ``n`` points each, ``d``
  features :math:`x \\sim N(0, I_d)` and a label :math:`y` uniform on
  :math:`\\{-1,+1\\}`, independent of ``x`` (Figure 1) or with ``informative``
  features shifted by :math:`y \\cdot 6/\\sqrt n` (Figure 2);
- the analyst computes the label correlations on the training set and asks
  the holdout for them; keeps the features whose two correlations both
  exceed :math:`1/\\sqrt n` in size with the same sign; for each ``k`` takes
  the ``k`` kept features with the largest training correlation and
  classifies with :math:`\\operatorname{sign}(\\sum_j \\operatorname{sign}(c_j) x_j)`;
  asks the holdout for that classifier's accuracy;
- *standard holdout*: the holdout answers exactly; *Thresholdout*: every
  holdout question (the ``d`` correlations, then the accuracies) goes
  through one :class:`~toytheory.adaptive.mechanisms.Thresholdout`.

The true accuracy of every classifier is exact:
:math:`\\Phi(w\\cdot\\mu/\\|w\\|)` (1/2 with no signal). The fresh-set accuracy
is reported as in the paper, as a third, independent estimate.

This module is the plain reference: it materialises the training and holdout
matrices (``2 n d`` float64 numbers; 1.6 GB at ``n = d = 10,000``) and
streams the fresh set in row chunks. ``sims/adaptive_holdout.py`` is the fast
simulator checked against it.

Parameters of Thresholdout
--------------------------
The paper invokes Thresholdout with :math:`T = 0.04` and "tolerance"
:math:`\\tau = 0.01` at ``n = 10,000``, i.e. :math:`T = 4/\\sqrt n`,
:math:`\\tau = 1/\\sqrt n`; its code adds Gaussian noise of standard deviation
:math:`\\tau` to the comparison and to the answer and has no budget. Our
Thresholdout is the Laplace algorithm with a budget (REFERENCE.md); we set
:math:`\\sigma = \\tau/4` so that the comparison noise :math:`\\mathrm{Lap}(4\\sigma)`
has scale :math:`\\tau`, and a budget :math:`B = \\lfloor d/10\\rfloor + K`
(``K`` accuracy queries), which the experiments never exhaust (the count is
reported).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._random import as_generator
from .._validation import check_int, check_real
from .analysts import select_features, top_k_sign_weights
from .mechanisms import Thresholdout, is_exhausted
from .populations import GaussianLabelPopulation
from .queries import SignClassifierAgreement, label_correlations

__all__ = ["PAPER_K_VALUES", "scaled_k_values", "default_thresholdout_parameters",
           "HoldoutExperimentResult", "reusable_holdout_experiment"]

#: The 13 values of k in the paper's code (n = d = 10,000).
PAPER_K_VALUES = (0, 10, 20, 30, 45, 70, 100, 150, 200, 250, 300, 400, 500)


def scaled_k_values(d: int) -> tuple[int, ...]:
    """The paper's k values scaled to ``d`` features (``k d / 10,000``, rounded)."""
    d = check_int("d", d, low=1)
    return tuple(int(round(k * d / 10_000)) for k in PAPER_K_VALUES)


def default_thresholdout_parameters(n: int, d: int, n_k: int) -> tuple[float, float, int]:
    """``(T, sigma, B) = (4/sqrt(n), 1/(4 sqrt(n)), d // 10 + n_k)`` (see the module notes)."""
    n = check_int("n", n, low=1)
    d = check_int("d", d, low=1)
    n_k = check_int("n_k", n_k, low=1)
    return 4.0 / math.sqrt(n), 0.25 / math.sqrt(n), d // 10 + n_k


@dataclass
class HoldoutExperimentResult:
    """Per repetition and per ``k``: what each arm reported and the truth.

    Attributes
    ----------
    k_values : (K,) int array
    standard, thresholdout : (R, K, 3) arrays
        ``[..., 0]`` training accuracy, ``[..., 1]`` the accuracy the holdout
        reported (exact holdout mean, or Thresholdout's answer),
        ``[..., 2]`` fresh-set accuracy. An unanswered Thresholdout query
        (budget exhausted) is NaN there and False in ``answered``.
    answered : (R, K) bool array
        Whether Thresholdout gave a number for that accuracy query.
    true_standard, true_thresholdout : (R, K) arrays
        The exact population accuracy of each arm's classifier.
    budget_used : (R,) int array
        Thresholdout's above-threshold answers.
    exhausted : (R,) bool array
        Whether Thresholdout's budget ran out in that repetition.
    top_standard, top_thresholdout : (R, k_max) int arrays
        The ranked features each arm used (``-1`` pads fewer than ``k_max``).
    params : dict
    """

    k_values: np.ndarray
    standard: np.ndarray
    thresholdout: np.ndarray
    answered: np.ndarray
    true_standard: np.ndarray
    true_thresholdout: np.ndarray
    budget_used: np.ndarray
    exhausted: np.ndarray
    top_standard: np.ndarray
    top_thresholdout: np.ndarray
    params: dict


def _check_k_values(k_values, d):
    ks = np.asarray(k_values)
    if ks.ndim != 1 or ks.size == 0 or not np.issubdtype(ks.dtype, np.integer):
        raise ValueError("k_values: must be a non-empty 1-D sequence of integers")
    if ks.min() < 0 or ks.max() > d or np.any(np.diff(ks) < 0):
        raise ValueError(f"k_values: must be non-decreasing integers in [0, d = {d}]")
    return ks.astype(np.int64)


def _fresh_accuracies(population, n, queries, rng, chunk_rows) -> np.ndarray:
    """Accuracy of every query on one fresh set of ``n`` points, streamed in row chunks."""
    totals = np.zeros(len(queries))
    done = 0
    while done < n:
        rows = min(chunk_rows, n - done)
        chunk = population.sample(rows, rng)
        for i, query in enumerate(queries):
            if query is not None:
                totals[i] += float(np.sum(query(chunk)))
        done += rows
    return totals / n


def _run_arm(train, n, k_values, ct, ch_for_selection, ask_accuracy, population):
    """Select, build the top-k classifiers, ask their accuracies; fresh set left for later."""
    kmax = int(k_values.max())
    selected = select_features(ct, ch_for_selection, n)
    top, _ = top_k_sign_weights(ct, selected, kmax)
    rows = np.full((k_values.size, 3), 0.5)
    truth = np.full(k_values.size, 0.5)
    answered = np.ones(k_values.size, dtype=bool)
    queries = []
    for i, k in enumerate(k_values):
        if k == 0:  # the constant classifier: the paper records 1/2 and asks nothing
            queries.append(None)
            continue
        idx, w = top_k_sign_weights(ct, selected, int(k))
        query = SignClassifierAgreement(idx, w)
        queries.append(query)
        reported = ask_accuracy(query)
        if is_exhausted(reported):
            answered[i] = False
            reported = math.nan
        rows[i, 0] = float(np.mean(query(train)))
        rows[i, 1] = reported
        truth[i] = population.classifier_accuracy(idx, w)
    padded = np.full(kmax, -1, dtype=np.int64)
    padded[:top.size] = top
    return rows, truth, answered, padded, queries


def check_experiment_arguments(n, d, k_values, reps, informative, strength, threshold, sigma,
                               budget):
    """The experiment's arguments, checked, with Thresholdout's defaults filled in (shared by
    :func:`reusable_holdout_experiment` and the simulator in ``sims/adaptive_holdout.py``).

    Returns
    -------
    tuple
        ``(n, d, ks, reps, informative, strength, threshold, sigma, budget)``, ``ks`` the
        k values as an int64 array.

    Raises
    ------
    ValueError
        Naming the argument.
    """
    n = check_int("n", n, low=2)
    d = check_int("d", d, low=1)
    ks = _check_k_values(scaled_k_values(d) if k_values is None else k_values, d)
    reps = check_int("reps", reps, low=1)
    informative = check_int("informative", informative, low=0, high=d)
    strength = check_real("strength", strength)
    t_def, s_def, b_def = default_thresholdout_parameters(n, d,
                                                          max(int(np.count_nonzero(ks)), 1))
    threshold = t_def if threshold is None else check_real("threshold", threshold, low=0.0,
                                                           low_open=True)
    sigma = s_def if sigma is None else check_real("sigma", sigma, low=0.0, low_open=True)
    budget = b_def if budget is None else check_int("budget", budget, low=1)
    return n, d, ks, reps, informative, strength, threshold, sigma, budget


def reusable_holdout_experiment(n: int, d: int, k_values=None, reps: int = 1, *,
                                informative: int = 0, strength: float = 6.0,
                                threshold: float | None = None, sigma: float | None = None,
                                budget: int | None = None, rng=None,
                                chunk_rows: int = 2048) -> HoldoutExperimentResult:
    """Run the reusable-holdout experiment ``reps`` times (plain numpy reference).

    Parameters
    ----------
    n : int
        Points per split (>= 2).
    d : int
        Features.
    k_values : sequence of int, optional
        Default :func:`scaled_k_values` of ``d``.
    reps : int
        Repetitions.
    informative : int
        Features shifted by :math:`y \\cdot` ``strength`` :math:`/\\sqrt n` (0: Figure 1, 20: Figure 2).
    threshold, sigma, budget : optional
        Thresholdout's parameters (default :func:`default_thresholdout_parameters`).
    rng : Generator, int or None
    chunk_rows : int
        Rows per chunk when streaming the fresh set.
    """
    n, d, ks, reps, informative, strength, threshold, sigma, budget = \
        check_experiment_arguments(n, d, k_values, reps, informative, strength, threshold,
                                   sigma, budget)
    chunk_rows = check_int("chunk_rows", chunk_rows, low=1)
    population = GaussianLabelPopulation.reusable_holdout(n, d, informative, strength)
    gen = as_generator(rng)
    K, kmax = ks.size, int(ks.max())
    out = dict(standard=np.empty((reps, K, 3)), thresholdout=np.empty((reps, K, 3)),
               answered=np.ones((reps, K), dtype=bool), true_standard=np.empty((reps, K)),
               true_thresholdout=np.empty((reps, K)), budget_used=np.zeros(reps, dtype=np.int64),
               exhausted=np.zeros(reps, dtype=bool),
               top_standard=np.full((reps, kmax), -1, dtype=np.int64),
               top_thresholdout=np.full((reps, kmax), -1, dtype=np.int64))
    for r, child in enumerate(gen.spawn(reps)):
        data_rng, mech_rng, fresh_rng = child.spawn(3)
        train = population.sample(n, data_rng)
        holdout = population.sample(n, data_rng)
        ct, ch = label_correlations(train), label_correlations(holdout)

        std_rows, std_truth, _, std_top, std_queries = _run_arm(
            train, n, ks, ct, ch, lambda q: float(np.mean(q(holdout))), population)

        mech = Thresholdout(train, holdout, threshold, sigma, budget, rng=mech_rng)
        ch_thr = np.empty(d)
        for j in range(d):
            a = mech.answer_means(ct[j], ch[j])
            ch_thr[j] = 0.0 if is_exhausted(a) else a  # unverified: never selected
        thr_rows, thr_truth, answered, thr_top, thr_queries = _run_arm(
            train, n, ks, ct, ch_thr, mech.answer, population)

        fresh = _fresh_accuracies(population, n, std_queries + thr_queries, fresh_rng,
                                  chunk_rows)
        std_rows[:, 2] = np.where(ks == 0, 0.5, fresh[:K])
        thr_rows[:, 2] = np.where(ks == 0, 0.5, fresh[K:])
        out["standard"][r], out["true_standard"][r], out["top_standard"][r] = (
            std_rows, std_truth, std_top)
        out["thresholdout"][r], out["true_thresholdout"][r] = thr_rows, thr_truth
        out["answered"][r], out["top_thresholdout"][r] = answered, thr_top
        out["budget_used"][r] = mech.over_threshold
        out["exhausted"][r] = mech.exhausted
    params = dict(n=n, d=d, reps=reps, informative=informative, strength=strength,
                  threshold=threshold, sigma=sigma, budget=budget)
    return HoldoutExperimentResult(k_values=ks, params=params, **out)

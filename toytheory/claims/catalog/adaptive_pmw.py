"""Private multiplicative weights answers m >> n adaptive queries; the empirical answers fail.

The headline of "Preserving Statistical Validity in Adaptive Data Analysis": a
mechanism that perturbs and coordinates its answers (private multiplicative
weights, Hardt and Rothblum 2010, the tool of the paper's Section 4) stays accurate
for a number of adaptively chosen queries far beyond ``n``, where the empirical
estimator does not. Toy: a known law on a finite universe of ``N`` points, ``n``
samples, and an analyst that reconstructs the sample's support with ``N`` point
queries and then asks for its mass (:class:`SupportReconstructionAttack`).
"""

from __future__ import annotations

import math

import numpy as np

from toytheory import stats
from toytheory.adaptive import analysts as analysts_module
from toytheory.adaptive import mechanisms as mechanisms_module
from toytheory.adaptive.populations import FinitePopulation
from toytheory.claims import claim
from toytheory.claims.catalog.decisive_counts import holding_count, refuting_count

PAPER = "Preserving Statistical Validity in Adaptive Data Analysis"
LEVEL = 1e-6
BETA = 0.25


def population_law(universe_size: int) -> np.ndarray:
    """The toy law: the first half of the universe three times as likely as the second."""
    p = np.where(np.arange(universe_size) < universe_size // 2, 3.0, 1.0)
    return p / p.sum()


def target_accuracy(n: int, m: int, beta: float = BETA) -> float:
    """:math:`\\sqrt{\\ln(2m/\\beta)/(2n)}`: the empirical estimator's accuracy for m fixed queries."""
    return math.sqrt(math.log(2 * m / beta) / (2 * n))


def play(mechanism_name, population, sample, n, warmup, rng, pmw):
    """One interaction of the reconstruction attack with one mechanism."""
    analyst = analysts_module.SupportReconstructionAttack(population.size, n, warmup)
    if mechanism_name == "empirical":
        mech = mechanisms_module.EmpiricalMechanism(sample)
    else:
        mech = mechanisms_module.PrivateMultiplicativeWeights(
            population.histogram(sample), pmw["threshold"], pmw["sigma"], pmw["max_updates"],
            rng=rng)
    transcript = analysts_module.run_interaction(analyst, mech, population)
    return transcript, mech, analyst


def empirical_worst_error(population, sample, n, warmup) -> float:
    """The empirical mechanism's worst error against the attack, in closed form.

    Block ``j`` (first ``N / 2^(j+1)`` points): error ``|h(B) - p(B)|``; point ``x``:
    ``|h_x - p_x|``; final query (the support): ``|1 - p(support)|``. Checked against
    :func:`run_interaction` on the first repetition.
    """
    p = population.probabilities
    N = p.size
    h = np.bincount(sample, minlength=N) / n
    errors = [abs(h[:N // 2 ** (j + 1)].sum() - p[:N // 2 ** (j + 1)].sum())
              for j in range(warmup)]
    errors.append(float(np.max(np.abs(h - p))))
    errors.append(abs(1.0 - float(p[h > 0].sum())))
    return float(max(errors))


@claim(
    "adaptive.pmw.many_adaptive_queries",
    paper=PAPER,
    kind="paper",
    source=("Abstract: We show that, surprisingly, there is a way to estimate an exponential in "
            "n number of expectations accurately even if the functions are chosen adaptively. "
            "This gives an exponential improvement over standard empirical estimators that are "
            "limited to a linear number of estimates. Our result follows from a general "
            "technique that counter-intuitively involves actively perturbing and coordinating "
            "the estimates, using techniques developed for privacy preservation."),
    reading=("An exponential in n cannot be reached on a toy; it is read at fixed n as: for "
             "m >> n adaptively chosen queries (m = N + warmup + 1 on a universe of N >> n "
             "points), private multiplicative weights (sparse vector + multiplicative weights, "
             "the paper's perturb-and-coordinate tool) keeps every answer within alpha = "
             "sqrt(ln(2m/beta)/(2n)) of the truth with probability at least 1 - beta, "
             "beta = 1/4, while the empirical estimator, on the same adaptive analyst, "
             "exceeds alpha with probability more than beta. alpha is the accuracy the "
             "empirical estimator would have for m queries fixed in advance (Hoeffding and a "
             "union bound), so it is a fair bar for both. Each probability is decided by an "
             "exact Clopper-Pearson interval at level 1e-6 over independent repetitions. "
             "The toy's noise is far too small for a meaningful privacy guarantee at this n "
             "(epsilon is recorded): it tests the accuracy statement, not the privacy "
             "accounting behind it."),
    statement=("On a finite universe of N = 512 points with n = 32 samples, against an analyst "
               "that adaptively reconstructs the sample (m = N + 3 queries, m = 16 n), private "
               "multiplicative weights answers every query within alpha = sqrt(ln(2m/beta)/2n) "
               "with probability at least 3/4, while the empirical answers exceed alpha with "
               "probability more than 1/4."),
    witnesses=("exact", "simulated"),
    quick={"universe_size": 512, "n": 32, "reps": 80, "warmup": 2},
    full={"universe_size": 2048, "n": 64, "reps": 400, "warmup": 4},
)
def many_adaptive_queries(ctx, universe_size, n, reps, warmup):
    ev = ctx.evidence()
    population = FinitePopulation(population_law(universe_size))
    m = warmup + universe_size + 1
    alpha = target_accuracy(n, m)
    pmw = {"threshold": alpha / 2, "sigma": 0.01, "max_updates": 40}
    worst = {"empirical": [], "private multiplicative weights": []}
    updates, exhausted = [], 0
    rngs = ctx.rng("repetitions").spawn(reps)
    for r, rng in enumerate(rngs):
        sample_rng, noise_rng = rng.spawn(2)
        sample = population.sample(n, sample_rng)
        for name in worst:
            if name == "empirical" and r > 0:
                worst[name].append(empirical_worst_error(population, sample, n, warmup))
                continue
            transcript, mech, analyst = play(name, population, sample, n, warmup, noise_rng, pmw)
            if r == 0:
                _witnesses(ev, name, transcript, mech, analyst, population, sample, n,
                           universe_size, warmup)
            if name == "private multiplicative weights":
                updates.append(mech.updates)
                exhausted += int(not transcript.answered.all())
            # an unanswered query counts as a failure of accuracy
            worst[name].append(transcript.worst_error if transcript.answered.all() else 1.0)
    emp = np.array(worst["empirical"])
    priv = np.array(worst["private multiplicative weights"])
    k_emp = int(np.count_nonzero(emp > alpha))
    lo, hi = stats.exact_binomial_interval(k_emp, reps, LEVEL)
    ev.interval(f"empirical estimator: probability that its worst error over m = {m} queries "
                f"exceeds alpha = {alpha:.4f}", k_emp / reps, (lo, hi), BETA, side=">=",
                level=LEVEL,
                detectable=f"{reps} repetitions: holds once "
                           f"{holding_count(reps, BETA, '>=', LEVEL)} or more exceed alpha",
                note=f"{k_emp}/{reps}; mean worst error {emp.mean():.4f}; Clopper-Pearson at "
                     f"level {LEVEL:g}")
    k_priv = int(np.count_nonzero(priv > alpha))
    lo, hi = stats.exact_binomial_interval(k_priv, reps, LEVEL)
    hold = holding_count(reps, BETA, "<=", LEVEL)
    ev.interval(f"private multiplicative weights: probability that its worst error over m = {m} "
                f"queries exceeds alpha = {alpha:.4f}", k_priv / reps, (lo, hi), BETA,
                side="<=", level=LEVEL, headline=True,
                detectable=(f"{reps} repetitions: holds when at most {hold} exceed alpha; a "
                            f"failure rate with {refuting_count(reps, BETA, '<=', LEVEL)} or "
                            f"more of {reps} is refuted"),
                note=f"{k_priv}/{reps}; mean worst error {priv.mean():.4f}, largest "
                     f"{priv.max():.4f}; Clopper-Pearson at level {LEVEL:g}")
    ev.record("queries per sample point, m / n", m / n)
    ev.record("private multiplicative weights: updates used (mean, max)",
              f"{np.mean(updates):.2f}, {max(updates)}", note=f"budget {pmw['max_updates']}; "
              f"{exhausted} repetitions ran out")
    ev.record("private multiplicative weights: pure-DP epsilon of its budget, 2B/(sigma n)",
              2 * pmw["max_updates"] / (pmw["sigma"] * n),
              note="far from a meaningful guarantee at n = 32: the toy checks accuracy, not "
                   "privacy")
    ev.note(f"Universe of N = {universe_size} points, law 3:1 between its halves; n = {n}; "
            f"the analyst asks {warmup} block queries (first half, first quarter, ...), the N "
            "point queries, then the indicator of {x : a_x > 1/(2n)}. PMW: threshold "
            f"T = alpha/2 = {pmw['threshold']:.4f}, sigma = {pmw['sigma']}, learning rate "
            f"T/2, budget {pmw['max_updates']} updates. Empirical answers of the final query "
            "are 1 (the sample's support) against a true mass of about n/N.")
    return ev


def _witnesses(ev, name, transcript, mech, analyst, population, sample, n, universe_size,
               warmup):
    """toytheory against itself, on the first repetition, before any statement."""
    p = population.probabilities
    truth = np.array(transcript.true_answers[warmup:warmup + universe_size])
    if name == "empirical":
        ev.close("true answers of the N point queries vs the law p (max abs difference)",
                 float(np.max(np.abs(truth - p))), 0.0, atol=1e-15,
                 note="FinitePopulation.true_answer against its definition sum_x p(x) q(x)")
        hist = np.bincount(sample, minlength=universe_size)
        answers = np.array(transcript.answers[warmup:warmup + universe_size], dtype=float)
        ev.close("empirical answers of the point queries vs counts / n (max abs difference)",
                 float(np.max(np.abs(answers - hist / n))), 0.0, atol=1e-15)
        ev.equal("empirical: the analyst's reconstructed set is the sample's support",
                 bool(np.array_equal(analyst.support_guess(), hist > 0)), True)
        ev.close("empirical worst error: closed form vs the played interaction",
                 empirical_worst_error(population, sample, n, warmup), transcript.worst_error,
                 atol=1e-12, note="the closed form is used for the other repetitions")
        final = transcript.queries[-1].table
        ev.close("true mass of the final query vs sum of p over the reconstructed set",
                 transcript.true_answers[-1], float(np.sum(p[final > 0])), atol=1e-12)
    else:
        syn = mech.synthetic
        ev.close("private multiplicative weights: synthetic law sums to 1", float(syn.sum()),
                 1.0, atol=1e-9)
        ev.at_most("private multiplicative weights: updates within the budget", mech.updates,
                   mech.max_updates)

"""Cautious next-token prediction against standard decoding, exactly on a Markov toy.

"Cautious Next Token Prediction" (Wang et al., 2025). The true language is an order-1
Markov chain :math:`P` over ``V`` tokens, token 0 the punctuation mark; the model is a
temperature-perturbed copy :math:`M_\\tau(\\cdot \\mid s) \\propto P(\\cdot \\mid s)^{1/\\tau}`
(:math:`\\tau < 1` over-confident, :math:`\\tau > 1` under-confident). A *segment* is
what is decoded from a state until the first punctuation mark, at most ``max_len``
tokens (a segment without punctuation is cut at ``max_len``).

Decoders (each gives an exact law over segments):

* **standard**: greedy (argmax of :math:`M_\\tau`), temperature sampling
  (:math:`M_\\tau^{1/T}` normalised) and nucleus sampling (the smallest top set of
  :math:`M_\\tau` with mass at least ``top_p``, renormalised); the segment law is the
  product of the step laws;
* **CNTP**, as the abstract describes it: at a step whose model entropy
  :math:`H(s)` is at most ``threshold`` one token is drawn from the model; otherwise
  :math:`N(H)` trials are drawn from the model, each from this step to the next
  punctuation, and the trial with the lowest model perplexity
  :math:`\\exp(-\\frac1{|y|}\\sum \\log M_\\tau(y_i \\mid y_{i-1}))` is kept (ties: the first
  such trial), which ends the segment. The trial number grows with the entropy:
  :math:`N(H) = \\min(N_{max}, \\max(2, \\lceil N_{max} (H - h)/(\\log V - h) \\rceil))`
  (the paper's exact schedule is not in the abstract; this one is monotone, as it says).

The law of the best of :math:`N` i.i.d. trials with segment law :math:`T`: for a
perplexity value :math:`v`, :math:`P(\\min = v) = T(\\mathrm{ppl} \\ge v)^N -
T(\\mathrm{ppl} > v)^N`, shared within the tie group in proportion to :math:`T`.

Metrics, against the true chain: the expected true probability of the decoded
segment, :math:`\\sum_y Q(y) P(y)`, and the probability of decoding exactly the true
chain's most probable segment.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from toytheory._validation import check_int, check_real, check_square

__all__ = ["CAUTIOUS_ENUMERATION_LIMIT", "temperature_model", "step_law_greedy",
           "step_law_temperature", "step_law_nucleus", "markov_segment_law",
           "cntp_trial_count", "cntp_trials", "model_entropy", "cntp_segment_law", "true_segment_metrics", "nll_key"]

PUNCT = 0
CAUTIOUS_ENUMERATION_LIMIT = 200_000
"""Most segments enumerated ((V - 1)^max_len); beyond it simulate with
``sims.decoding_cautious.cntp_segments``."""


def _check_chain(name, transition) -> np.ndarray:
    P = check_square(name, transition)
    if P.shape[0] < 2:
        raise ValueError(f"{name}: needs at least 2 tokens (punctuation is token 0)")
    if np.any(P < 0) or np.any(np.abs(P.sum(axis=1) - 1.0) > 1e-9):
        raise ValueError(f"{name}: rows must be probability vectors (non-negative, sum 1)")
    return P


def _check_len(V, max_len):
    max_len = check_int("max_len", max_len, low=1)
    if (V - 1) ** max_len > CAUTIOUS_ENUMERATION_LIMIT:
        raise ValueError(f"max_len: (V - 1)^max_len = {(V - 1) ** max_len} segments exceed "
                         f"the enumeration limit {CAUTIOUS_ENUMERATION_LIMIT}; simulate with "
                         "sims.decoding_cautious.cntp_segments instead")
    return max_len


def temperature_model(transition, tau: float) -> np.ndarray:
    """:math:`M_\\tau(\\cdot|s) \\propto P(\\cdot|s)^{1/\\tau}` row by row."""
    P = _check_chain("transition", transition)
    tau = check_real("tau", tau, low=0.0, low_open=True)
    with np.errstate(divide="ignore"):
        logits = np.log(P) / tau
    logits -= logits.max(axis=1, keepdims=True)
    M = np.exp(logits)
    return M / M.sum(axis=1, keepdims=True)


def step_law_greedy(model) -> np.ndarray:
    """One-hot rows at the argmax (lowest index among ties)."""
    M = _check_chain("model", model)
    out = np.zeros_like(M)
    out[np.arange(M.shape[0]), M.argmax(axis=1)] = 1.0
    return out


def step_law_temperature(model, temperature: float) -> np.ndarray:
    """Rows :math:`\\propto M^{1/T}`."""
    return temperature_model(model, check_real("temperature", temperature, low=0.0,
                                               low_open=True))


def step_law_nucleus(model, top_p: float) -> np.ndarray:
    """Rows restricted to the smallest top set with mass >= ``top_p`` (ties by index)."""
    M = _check_chain("model", model)
    top_p = check_real("top_p", top_p, low=0.0, high=1.0, low_open=True)
    out = np.zeros_like(M)
    for s, row in enumerate(M):
        order = np.argsort(-row, kind="stable")
        cum = np.cumsum(row[order])
        keep = order[: int(np.searchsorted(cum, top_p - 1e-12)) + 1]
        out[s, keep] = row[keep] / row[keep].sum()
    return out


@lru_cache(maxsize=64)
def _segments(V: int, budget: int) -> tuple[tuple[int, ...], ...]:
    """Every segment with at most ``budget`` tokens: words then punctuation, or ``budget``
    words."""
    out = []

    def grow(prefix):
        if len(prefix) == budget:
            out.append(tuple(prefix))
            return
        out.append(tuple(prefix) + (PUNCT,))
        for w in range(1, V):
            grow(prefix + [w])

    grow([])
    return tuple(out)


@lru_cache(maxsize=64)
def _segment_arrays(V: int, budget: int):
    """(tokens (S, budget) padded with 0 and a mask, lengths (S,)) of ``_segments``."""
    segs = _segments(V, budget)
    tokens = np.zeros((len(segs), budget), dtype=np.int64)
    mask = np.zeros((len(segs), budget), dtype=bool)
    for i, y in enumerate(segs):
        tokens[i, :len(y)] = y
        mask[i, :len(y)] = True
    return segs, tokens, mask


def _segment_logprobs(step, start, budget):
    V = step.shape[0]
    segs, tokens, mask = _segment_arrays(V, budget)
    prev = np.concatenate([np.full((tokens.shape[0], 1), start), tokens[:, :-1]], axis=1)
    with np.errstate(divide="ignore"):
        logq = np.log(step)[prev, tokens]
    return segs, np.where(mask, logq, 0.0).sum(axis=1), mask.sum(axis=1)


def markov_segment_law(step_law, start: int, max_len: int) -> dict:
    """Exact segment law of a per-step decoder from ``start``: {segment: probability}."""
    Q = _check_chain("step_law", step_law)
    max_len = _check_len(Q.shape[0], max_len)
    start = check_int("start", start, low=0, high=Q.shape[0] - 1)
    segs, lp, _ = _segment_logprobs(Q, start, max_len)
    keep = np.flatnonzero(lp > -np.inf)
    return {segs[i]: float(np.exp(lp[i])) for i in keep}


def model_entropy(model) -> np.ndarray:
    """Entropy (nats) of each row of a transition law."""
    M = _check_chain("model", model)
    logm = np.log(np.where(M > 0, M, 1.0))
    return -(M * logm).sum(axis=1)


def cntp_trials(model, threshold: float, n_max: int) -> np.ndarray:
    """:math:`N(H(s))` for every state of the model."""
    M = _check_chain("model", model)
    return np.array([cntp_trial_count(h, threshold, n_max, M.shape[0])
                     for h in model_entropy(M)])


def cntp_trial_count(entropy: float, threshold: float, n_max: int, V: int) -> int:
    """:math:`N(H)`: 0 (no trials) at or below the threshold, else in [2, n_max]."""
    if not np.isfinite(entropy) or entropy < 0:
        raise ValueError(f"entropy: must be a finite number >= 0 (got {entropy!r})")
    if entropy <= threshold:
        return 0
    frac = (entropy - threshold) / max(np.log(V) - threshold, 1e-300)
    return int(min(n_max, max(2, int(np.ceil(n_max * frac - 1e-12)))))


def nll_key(mean_nll: float) -> float:
    """The perplexity comparison key: mean negative log-likelihood rounded to 1e-9, so
    that mathematically equal perplexities compare equal (the simulator uses the same)."""
    return float(np.round(mean_nll, 9))


def cntp_segment_law(model, start: int, max_len: int, threshold: float,
                     n_max: int) -> dict:
    """Exact segment law of CNTP from ``start`` (see the module docstring).

    Parameters
    ----------
    model : array_like, shape (V, V)
        The model's transition law (token 0 is punctuation).
    start : int
    max_len : int, >= 1
    threshold : float, >= 0
        Entropy (nats) above which trials are drawn.
    n_max : int, >= 2
        Most trials at one step.
    """
    M = _check_chain("model", model)
    V = M.shape[0]
    max_len = _check_len(V, max_len)
    start = check_int("start", start, low=0, high=V - 1)
    threshold = check_real("threshold", threshold, low=0.0)
    n_max = check_int("n_max", n_max, low=2)
    H = model_entropy(M)
    memo = {}

    def best_of_trials(s, budget, N):
        all_segs, lp, length = _segment_logprobs(M, s, budget)
        ok = np.flatnonzero(lp > -np.inf)
        segs = [all_segs[i] for i in ok]
        probs = np.exp(lp[ok])
        keys = np.round(-lp[ok] / length[ok], 9)
        law = {}
        order = np.argsort(keys, kind="stable")
        sorted_keys, sorted_probs = keys[order], probs[order]
        values, first = np.unique(sorted_keys, return_index=True)
        mass_below = np.concatenate([[0.0], np.cumsum(sorted_probs)])[first]
        at_least = np.clip(1.0 - mass_below, 0.0, 1.0)
        group_mass = np.add.reduceat(sorted_probs, first)
        above = np.clip(at_least - group_mass, 0.0, 1.0)
        best = at_least ** N - above ** N
        group = np.searchsorted(values, keys)
        share = best[group] * probs / group_mass[group]
        for y, w in zip(segs, share):
            law[y] = float(w)
        return law

    def from_state(s, t):
        if (s, t) in memo:
            return memo[(s, t)]
        budget = max_len - t
        N = cntp_trial_count(H[s], threshold, n_max, V)
        if N > 0:
            law = best_of_trials(s, budget, N)
        else:
            law = {}
            for x in np.flatnonzero(M[s] > 0):
                x = int(x)
                if x == PUNCT or budget == 1:
                    law[(x,)] = law.get((x,), 0.0) + M[s, x]
                else:
                    for y, w in from_state(x, t + 1).items():
                        law[(x,) + y] = law.get((x,) + y, 0.0) + M[s, x] * w
        memo[(s, t)] = law
        return law

    return dict(from_state(start, 0))


def true_segment_metrics(law: dict, transition, start: int, max_len: int
                         ) -> tuple[float, float]:
    """(expected true probability of the decoded segment, probability of decoding a most
    probable segment of the true chain)."""
    P = _check_chain("transition", transition)
    truth = markov_segment_law(P, start, max_len)
    top = max(truth.values())
    best = {y for y, w in truth.items() if w >= top * (1 - 1e-12)}
    expected = sum(w * truth.get(y, 0.0) for y, w in law.items())
    match = sum(w for y, w in law.items() if y in best)
    return float(expected), float(match)

"""Efficient Neural Music Generation (MeLoDy): what its two reported forward-pass savings
imply about MusicLM's count, exactly. The paper itself is listed as having no honest toy
(no_honest_toy.py): its savings are counts on particular architectures and its quality
claims are judged on real audio."""

from __future__ import annotations

from fractions import Fraction

from toytheory.claims import claim

PAPER = "Efficient Neural Music Generation"
MUSICLM_RATES = (25, 200, 400)
"""Tokens per second of MusicLM's three LMs as its paper describes them (Agostinelli et al.
2023): w2v-BERT semantic tokens at 25 Hz; SoundStream at 50 Hz with 12 quantiser levels,
4 coarse (200/s) and 8 fine (400/s)."""


@claim(
    "sampling.forward_passes.melody_savings_need_superlinear_musiclm",
    paper=PAPER,
    kind="derived",
    statement=("If MeLoDy's forward passes do not decrease with duration, the abstract's "
               "savings (95.7% at 10 s, 99.6% at 30 s, rounded to 0.1%) need MusicLM's "
               "passes to grow at least 9.4-fold from 10 s to 30 s, while one pass per token "
               "grows 3-fold; and with one pass per token the 10-s saving leaves MeLoDy at "
               "most 271 passes, 250 of them its inherited 25 Hz semantic LM's."),
    witnesses=("exact",),
    quick={},
)
def melody_savings_need_superlinear_musiclm(ctx):
    from toytheory.sampling import forward_passes as fp

    ev = ctx.evidence()
    per_token = fp.autoregressive_passes(MUSICLM_RATES, 30) / fp.autoregressive_passes(
        MUSICLM_RATES, 10)
    ev.equal("MusicLM passes 30 s / 10 s, one pass per token", per_token, Fraction(3))
    growth = fp.implied_growth(Fraction("95.7"), Fraction("99.6"))
    ev.equal("smallest implied MusicLM growth 30 s / 10 s (exact)", growth,
             Fraction(425, 45))
    ev.at_least("implied growth", float(growth), 9.4, role="statement", headline=True)
    left = fp.remaining_passes(fp.autoregressive_passes(MUSICLM_RATES, 10), Fraction("95.7"))
    ev.record("most MeLoDy passes for 10 s under one pass per token (of 6250)", float(left))
    ev.at_most("most MeLoDy passes for 10 s under one pass per token", float(left), 272,
               role="statement")
    ev.note("So the 30-s figure cannot come from counting one pass per token of each LM; "
            "it needs MusicLM's long-form sampling to re-run its LMs (e.g. over overlapping "
            "windows), which the abstract does not describe. This checks the abstract's "
            "arithmetic, not the paper: see the no-honest-toy reason.")
    return ev

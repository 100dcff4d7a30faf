"""Seed papers for which no honest toy exists, with the reason (the per-paper table shows it).

A paper belongs here only when every claim its abstract makes concerns real-world data, a
particular architecture or human judgement that no exactly solvable toy can stand for. A
paper with a toy-shaped claim that simply has not been built yet is "not yet checked", not
listed here.
"""

from toytheory.claims.papers import register_no_toy

register_no_toy(
    "NViST: In the Wild New View Synthesis from a Single Image with Transformers",
    "Every claim in the abstract is about a trained transformer on real images: that NViST, "
    "trained on MVImgNet's casually captured videos without canonicalisation, synthesises "
    "novel views of unseen real objects and categories in one forward pass, judged "
    "qualitatively and by image metrics on MVImgNet and ShapeNet. There is no sampling or "
    "estimation statement whose truth a small exact problem could decide: a toy radiance "
    "field with a linear encoder would test a model the paper does not propose, and its "
    "verdict would say nothing about NViST.",
)

register_no_toy(
    "Efficient Neural Music Generation",
    "The abstract's claims are about two trained audio systems: that MeLoDy's music is of "
    "state-of-the-art musicality, audio quality and text correlation (judged by listeners "
    "and audio metrics on real music), and that it saves 95.7% / 99.6% of MusicLM's forward "
    "passes for 10 s / 30 s. The savings are counts on particular architectures (token "
    "rates, quantiser levels, windowing of long-form sampling, number of diffusion steps) "
    "that the abstract does not give; a counting toy would restate the paper's own "
    "bookkeeping, not test it. What the abstract's numbers imply by arithmetic alone "
    "(MusicLM's count must grow at least 9.4-fold from 10 s to 30 s) is recorded as the "
    "derived claim sampling.forward_passes.melody_savings_need_superlinear_musiclm.",
)

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

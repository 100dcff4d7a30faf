"""The seed paper of the gauge claims and the sentences of its abstract they read.

Horvat and Pfister, "On gauge freedom, conservativity and intrinsic
dimensionality estimation in diffusion models" (abstract quoted verbatim from
the seed list).
"""

from __future__ import annotations

PAPER = ("On gauge freedom, conservativity and intrinsic dimensionality estimation in "
         "diffusion models")

ABSTRACT_DECOMPOSITION = (
    "Abstract: \"Firstly, we propose a novel decomposition of vector fields into a conservative "
    "component and an orthogonal component which satisfies a given (gauge) freedom.\"")
ABSTRACT_EXACT = (
    "Abstract: \"Secondly, from this orthogonal decomposition, we show that exact density "
    "estimation and exact sampling is achieved when the conservative component is exactly "
    "equals to the true score and therefore conservativity is neither necessary nor "
    "sufficient to obtain exact density estimation and exact sampling.\"")
ABSTRACT_LOCAL = (
    "Abstract: \"Finally, we show that when it comes to inferring local information of the "
    "data manifold, constraining the vector field to be conservative is desirable.\"")

"""The outcome of a symbolic proof."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProofResult:
    """A symbolic identity checked by sympy.

    Attributes
    ----------
    name : str
        What was proved, in words.
    holds : bool
        Whether every residual simplified to exactly zero.
    residuals : tuple of str
        The simplified residuals (``"0"`` where the identity holds).
    details : dict
        Anything else worth reporting (the symbols, the cases covered).
    """

    name: str
    holds: bool
    residuals: tuple[str, ...]
    details: dict = field(default_factory=dict)

"""Symbolic witnesses: sympy derivations that the closed forms satisfy their defining
equations. Each module exposes ``prove_*`` functions returning a :class:`ProofResult`.
"""

from ._result import ProofResult

__all__ = ["ProofResult"]

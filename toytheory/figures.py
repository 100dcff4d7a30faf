"""The figure registry behind ``toytheory figures``.

A figure function takes a seed and returns a :class:`matplotlib.figure.Figure`
(built with ``Figure()``, not ``pyplot``, so that it needs no display)::

    from toytheory.figures import register_figure

    @register_figure("diffusion.score_field", caption="GMM score field at three noise levels")
    def score_field(seed: int = 0):
        fig = Figure(figsize=(9, 3))
        ...
        return fig

Claims attach the same figures to their evidence; ``toytheory figures``
renders them all to a folder (:func:`toytheory.claims.figures.render_figures`).

This module is a plain registry below the areas: it imports nothing from
toytheory (areas register their figures here without depending on the claims
ledger), and the ledger's side reads :data:`FIGURES`. Figure modules are
imported by the claim catalog, so :func:`toytheory.claims.load_catalog` makes
every figure known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

__all__ = ["FigureSpec", "FIGURES", "register_figure"]


@dataclass(frozen=True)
class FigureSpec:
    name: str
    caption: str
    make: Callable


FIGURES: dict[str, FigureSpec] = {}


def register_figure(name: str, *, caption: str):
    """Register ``make(seed) -> Figure`` under ``name`` (``area.what``)."""
    if not name or "." not in name:
        raise ValueError(f"name: must look like 'area.what' (got {name!r})")

    def decorate(fn):
        existing = FIGURES.get(name)
        if existing is not None and (existing.make.__module__, existing.make.__qualname__) != (
                fn.__module__, fn.__qualname__):
            raise ValueError(f"name: figure {name!r} is already registered")
        FIGURES[name] = FigureSpec(name, caption, fn)
        return fn

    return decorate

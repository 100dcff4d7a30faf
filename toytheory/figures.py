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
renders them all to a folder. Figure modules are imported by the claim
catalog, so :func:`toytheory.claims.load_catalog` makes every figure known.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable


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


def render_figures(out_dir, *, seed: int = 0, patterns: list[str] | None = None,
                   formats=("png",)) -> list[Path]:
    """Render every registered figure (matching ``patterns``) into ``out_dir``.

    A pattern is a glob on the figure's name when it has ``*``, ``?`` or ``[``, otherwise a
    substring, as for claims. A pattern that matches no figure is refused, with the closest
    names.
    """
    from .claims.registry import closest_names, id_matches, load_catalog
    from .claims.report import check_writable

    load_catalog()
    for p in patterns or []:
        if not any(id_matches(name, p) for name in FIGURES):
            near = closest_names(list(FIGURES), p)
            raise ValueError(f"-k {p}: no figure matches; closest names: {', '.join(near)}")
    out = check_writable(out_dir)
    written = []
    for spec in sorted(FIGURES.values(), key=lambda s: s.name):
        if patterns and not any(id_matches(spec.name, p) for p in patterns):
            continue
        fig = spec.make(seed)
        for fmt in formats:
            path = out / f"{spec.name}.{fmt}"
            fig.savefig(path, format=fmt, dpi=120, bbox_inches="tight")
            written.append(path)
    return written

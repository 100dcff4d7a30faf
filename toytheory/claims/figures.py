"""Rendering the registered figures (``toytheory figures``).

The figure registry itself, :mod:`toytheory.figures`, sits below the areas and
knows nothing of the ledger; this module is the ledger's side: it loads the
catalog (which imports every figure module), selects figures by name with the
claims' pattern rules and writes them to a folder.
"""

from __future__ import annotations

from pathlib import Path

from ..figures import FIGURES

__all__ = ["render_figures"]


def render_figures(out_dir, *, seed: int = 0, patterns: list[str] | None = None,
                   formats=("png",)) -> list[Path]:
    """Render every registered figure (matching ``patterns``) into ``out_dir``.

    A pattern is a glob on the figure's name when it has ``*``, ``?`` or ``[``, otherwise a
    substring, as for claims. A pattern that matches no figure is refused, with the closest
    names.
    """
    from .registry import closest_names, id_matches, load_catalog
    from .report import check_writable

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

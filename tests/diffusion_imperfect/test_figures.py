"""Every registered imperfect-denoiser figure renders and has content."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

import toytheory.diffusion.figures_imperfect  # noqa: F401
from toytheory.figures import FIGURES

NAMES = sorted(n for n in FIGURES if n.startswith("diffusion.imperfect."))


def test_the_issue_figures_are_registered():
    assert {"diffusion.imperfect.learned_vs_exact_score", "diffusion.imperfect.hallucination_filter",
            "diffusion.imperfect.score_rates", "diffusion.imperfect.quantisation",
            "diffusion.imperfect.skip_tuning", "diffusion.imperfect.region_caching"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_figure_renders(name, test_seed):
    if name in ("diffusion.imperfect.learned_vs_exact_score",
                "diffusion.imperfect.hallucination_filter"):
        pytest.importorskip("torch")
    fig = FIGURES[name].make(test_seed % 1000)
    axes = fig.get_axes()
    assert axes and all(ax.lines or ax.patches for ax in axes)

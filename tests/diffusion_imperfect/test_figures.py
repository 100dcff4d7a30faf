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
            "diffusion.imperfect.skip_tuning", "diffusion.imperfect.region_caching",
            "diffusion.imperfect.mode_interpolation_grid_2d",
            "diffusion.imperfect.ptq_mlp"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_figure_renders(name, test_seed):
    if name in ("diffusion.imperfect.learned_vs_exact_score",
                "diffusion.imperfect.hallucination_filter",
                "diffusion.imperfect.mode_interpolation_grid_2d", "diffusion.imperfect.ptq_mlp"):
        pytest.importorskip("torch")
    fig = FIGURES[name].make(test_seed % 1000)
    axes = fig.get_axes()
    assert axes and all(ax.lines or ax.patches for ax in axes)


def test_score_rates_figure_shows_the_mlp_next_to_both(test_seed):
    """Item 8's 'error against n': the right panel has the trained MLP, the plug-in and the
    empirical score, one point per n."""
    pytest.importorskip("torch")
    fig = FIGURES["diffusion.imperfect.score_rates"].make(test_seed % 1000)
    labels = [line.get_label() for line in fig.get_axes()[1].lines]
    assert labels == ["trained MLP", "plug-in (exact)", "empirical score (memorises)"]
    assert all(len(line.get_xdata()) == 4 for line in fig.get_axes()[1].lines)

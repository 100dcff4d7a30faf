"""The registered adaptive figures render (the cheap ones; the claims render the others)."""

from __future__ import annotations

import pytest

from toytheory.claims import load_catalog
from toytheory.figures import FIGURES

load_catalog()


def test_every_adaptive_figure_is_registered():
    names = {n for n in FIGURES if n.startswith("adaptive.")}
    assert names == {"adaptive.laplace_dp_audit", "adaptive.empirical_overfitting",
                     "adaptive.noise_bounds", "adaptive.reusable_holdout",
                     "adaptive.reusable_holdout_signal"}


@pytest.mark.parametrize("name", ["adaptive.laplace_dp_audit", "adaptive.reusable_holdout"])
def test_cheap_adaptive_figures_render_to_a_matplotlib_figure(name):
    pytest.importorskip("torch")
    from matplotlib.figure import Figure

    fig = FIGURES[name].make(0)
    assert isinstance(fig, Figure) and len(fig.axes) >= 2

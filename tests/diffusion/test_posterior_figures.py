"""The issue-17 figures render (item 9)."""

from __future__ import annotations

import pytest

from toytheory.claims import load_catalog

load_catalog()


def test_the_four_sampler_figure_renders(test_seed):
    from toytheory.figures import FIGURES

    fig = FIGURES["diffusion.posterior_samplers_vs_exact"].make(test_seed % 1000)
    assert len(fig.axes) == 4 and all(len(ax.collections) >= 2 for ax in fig.axes)


@pytest.mark.parametrize("name, n_axes", [
    ("diffusion.posterior_bridge_variances", 2),
    ("diffusion.posterior_volume_lambda", 1),
    ("diffusion.posterior_snl_calls", 1),
    ("diffusion.posterior_ads_budget", 1),
])
def test_figure_renders_with_lines(name, n_axes, test_seed):
    from toytheory.figures import FIGURES

    fig = FIGURES[name].make(test_seed % 1000)
    assert len(fig.axes) == n_axes
    assert all(len(ax.lines) >= 3 for ax in fig.axes)

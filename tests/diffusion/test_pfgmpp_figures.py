"""The PFGM++ figures of issue 18 item 5 render, with one line per curve."""

from __future__ import annotations

import pytest

from toytheory.claims import load_catalog

load_catalog()


@pytest.mark.parametrize("name, n_lines", [
    ("diffusion.pfgmpp_robustness_vs_d", 3),
    ("diffusion.pfgmpp_radial_laws", 5),
    ("diffusion.pfgmpp_ode_map_vs_d", 6),
])
def test_figure_renders_with_lines(name, n_lines, test_seed):
    from toytheory.figures import FIGURES

    fig = FIGURES[name].make(test_seed % 1000)
    assert len(fig.axes) == 1
    assert len(fig.axes[0].lines) == n_lines
    assert all(len(line.get_xdata()) >= 7 for line in fig.axes[0].lines)

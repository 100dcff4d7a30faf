"""The data figures are registered and render."""

from __future__ import annotations

from toytheory.claims import load_catalog
from toytheory.figures import FIGURES


def test_data_figures_are_registered_and_render(test_seed):
    load_catalog()
    for name in ("data.equitable.allocations", "data.mig.selection_rules"):
        assert name in FIGURES
    from toytheory.data.figures import allocation_figure, mig_figure

    fig = allocation_figure(test_seed, budgets=[300.0, 600.0])
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 4
    fig = mig_figure(test_seed, pools=2, k_values=(2, 4))
    assert len(fig.axes[0].lines) == 4

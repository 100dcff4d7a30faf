"""The figures of the SVDD, minority-guidance, PAG, score-distillation and FKC-CFG claims draw."""

from __future__ import annotations

import pytest

from toytheory.claims import load_catalog

load_catalog()


@pytest.mark.parametrize("name,lines", [
    ("diffusion.guided_svdd_candidates", 1),        # the exact target curve (+ histograms)
    ("diffusion.guided_minority_mass", 3),          # two curves and the data's 0.1 line
    ("diffusion.guided_pag_tradeoff", 1),
    ("diffusion.guided_sds_vs_cds", 14),            # 12 trajectories and the two mode lines
    ("diffusion.guided_fkc_cfg", 4),                # 1- and 2-sigma ellipses of two laws
])
def test_figure_draws(name, lines, test_seed):
    from toytheory.figures import FIGURES

    fig = FIGURES[name].make(seed=test_seed)
    assert len(fig.axes[0].lines) == lines

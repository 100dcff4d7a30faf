"""Grid geometry and its validation."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory.gauge.grid import Grid


def test_grid_spacing_edges_and_midpoints_are_consistent():
    g = Grid((-1.0, 0.0), (1.0, 3.0), (5, 7))
    assert g.spacing == (0.5, 0.5)
    assert g.edge_shape(0) == (4, 7) and g.edge_shape(1) == (5, 6)
    mids = g.edge_midpoints(1).reshape(5, 6, 2)
    nodes = g.nodes()
    np.testing.assert_allclose(mids, 0.5 * (nodes[:, 1:] + nodes[:, :-1]))
    assert g.refined(2).shape == (9, 13)
    assert g.size == 35 and g.cell_volume == 0.25


@pytest.mark.parametrize("kwargs, name", [
    (dict(lower=(0.0,), upper=(0.0,), shape=(5,)), "upper"),
    (dict(lower=(0.0, 0.0), upper=(1.0,), shape=(5, 5)), "upper"),
    (dict(lower=(0.0, 0.0), upper=(1.0, 1.0), shape=(5,)), "shape"),
    (dict(lower=(0.0, 0.0), upper=(1.0, 1.0), shape=(2, 5)), "shape"),
    (dict(lower=(0.0, np.nan), upper=(1.0, 1.0), shape=(5, 5)), "lower"),
])
def test_grid_refuses_bad_boxes_naming_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Grid(**kwargs)


def test_check_same_names_the_argument_when_grids_differ():
    g = Grid.cube(-1.0, 1.0, 2, 9)
    g.check_same("other", Grid.cube(-1.0, 1.0, 2, 9))
    with pytest.raises(ValueError, match="other"):
        g.check_same("other", Grid.cube(-1.0, 1.0, 2, 11))

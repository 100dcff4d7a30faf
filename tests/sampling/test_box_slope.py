"""The box range of a fixed-effects log-log slope (issue 14): equals brute force over corners."""

from __future__ import annotations

import itertools

import numpy as np

from toytheory.stats import box_slope_interval


def _slope(x, groups, y):
    lx, ly = np.log(x), np.log(y)
    _, labels = np.unique(groups, return_inverse=True)
    design = np.zeros((lx.size, labels.max() + 2))
    design[np.arange(lx.size), labels] = 1.0
    design[:, -1] = lx
    return float(np.linalg.lstsq(design, ly, rcond=None)[0][-1])


def test_box_range_equals_the_extreme_corners(rng):
    """The slope is linear in log y, so its extremes over the box sit at corners: checked by
    enumerating all 2^8 corners, and every random point of the box lies inside."""
    x = np.array([3.0, 5.0, 8.0, 16.0, 3.0, 5.0, 8.0, 16.0])
    groups = np.array(["a"] * 4 + ["b"] * 4)
    lo_y = rng.uniform(0.5, 2.0, x.size)
    hi_y = lo_y * rng.uniform(1.1, 3.0, x.size)
    lo, hi = box_slope_interval(x, list(zip(lo_y, hi_y)), groups=groups)
    corners = [_slope(x, groups, np.where(np.array(c), hi_y, lo_y))
               for c in itertools.product([False, True], repeat=x.size)]
    assert np.isclose(lo, min(corners), atol=1e-12) and np.isclose(hi, max(corners), atol=1e-12)
    for _ in range(200):
        s = _slope(x, groups, np.exp(rng.uniform(np.log(lo_y), np.log(hi_y))))
        assert lo - 1e-12 <= s <= hi + 1e-12


def test_box_of_points_is_the_ols_slope():
    x = np.array([2.0, 4.0, 8.0, 2.0, 4.0, 8.0])
    y = np.array([1.0, 2.0, 4.5, 3.0, 5.0, 12.0])
    groups = np.array([0, 0, 0, 1, 1, 1])
    lo, hi = box_slope_interval(x, list(zip(y, y)), groups=groups)
    assert np.isclose(lo, _slope(x, groups, y)) and np.isclose(hi, lo)


def test_box_slope_bad_input_names_the_argument():
    import pytest

    with pytest.raises(ValueError, match="boxes: must have shape"):
        box_slope_interval([1.0, 2.0, 3.0], [(1.0, 2.0)])
    with pytest.raises(ValueError, match="boxes: must satisfy"):
        box_slope_interval([1.0, 2.0], [(1.0, 2.0), (3.0, 2.0)])
    with pytest.raises(ValueError, match="x: must vary"):
        box_slope_interval([2.0, 2.0], [(1.0, 2.0), (1.0, 2.0)])

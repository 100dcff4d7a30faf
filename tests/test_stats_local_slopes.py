"""The log-linearity checks of a log-log exponent: local_box_slopes and local_sen_slopes."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory import stats


def test_an_exact_power_law_has_overlapping_local_slopes():
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    y = 3.0 * x ** 0.7
    out = stats.local_box_slopes(x, [(v * 0.99, v * 1.01) for v in y])
    assert out["agree"] and out["gap"] <= 0.0
    for half in (out["lower"], out["upper"]):
        assert half[0] <= 0.7 <= half[1]


def test_a_kinked_law_has_disjoint_local_slopes():
    """Slope 0.2 below x = 4 and 1.5 above, boxes +-1%: the half ranges are about 0.2 +- 0.01
    and 1.5 +- 0.01 wide apart (deterministic)."""
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    y = np.where(x <= 4, x ** 0.2, 4 ** 0.2 * (x / 4) ** 1.5)
    out = stats.local_box_slopes(x, [(v * 0.99, v * 1.01) for v in y])
    assert not out["agree"]
    assert out["gap"] == pytest.approx(1.3, abs=0.05)


def test_local_sen_slopes_separate_a_kink_and_accept_a_line(rng):
    """Logistic noise of scale 0.05 on 40 points per x-level: a line of slope 1 gives
    overlapping intervals (each covers 1 with probability >= 1 - 5e-7 by the exact Kendall
    law); a kink from slope 0 to 2 at the middle moves the halves' slopes 2 apart, far beyond
    the intervals' widths (about 0.1 at this noise): disjoint with probability > 1 - 1e-6
    under any seed."""
    lx = np.repeat(np.log([1.0, 2.0, 4.0, 8.0, 16.0]), 40)
    noise = rng.logistic(0.0, 0.05, lx.size)
    line = stats.local_sen_slopes(lx, lx + noise, 1e-6)
    assert line["checkable"] and line["agree"]
    mid = np.log(4.0)
    kink = stats.local_sen_slopes(lx, np.where(lx <= mid, 0.0, 2.0 * (lx - mid)) + noise, 1e-6)
    assert kink["checkable"] and not kink["agree"]


def test_local_sen_slopes_say_when_a_half_cannot_be_checked():
    lx = np.log([1.0, 2.0, 4.0])
    out = stats.local_sen_slopes(lx, lx, 1e-6)
    assert not out["checkable"] and out["agree"]


@pytest.mark.parametrize("x, err", [([1.0, 2.0], "x: needs at least 3"),
                                    ([1.0, -2.0, 3.0], "x: must be positive")])
def test_local_box_slopes_refuse_bad_x(x, err):
    with pytest.raises(ValueError, match=err):
        stats.local_box_slopes(x, [(1.0, 2.0)] * len(x))


def test_local_sen_slopes_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match="y: must have the shape of x"):
        stats.local_sen_slopes([1.0, 2.0, 3.0], [1.0, 2.0], 1e-6)

"""Hypothesis strategies for gauge-freedom property suites.

Examples
--------
>>> from hypothesis import given
>>> from toytheory.testing.gauge import gauge_fields
>>> @given(gauge_fields(max_dim=4))
... def test_gauge_condition(case):
...     field, law, t = case
...     ...
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .strategies import seeds

__all__ = ["skew_matrices", "scalar_functions", "gauge_fields"]


@st.composite
def skew_matrices(draw, d: int, scale: tuple[float, float] = (0.1, 3.0)):
    """A skew-symmetric (d, d) matrix with Gaussian entries times a drawn scale."""
    rng = np.random.default_rng(draw(seeds()))
    m = rng.standard_normal((d, d)) * draw(st.floats(*scale))
    return np.triu(m, 1) - np.triu(m, 1).T


@st.composite
def scalar_functions(draw, d: int):
    """A :class:`~toytheory.gauge.functions.Quadratic` or :class:`~toytheory.gauge.functions.PlaneWave` on R^d."""
    from ..gauge.functions import PlaneWave, Quadratic

    rng = np.random.default_rng(draw(seeds()))
    if draw(st.booleans()):
        q = rng.standard_normal((d, d)) * draw(st.floats(0.0, 1.0))
        return Quadratic(0.5 * (q + q.T), rng.standard_normal(d), float(rng.standard_normal()))
    return PlaneWave(draw(st.floats(0.1, 2.0)), rng.standard_normal(d) * draw(st.floats(0.1, 2.0)),
                     draw(st.floats(0.0, 6.28)))


@st.composite
def gauge_fields(draw, max_dim: int = 4, max_components: int = 3):
    """``(gauge field, law, t)``: a random skew-tensor (or, in 2-D, stream-function) gauge field
    of a random full-covariance Gaussian mixture under the VP linear schedule, and a time."""
    from ..diffusion.schedules import VPLinear
    from ..gauge.gauge_fields import SkewTensorGaugeField, StreamFunctionGaugeField2D
    from .diffusion import gaussian_mixtures

    d = draw(st.integers(2, max_dim))
    law = draw(gaussian_mixtures(kind="full", dim=d, max_components=max_components,
                                 mean_scale=(0.0, 3.0), variance_range=(0.05, 3.0),
                                 singular=False))
    sched = VPLinear()
    h = draw(scalar_functions(d)) if draw(st.booleans()) else None
    amplitude = draw(st.floats(0.1, 5.0))
    if d == 2 and draw(st.booleans()):
        field = StreamFunctionGaugeField2D(law, sched, h=h, amplitude=amplitude)
    else:
        field = SkewTensorGaugeField(law, sched, draw(skew_matrices(d)), h=h, amplitude=amplitude)
    t = draw(st.floats(0.0, 1.0))
    return field, law, t

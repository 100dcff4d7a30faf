"""The generated Numba kernels and the one-reduction finiteness check are exact."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("numba")

from toytheory.diffusion.laws import Gaussian  # noqa: E402
from toytheory.diffusion.schedules import VPLinear  # noqa: E402
from toytheory.diffusion.solvers import _fused  # noqa: E402
from toytheory.diffusion.solvers._base import _all_finite_torch  # noqa: E402
from toytheory.diffusion.solvers.models import AffineGaussianModel, _affine_rows_kernel  # noqa


@pytest.mark.parametrize("d", range(1, 9))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unrolled_affine_kernel_equals_the_matrix_product(d, dtype):
    rng = np.random.default_rng(d)
    x = rng.standard_normal((257, d)).astype(dtype)
    mt = rng.standard_normal((d, d)).astype(dtype)
    c = rng.standard_normal(d).astype(dtype)
    out = np.empty_like(x)
    _affine_rows_kernel(d)(x, mt, c, out)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(out, x @ mt + c, rtol=tol, atol=tol)


def test_affine_model_on_cpu_tensors_matches_the_numpy_path():
    law = Gaussian([0.5, -0.2, 0.1], np.diag([1.0, 0.3, 0.05]))
    model = AffineGaussianModel(law, VPLinear(), prediction="eps")
    x = np.random.default_rng(0).standard_normal((100, 3))
    got = model(torch.tensor(x), 0.4).numpy()
    np.testing.assert_allclose(got, model(x, 0.4), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_unrolled_linear_combination_equals_the_sum(k):
    rng = np.random.default_rng(k)
    ys = [torch.tensor(rng.standard_normal((50, 3))) for _ in range(k)]
    coef = rng.standard_normal(k)
    got = _fused._cpu(list(zip(coef, ys)))
    want = sum(c * y for c, y in zip(coef, ys))
    torch.testing.assert_close(got, want, rtol=1e-13, atol=1e-13)


def test_finiteness_check_sees_nan_inf_and_survives_an_overflowing_sum():
    x = torch.zeros(10, 2, dtype=torch.float32)
    assert _all_finite_torch(x)
    big = torch.full((10, 2), 3e38, dtype=torch.float32)   # finite, but the sum overflows
    assert _all_finite_torch(big)
    for bad in (float("nan"), float("inf"), -float("inf")):
        y = x.clone()
        y[3, 1] = bad
        assert not _all_finite_torch(y)

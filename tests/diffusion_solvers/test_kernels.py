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
from tests._seeds import reseed


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
    x = np.random.default_rng(reseed(0)).standard_normal((100, 3))
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


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("k", [2, 4, 5])
def test_in_place_combination_equals_the_separate_output_bit_for_bit(k, dtype, parallel):
    """Writing into one of the terms (the SolvePlan replay) changes no bit of the result."""
    rng = np.random.default_rng(reseed(10 + k))
    ys = [torch.tensor(rng.standard_normal(1000 + 17), dtype=dtype) for _ in range(k)]
    coef = rng.standard_normal(k)
    want = _fused._cpu(list(zip(coef, ys)))
    for j in range(k):
        terms = list(zip(coef, [y.clone() for y in ys]))
        target = terms[j][1]
        views = [y.numpy() for _, y in terms]
        kernel = _fused._numba_kernel(k, parallel, j)
        kernel(np.array(coef, dtype=views[0].dtype), views.pop(j), *views)
        assert torch.equal(target, want)


def test_cpu_pass_writes_into_the_named_term_and_only_there():
    rng = np.random.default_rng(reseed(9))
    ys = [torch.tensor(rng.standard_normal(300)) for _ in range(3)]
    copies = [y.clone() for y in ys]
    coef = [0.5, -2.0, 3.0]
    want = sum(c * y for c, y in zip(coef, copies))
    out = _fused._cpu(list(zip(coef, ys)), into=ys[1])
    assert out is ys[1]
    torch.testing.assert_close(out, want, rtol=1e-15, atol=1e-15)
    assert torch.equal(ys[0], copies[0]) and torch.equal(ys[2], copies[2])
    stranger = torch.zeros(300, dtype=torch.float64)     # not a term: a fresh output instead
    out = _fused._cpu(list(zip(coef, copies)), into=stranger)
    assert out is not stranger and torch.equal(stranger, torch.zeros(300, dtype=torch.float64))


def test_finiteness_check_sees_nan_inf_and_survives_an_overflowing_sum():
    x = torch.zeros(10, 2, dtype=torch.float32)
    assert _all_finite_torch(x)
    big = torch.full((10, 2), 3e38, dtype=torch.float32)   # finite, but the sum overflows
    assert _all_finite_torch(big)
    for bad in (float("nan"), float("inf"), -float("inf")):
        y = x.clone()
        y[3, 1] = bad
        assert not _all_finite_torch(y)


# --------------------------------------------------------------------------- parallel kernels

@pytest.fixture
def two_torch_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_parallel_kernels_equal_the_serial_ones_above_the_threshold(two_torch_threads):
    rng = np.random.default_rng(reseed(3))
    n = _fused._PARALLEL_MIN + 12_345                     # several chunks, a ragged last one
    ys = [torch.tensor(rng.standard_normal(n)) for _ in range(4)]
    coef = rng.standard_normal(4)
    assert _fused.cpu_threads(n) == min(2, __import__("numba").config.NUMBA_NUM_THREADS)
    got = _fused._cpu(list(zip(coef, ys)))
    want = sum(c * y for c, y in zip(coef, ys))
    torch.testing.assert_close(got, want, rtol=1e-13, atol=1e-13)
    x = rng.standard_normal((n // 2 + 7, 2))
    mt, c = rng.standard_normal((2, 2)), rng.standard_normal(2)
    out = np.empty_like(x)
    _affine_rows_kernel(2, parallel=True)(x, mt, c, out)
    np.testing.assert_allclose(out, x @ mt + c, rtol=1e-13, atol=1e-13)


def test_one_torch_thread_keeps_the_kernels_serial():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert _fused.cpu_threads(10 * _fused._PARALLEL_MIN) == 1
    finally:
        torch.set_num_threads(before)
    assert _fused.cpu_threads(_fused._PARALLEL_MIN - 1) == 1


# --------------------------------------------------------------------------- buffer pools

def _retaining_solve(gaussian_model, x, grid, keep):
    """A fused 2M solve whose callback keeps, per step, what ``keep(info)`` returns, and
    the values those states had when the callback saw them."""
    from toytheory.diffusion.solvers import fused_elementwise, sample_dpmpp_2m

    kept, snapshots = [], []

    def callback(info):
        kept.append(keep(info))
        snapshots.append(info["x_next"].clone())

    with fused_elementwise():
        out = sample_dpmpp_2m(gaussian_model, x, grid, callback=callback)
    return out, kept, snapshots


KEEPERS = {
    "the tensor": lambda info: info["x_next"],
    "a view": lambda info: info["x_next"][1:],
    "a numpy array": lambda info: info["x_next"].numpy(),
}


@pytest.mark.parametrize("keeper", list(KEEPERS))
def test_a_state_kept_by_a_callback_is_never_overwritten(keeper):
    from toytheory.diffusion.solvers import uniform_log_snr_grid

    law = Gaussian([0.5, -0.2], np.diag([1.0, 0.3]))
    vp = VPLinear()
    grid = uniform_log_snr_grid(vp, 10)
    x = torch.tensor(np.random.default_rng(reseed(0)).standard_normal((64, 2)))
    out, kept, snapshots = _retaining_solve(AffineGaussianModel(law, vp, "eps"), x, grid,
                                            KEEPERS[keeper])
    for k, snap in zip(kept, snapshots):
        now = torch.as_tensor(k)
        torch.testing.assert_close(now, snap[1:] if keeper == "a view" else snap,
                                   rtol=0, atol=0)
    torch.testing.assert_close(out, snapshots[-1], rtol=0, atol=0)


def test_the_retention_check_catches_a_pool_that_ignores_references(monkeypatch):
    """Planted: a pool that hands out any buffer of the right shape (no reference check).

    Power: deterministic given the start points: a reused buffer is overwritten by a later
    step's values, equal to the kept ones only on a probability-0 set of starts."""
    from toytheory.diffusion.solvers import uniform_log_snr_grid

    real = _fused.BufferPool._counts

    def blind(self, buf):   # the true counts while calibrating, then always "free"
        return getattr(self, "_baseline", None) or real(buf)

    monkeypatch.setattr(_fused.BufferPool, "_counts", blind)
    law = Gaussian([0.5, -0.2], np.diag([1.0, 0.3]))
    vp = VPLinear()
    grid = uniform_log_snr_grid(vp, 10)
    x = torch.tensor(np.random.default_rng(reseed(0)).standard_normal((64, 2)))
    _, kept, snapshots = _retaining_solve(AffineGaussianModel(law, vp, "eps"), x, grid,
                                          KEEPERS["the tensor"])
    assert any(not torch.equal(k, s) for k, s in zip(kept, snapshots))


def test_pools_reuse_buffers_once_released_and_a_model_output_kept_is_not_reused():
    pool = _fused.BufferPool(size=2)
    like = torch.zeros(100, 3)
    a = pool.take(like)
    b = pool.take(like)
    assert a.data_ptr() != b.data_ptr()
    view = a[::2]
    del a
    assert pool.take(like).data_ptr() != view.data_ptr()   # a view keeps it out
    ptr_b = b.data_ptr()
    del b
    assert pool.take(like).data_ptr() == ptr_b             # released: reused
    assert pool.reused == 1
    law = Gaussian([0.5, -0.2], np.diag([1.0, 0.3]))
    model = AffineGaussianModel(law, VPLinear(), "eps")
    x = torch.ones(10, 2)
    first = model(x, 0.3)
    value = first.clone()
    model(x, 0.7)
    model(x, 0.5)
    torch.testing.assert_close(first, value, rtol=0, atol=0)


def test_a_model_pool_does_not_keep_buffers_above_its_byte_cap():
    pool = _fused.BufferPool(size=4, max_bytes=1000)
    pool.take(torch.zeros(1000))          # 4000 bytes: handed out, not kept
    assert pool._bufs == []


def test_a_model_shared_by_threads_never_hands_one_buffer_to_two_callers():
    import threading

    law = Gaussian([0.5, -0.2], np.diag([1.0, 0.3]))
    model = AffineGaussianModel(law, VPLinear(), "eps")
    inputs = [torch.full((500, 2), float(k)) for k in range(4)]
    wrong = []

    def worker(k):
        x = inputs[k]
        want = model(x, 0.4).clone()
        for _ in range(300):
            out = model(x, 0.4)          # held while other threads take buffers
            if not torch.equal(out, want):
                wrong.append(k)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_a_failed_compilation_falls_back_to_unfused_passes_with_a_warning(monkeypatch):
    """A device without a working torch.compile (no C compiler for Triton) still solves."""
    def broken_compile(fn, **kwargs):
        def compiled(*args):
            raise RuntimeError("no C compiler found")
        return compiled

    monkeypatch.setattr(torch, "compile", broken_compile)
    monkeypatch.setattr(_fused, "_COMPILED", {})
    monkeypatch.setattr(_fused, "_COMPILE_FAILED", set())
    monkeypatch.setattr(_fused, "_COMPILE_WORKED", set())
    rng = np.random.default_rng(reseed(8))
    terms = [(c, torch.tensor(rng.standard_normal(40))) for c in (0.5, -1.5, 2.0)]
    want = sum(c * y for c, y in terms)
    with pytest.warns(RuntimeWarning, match="torch.compile failed for 3 terms"):
        got = _fused._cuda(terms)
    torch.testing.assert_close(got, want, rtol=1e-15, atol=1e-15)
    torch.testing.assert_close(_fused._cuda(terms), want, rtol=1e-15, atol=1e-15)  # no retry


def test_a_failure_after_a_successful_compilation_is_raised(monkeypatch):
    calls = []

    def flaky_compile(fn, **kwargs):
        def compiled(*args):
            calls.append(1)
            if len(calls) > 1:
                raise RuntimeError("device lost")
            return fn(*args)
        return compiled

    monkeypatch.setattr(torch, "compile", flaky_compile)
    monkeypatch.setattr(_fused, "_COMPILED", {})
    monkeypatch.setattr(_fused, "_COMPILE_FAILED", set())
    monkeypatch.setattr(_fused, "_COMPILE_WORKED", set())
    terms = [(1.0, torch.ones(4, dtype=torch.float64)), (2.0, torch.ones(4, dtype=torch.float64))]
    torch.testing.assert_close(_fused._cuda(terms), torch.full((4,), 3.0, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="device lost"):
        _fused._cuda(terms)


@pytest.mark.skipif(__import__("shutil").which("cc") is None and
                    __import__("shutil").which("gcc") is None,
                    reason="torch.compile needs a C compiler; none is installed here")
def test_the_compiled_pass_is_the_linear_combination_for_any_shape_and_dtype(monkeypatch):
    """The CUDA pass (torch.compile), run here on CPU tensors: one compiled function per
    number of terms serves every shape and both dtypes."""
    import warnings

    monkeypatch.setattr(_fused, "_COMPILED", {})
    monkeypatch.setattr(_fused, "_COMPILE_FAILED", set())
    monkeypatch.setattr(_fused, "_COMPILE_WORKED", set())
    rng = np.random.default_rng(reseed(12))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)     # a fallback would be a failure
        for dtype, tol in ((torch.float64, 1e-13), (torch.float32, 1e-5)):
            for shape in ((37, 2), (1000, 3), (5,)):
                ys = [torch.tensor(rng.standard_normal(shape), dtype=dtype) for _ in range(3)]
                coef = rng.standard_normal(3)
                got = _fused._cuda(list(zip(coef, ys)))
                want = sum(float(c) * y for c, y in zip(coef, ys))
                assert got.dtype == dtype and got.shape == want.shape
                torch.testing.assert_close(got, want, rtol=tol, atol=tol)
    assert list(_fused._COMPILED) == [3]

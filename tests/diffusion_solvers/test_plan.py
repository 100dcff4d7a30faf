"""SolvePlan: a recorded solve replays the fused solve bit for bit, and never overwrites
a tensor that someone else still holds."""

from __future__ import annotations

import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("numba")

from toytheory.diffusion import ExactModel  # noqa: E402
from toytheory.diffusion import solvers as S  # noqa: E402
from toytheory.diffusion.solvers import plan as plan_module  # noqa: E402
from toytheory.diffusion.solvers.plan import PLANNABLE, SolvePlan  # noqa: E402

from .test_backends import CASES as BACKEND_CASES  # noqa: E402
from tests._seeds import reseed

# every solver case of the backend tests, and two option sets they do not cover
CASES = BACKEND_CASES + [
    ("dpm_solver_singlestep_2", S.sample_dpm_solver_singlestep, {"orders": [2] * 5 + [1, 1]}),
    ("dpmpp_2m_no_lower_final", S.sample_dpmpp_2m, {"lower_order_final": False}),
]


def test_every_plannable_solver_has_a_case():
    assert {fn.__name__ for _, fn, _ in CASES} == set(PLANNABLE)


def _grids(vp):
    return {"log_snr": S.uniform_log_snr_grid(vp, 12),
            "to_zero": S.TimeGrid.from_sigmas(vp, np.r_[np.geomspace(80.0, 0.02, 12), 0.0])}


@pytest.mark.parametrize("grid_name", ["log_snr", "to_zero"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name, fn, kw", CASES, ids=[c[0] for c in CASES])
def test_replay_equals_the_fused_solve_bit_for_bit(name, fn, kw, dtype, grid_name, gmm_law, vp):
    grid = _grids(vp)[grid_name]
    model = ExactModel(gmm_law, vp, prediction="eps", backend="torch")
    x = torch.tensor(np.random.default_rng(reseed(0)).standard_normal((37, 2)), dtype=dtype)
    with S.fused_elementwise():
        want = fn(model, x, grid, **kw)
    plan = SolvePlan(fn, grid, prediction="eps", **kw)
    for _ in range(2):                      # the second replay reuses the first one's buffers
        got = plan(model, x)
        assert got.dtype == dtype and torch.equal(got, want)
    assert plan.nfe >= grid.n_steps


DEVICE_CASES = [c for c in CASES if c[0] in ("dpmpp_2m", "unipc_3_bh1")]


@pytest.mark.parametrize("name, fn, kw", DEVICE_CASES, ids=[c[0] for c in DEVICE_CASES])
def test_replay_equals_the_fused_solve_on_every_device(name, fn, kw, gmm_law, vp, torch_device):
    grid = S.uniform_log_snr_grid(vp, 12)
    model = ExactModel(gmm_law, vp, prediction="eps", backend="torch", device=torch_device)
    x = torch.tensor(np.random.default_rng(reseed(5)).standard_normal((501, 2)), device=torch_device)
    with S.fused_elementwise():
        want = fn(model, x, grid, **kw)
    got = SolvePlan(fn, grid, prediction="eps", **kw)(model, x)
    assert got.device.type == torch_device and torch.equal(got, want)


def test_denoise_to_zero_and_other_predictions_replay_too(gaussian_law, vp):
    grid = S.uniform_log_snr_grid(vp, 7)
    x = torch.tensor(np.random.default_rng(reseed(1)).standard_normal((11, 3)))
    for prediction in ("x0", "v", "score"):
        model = S.AffineGaussianModel(gaussian_law, vp, prediction)
        with S.fused_elementwise():
            want = S.sample_dpmpp_3m(model, x, grid, denoise_to_zero=True)
        got = SolvePlan(S.sample_dpmpp_3m, grid, prediction=prediction, denoise_to_zero=True)(
            model, x)
        assert torch.equal(got, want)


def test_the_equality_check_catches_a_planted_coefficient_error(gmm_law, vp):
    """The bit-for-bit test above can fail: one coefficient moved by one part in 1e12.

    Power: deterministic given the points: 1e-12 relative is ~4500 ulps of the term it
    scales, so all 74 outputs keep their bits only if that term vanished in each (a
    probability-0 set of starts)."""
    grid = S.uniform_log_snr_grid(vp, 9)
    model = ExactModel(gmm_law, vp, prediction="eps", backend="torch")
    x = torch.tensor(np.random.default_rng(reseed(0)).standard_normal((37, 2)))
    plan = SolvePlan(S.sample_dpmpp_2m, grid, prediction="eps")
    with S.fused_elementwise():
        want = S.sample_dpmpp_2m(model, x, grid)
    k = next(k for k, (op, _, _) in enumerate(plan._program) if op[0] == plan_module._COMB)
    op, dead, into = plan._program[k]
    plan._program[k] = ((op[0], (op[1][0] * (1 + 1e-12),) + op[1][1:], op[2], op[3]), dead, into)
    assert not torch.equal(plan(model, x), want)


def test_the_replay_overwrites_dead_states_in_place(gaussian_law, vp, monkeypatch):
    grid = S.uniform_log_snr_grid(vp, 10)
    model = S.AffineGaussianModel(gaussian_law, vp, "eps")
    plan = SolvePlan(S.sample_dpmpp_2m, grid, prediction="eps")
    seen = []
    original = plan_module._fused.evaluate
    monkeypatch.setattr(plan_module._fused, "evaluate",
                        lambda terms, pool=None, into=None: seen.append(into is not None)
                        or original(terms, pool, into))
    plan(model, torch.zeros(5, 3))
    # x_{i+1} goes into x_{i-1}'s buffer from the third step on (x_1, x_2 are the first
    # buffers of the plan; x_0 is the caller's and is never written)
    assert sum(seen) == grid.n_steps - 2


class _RetainingModel:
    """A model that keeps every input it was called with (as a cache might)."""

    def __init__(self, model):
        self.model = model
        self.prediction = model.prediction
        self.kept = []

    def __call__(self, x, t):
        self.kept.append((x, x.clone()))
        return self.model(x, t)


def test_a_tensor_the_model_kept_is_never_overwritten(gaussian_law, vp):
    grid = S.uniform_log_snr_grid(vp, 10)
    model = _RetainingModel(S.AffineGaussianModel(gaussian_law, vp, "eps"))
    x = torch.tensor(np.random.default_rng(reseed(2)).standard_normal((64, 3)))
    SolvePlan(S.sample_dpmpp_2m, grid, prediction="eps")(model, x)
    assert len(model.kept) == grid.n_steps
    assert all(torch.equal(kept, copy) for kept, copy in model.kept)


def test_the_kept_tensor_check_catches_an_ownership_test_that_ignores_references(
        gaussian_law, vp, monkeypatch):
    """Planted bug: an ownership test that always says "ours" overwrites the model's tensors.

    Power: deterministic given the start points: the overwritten tensors hold later steps'
    values, equal to the kept ones only on a probability-0 set."""
    grid = S.uniform_log_snr_grid(vp, 10)
    model = _RetainingModel(S.AffineGaussianModel(gaussian_law, vp, "eps"))
    x = torch.tensor(np.random.default_rng(reseed(2)).standard_normal((64, 3)))
    monkeypatch.setattr(plan_module, "_slot_counts", lambda slots, i: (-1, -1))
    monkeypatch.setattr(plan_module, "_sole_counts", lambda in_pool: (-1, -1))
    SolvePlan(S.sample_dpmpp_2m, grid, prediction="eps")(model, x)
    assert not all(torch.equal(kept, copy) for kept, copy in model.kept)


def test_a_result_the_caller_holds_survives_the_next_replay(gaussian_law, vp):
    grid = S.uniform_log_snr_grid(vp, 8)
    model = S.AffineGaussianModel(gaussian_law, vp, "eps")
    plan = SolvePlan(S.sample_dpmpp_2m, grid, prediction="eps")
    rng = np.random.default_rng(reseed(3))
    x1, x2 = (torch.tensor(rng.standard_normal((50, 3))) for _ in range(2))
    first = plan(model, x1)
    copy = first.clone()
    second = plan(model, x2)
    assert torch.equal(first, copy) and not torch.equal(first, second)
    view = first[:10]                     # a view of the result keeps its storage out of reuse
    del first
    plan(model, x2)
    assert torch.equal(view, copy[:10])


def test_threads_sharing_a_plan_get_their_own_results(gaussian_law, vp):
    grid = S.uniform_log_snr_grid(vp, 8)
    model = S.AffineGaussianModel(gaussian_law, vp, "eps")
    plan = SolvePlan(S.sample_dpmpp_2m, grid, prediction="eps")
    rng = np.random.default_rng(reseed(4))
    xs = [torch.tensor(rng.standard_normal((2000, 3))) for _ in range(4)]
    with S.fused_elementwise():
        want = [S.sample_dpmpp_2m(model, x, grid) for x in xs]
    got: dict = {}

    def work(k):
        for _ in range(20):
            got[k] = plan(model, xs[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(torch.equal(got[k], want[k]) for k in range(4))


# --------------------------------------------------------------------------- refusals

def test_a_solver_that_draws_noise_is_refused(gmm_law, vp):
    grid = S.uniform_log_snr_grid(vp, 6)
    with pytest.raises(ValueError, match="^options: .*draw"):
        SolvePlan(S.sample_ddim, grid, prediction="eps", eta=0.5)
    with pytest.raises(ValueError, match="^solver: must be one of"):
        SolvePlan(S.sample_sde_dpmpp, grid, prediction="eps")


@pytest.mark.parametrize("kwargs, match", [
    ({"prediction": "noise"}, "^prediction: must be one of"),
    ({"prediction": "eps", "callback": print}, "^callback: "),
    ({"prediction": "eps", "generator": torch.Generator()}, "^generator: "),
    ({"prediction": "eps", "order": 4}, "^order: "),
])
def test_bad_plan_options_are_refused_by_name(kwargs, match, vp):
    with pytest.raises(ValueError, match=match):
        SolvePlan(S.sample_dpmpp_2m if "order" not in kwargs else S.sample_dpm_solver_multistep,
                  S.uniform_log_snr_grid(vp, 6), **kwargs)


def test_bad_replay_input_is_refused_by_name(gaussian_law, vp):
    grid = S.uniform_log_snr_grid(vp, 6)
    plan = SolvePlan(S.sample_dpmpp_2m, grid, prediction="eps")
    model = S.AffineGaussianModel(gaussian_law, vp, "eps")
    with pytest.raises(ValueError, match="^grid: must be a TimeGrid"):
        SolvePlan(S.sample_dpmpp_2m, [1.0, 0.5], prediction="eps")
    with pytest.raises(ValueError, match="^x_T: a SolvePlan replays torch tensors"):
        plan(model, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="^x_T: must contain only finite values"):
        plan(model, torch.full((3, 3), float("nan")))
    with pytest.raises(ValueError, match="^model: must be callable"):
        plan(None, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="^model: returns 'x0' predictions, but the plan was "
                                         "recorded for 'eps'"):
        plan(S.AffineGaussianModel(gaussian_law, vp, "x0"), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="^model: returned shape"):
        plan(lambda x, t: x[:, :2], torch.zeros(3, 3))
    with pytest.raises(ValueError, match="^model: the solve produced non-finite values"):
        plan(lambda x, t: torch.full_like(x, float("inf")), torch.zeros(3, 3))


def test_without_the_storage_counter_the_replay_never_writes_in_place(gaussian_law, vp,
                                                                       monkeypatch):
    """Another torch without the private counter: no reuse, no in-place writes, same result."""
    from toytheory.diffusion.solvers import _fused

    def gone(t):
        raise AttributeError("no storage use count in this torch")

    grid = S.uniform_log_snr_grid(vp, 8)
    model = S.AffineGaussianModel(gaussian_law, vp, "eps")
    x = torch.tensor(np.random.default_rng(reseed(6)).standard_normal((40, 3)))
    plan = SolvePlan(S.sample_dpmpp_2m, grid, prediction="eps")
    want = plan(model, x)
    monkeypatch.setattr(_fused, "_storage_use_count", gone)
    fresh = SolvePlan(S.sample_dpmpp_2m, grid, prediction="eps")
    model = S.AffineGaussianModel(gaussian_law, vp, "eps")     # its pool made without it too
    assert torch.equal(fresh(model, x), want)
    assert not fresh._pool().tracks_references


def test_every_slot_is_released_after_its_last_use(gaussian_law, vp, monkeypatch):
    """A stage point read only by the model (single-step solvers) is dropped after that
    call too: at the end of a replay nothing but the result is still held."""
    grid = S.uniform_log_snr_grid(vp, 12)
    model = S.AffineGaussianModel(gaussian_law, vp, "eps")
    plan = SolvePlan(S.sample_dpm_solver, grid, prediction="eps", order=3)
    assert any(op[0] == plan_module._MODEL and op[1] in dead for op, dead, _ in plan._program)
    held = []
    original = plan_module._all_finite_torch

    def spy(result):
        import gc

        frame = next(o for o in gc.get_referrers(result) if isinstance(o, list)
                     and any(x is result for x in o) and len(o) == plan._n_slots)
        held.append(sum(x is not None for x in frame))
        return original(result)

    monkeypatch.setattr(plan_module, "_all_finite_torch", spy)
    plan(model, torch.zeros(6, 3, dtype=torch.float64))
    assert held == [1]

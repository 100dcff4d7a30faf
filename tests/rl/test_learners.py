"""Torch learners on Linearq: Adam as written, determinism, batching, small-u behaviour."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from toytheory.rl import learners  # noqa: E402
from toytheory.rl.learners import fit_q_iteration, fit_rcsl_mlp, paper_widths  # noqa: E402
from tests._seeds import reseed


def test_handwritten_adam_matches_torch_adam_in_float64():
    gen = torch.Generator().manual_seed(reseed(0))
    a = torch.randn(3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    b = a.detach().clone().requires_grad_()
    x = torch.randn(4, 5, generator=gen, dtype=torch.float64)
    ours = learners._Adam([a], lr=0.05)
    ref = torch.optim.Adam([b], lr=0.05)
    for _ in range(5):
        ours.step(((a @ x) ** 2).sum())
        ref.zero_grad()
        ((b @ x) ** 2).sum().backward()
        ref.step()
    torch.testing.assert_close(a.detach(), b.detach(), rtol=0, atol=1e-12)


def test_paper_widths():
    assert paper_widths(4) == [1, 2, 4, 8, 16]
    assert paper_widths(160) == [2, 4, 8, 16, 40, 160, 640]


def test_rcsl_mlp_reaches_the_optimum_at_small_u(torch_device):
    run = fit_rcsl_mlp(3, [16], [0, 1], steps=400, device=torch_device)
    assert run.successes() == (2, 2)
    assert all(v == 14 for v in run.returns.values())


def test_fitted_q_iteration_is_deterministic_and_independent_of_the_batch():
    alone = fit_q_iteration(3, [4], [1], steps=20)
    together = fit_q_iteration(3, [2, 4, 8], [0, 1, 2], steps=20)
    again = fit_q_iteration(3, [4], [1], steps=20)
    assert alone.returns[(4, 1)] == together.returns[(4, 1)] == again.returns[(4, 1)]
    assert (alone.details["greedy_actions"][(4, 1)]
            == together.details["greedy_actions"][(4, 1)])


def test_learned_returns_never_exceed_the_optimum():
    run = fit_q_iteration(2, [2, 16], [0, 1], steps=20)
    assert all(v <= 10 for v in run.returns.values())
    assert run.optimum == 10


def test_a_wide_fitted_q_iteration_finds_the_threshold_at_small_u():
    run = fit_q_iteration(2, [16], [0, 1, 2], steps=50)
    assert run.successes(16) == (3, 3)


def test_torch_thread_count_is_restored():
    before = torch.get_num_threads()
    fit_rcsl_mlp(1, [2], [0], steps=2)
    assert torch.get_num_threads() == before


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match=r"^u: must be >= 1"):
        fit_q_iteration(0, [2], [0])
    with pytest.raises(ValueError, match=r"^widths: must be >= 1"):
        fit_rcsl_mlp(2, [0], [0])
    with pytest.raises(ValueError, match=r"^lr: "):
        fit_rcsl_mlp(2, [2], [0], lr=0.0)


def test_unique_rows_keep_the_dataset_weights():
    rows, counts = learners._unique_rows([np.array([1.0, 1.0, 2.0]), np.array([0.0, 0.0, 1.0])])
    assert rows.tolist() == [[1.0, 0.0], [2.0, 1.0]] and counts.tolist() == [2.0, 1.0]

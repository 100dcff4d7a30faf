"""toytheory.threads: the bounded-thread policy of the many-small-calls paths."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory import threads


@pytest.fixture(autouse=True)
def _restore_policy():
    saved = threads._state["policy"]
    yield
    threads._state["policy"] = saved


def _blas_threads():
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_bounded_policy_limits_blas_inside_and_restores_after():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        threads.set_thread_policy("bounded")
        with threads.bounded_threads():
            assert set(_blas_threads()) == {1}
        assert _blas_threads() == before


def test_integer_policy_and_default_policy():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        threads.set_thread_policy("default")
        assert threads.thread_policy() is None
        with threads.bounded_threads():
            assert _blas_threads() == before
        threads.set_thread_policy(2)
        assert threads.thread_policy() == 2


def test_torch_threads_bounded_and_restored():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    threads.set_thread_policy("bounded")
    with threads.bounded_threads(torch_too=True):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_environment_variable_sets_the_policy(monkeypatch):
    monkeypatch.setenv("TOYTHEORY_THREADS", "default")
    threads._state["policy"] = None
    assert threads.thread_policy() is None
    monkeypatch.setenv("TOYTHEORY_THREADS", "3")
    threads._state["policy"] = None
    assert threads.thread_policy() == 3


@pytest.mark.parametrize("bad", ["two", 0, -1, 1.5, True, "0"])
def test_bad_policies_are_refused_by_name(bad):
    with pytest.raises(ValueError, match="policy: "):
        threads.set_thread_policy(bad)


def test_scores_are_identical_under_both_policies(rng):
    """The policy changes how many threads run, never the answer (to rounding)."""
    from toytheory.diffusion.laws import GaussianMixture

    k, d = 3, 8
    a = rng.standard_normal((k, d, d))
    law = GaussianMixture(np.ones(k) / k, rng.standard_normal((k, d)),
                          a @ a.transpose(0, 2, 1) / d + 0.1 * np.eye(d))
    x = rng.standard_normal((3000, d))
    threads.set_thread_policy("default")
    ref = law.score(x, 1.0, 0.5)
    threads.set_thread_policy("bounded")
    np.testing.assert_allclose(law.score(x, 1.0, 0.5), ref, rtol=1e-12, atol=1e-12)

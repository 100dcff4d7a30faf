"""toytheory.threads: the bounded-thread policy of the many-small-calls paths."""

from __future__ import annotations

import numpy as np
import pytest

from toytheory import threads


@pytest.fixture(autouse=True)
def _restore_policy():
    saved = threads._state["policy"], threads._state["load"]
    yield
    threads._state["policy"], threads._state["load"] = saved


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


@pytest.mark.parametrize("bad", ["two", 0, -1, 1.5, True, "0", "autox"])
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


# ----------------------------------------------------------------------------- "auto"


def _mock_load(monkeypatch, running, own, cores=2):
    """Pretend ``running`` tasks are runnable system-wide, ``own`` of them ours."""
    monkeypatch.setattr(threads, "_read_load", lambda: (running, own))
    monkeypatch.setattr(threads, "usable_cores", lambda: cores)
    threads._state["load"] = None


@pytest.mark.parametrize("cores, others, expected", [
    (2, 0, None), (2, 0.4, None), (2, 1, 1), (2, 2, 1), (2, 9, 1),
    (8, 0, None), (8, 3, 5), (8, 7, 1), (1, 0, None), (1, 1, 1)])
def test_auto_decision_table(cores, others, expected):
    """Library defaults only with every core free; else one thread per free core, >= 1."""
    assert threads.threads_for_load(cores, others) == expected


def test_auto_decision_refuses_bad_readings_by_name():
    with pytest.raises(ValueError, match="cores: must be >= 1"):
        threads.threads_for_load(0, 0)
    with pytest.raises(ValueError, match="others: must be >= 0"):
        threads.threads_for_load(2, -1)


def test_auto_is_the_default_policy(monkeypatch):
    monkeypatch.delenv("TOYTHEORY_THREADS", raising=False)
    threads._state["policy"] = None
    assert threads.thread_policy() == "auto"
    monkeypatch.setenv("TOYTHEORY_THREADS", "bounded")
    threads._state["policy"] = None
    assert threads.thread_policy() == 1


def test_busy_cores_subtracts_this_process_own_threads(monkeypatch):
    _mock_load(monkeypatch, running=5, own=2)
    assert threads.busy_cores() == 3
    _mock_load(monkeypatch, running=1, own=1)     # only us: idle
    assert threads.busy_cores() == 0
    _mock_load(monkeypatch, running=3, own=0)     # our reader thread counts as one of ours
    assert threads.busy_cores() == 2


def test_busy_cores_reading_is_cached_then_refreshed(monkeypatch):
    _mock_load(monkeypatch, running=3, own=1)
    assert threads.busy_cores() == 2
    monkeypatch.setattr(threads, "_read_load", lambda: (1, 1))
    assert threads.busy_cores() == 2              # within LOAD_CACHE_SECONDS: the cached one
    monkeypatch.setattr(threads, "LOAD_CACHE_SECONDS", 0.0)
    assert threads.busy_cores() == 0


def test_auto_policy_leaves_blas_alone_when_idle_and_bounds_it_when_busy(monkeypatch):
    from threadpoolctl import threadpool_limits

    threads.set_thread_policy("auto")
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        _mock_load(monkeypatch, running=1, own=1, cores=2)       # idle machine
        with threads.bounded_threads() as n:
            assert n is None
            assert _blas_threads() == before
        _mock_load(monkeypatch, running=3, own=1, cores=2)       # two burners beside us
        with threads.bounded_threads() as n:
            assert n == 1
            assert set(_blas_threads()) == {1}
        assert _blas_threads() == before


@pytest.mark.parametrize("forced, expected", [("default", None), ("bounded", 1), (2, 2)])
def test_a_forced_policy_ignores_the_load(monkeypatch, forced, expected):
    threads.set_thread_policy(forced)
    for running in (1, 9):
        _mock_load(monkeypatch, running=running, own=1, cores=4)
        assert threads.effective_threads() == expected


def test_the_load_reader_sees_this_process_running():
    reading = threads._read_load()
    if reading is None:
        pytest.skip("no /proc on this system")
    running, own = reading
    assert own >= 1 and running >= own


def test_small_blocks_run_one_thread_under_auto_even_when_idle(monkeypatch):
    from threadpoolctl import threadpool_limits

    threads.set_thread_policy("auto")
    _mock_load(monkeypatch, running=1, own=1, cores=2)            # idle machine
    with threadpool_limits(2, user_api="blas"):
        with threads.bounded_threads(small=True) as n:
            assert n == 1 and set(_blas_threads()) == {1}
        threads.set_thread_policy("default")                      # forced: left alone
        # a BLAS loaded meanwhile (e.g. by an import inside the block) keeps its own count,
        # so compare with what is loaded now rather than with 2
        before = _blas_threads()
        assert 2 in before
        with threads.bounded_threads(small=True) as n:
            assert n is None and _blas_threads() == before

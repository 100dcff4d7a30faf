"""The runner: serial, process pool, Dask; crashes and timeouts become verdicts."""

from __future__ import annotations

import pytest

from toytheory.claims import execute_claim, run_claims, select
from toytheory.claims.runner import RunnerError

from .planted import PLANTED

VERDICT_CLAIMS = ["planted.verdict.holds", "planted.verdict.refuted", "planted.verdict.fails",
                  "planted.verdict.error", "planted.verdict.empty"]
EXPECTED = {"planted.verdict.holds": "holds", "planted.verdict.refuted": "refuted",
            "planted.verdict.fails": "fails", "planted.verdict.error": "error",
            "planted.verdict.empty": "error"}


def _claims(ids):
    return [PLANTED[i] for i in ids]


def test_serial_run_gives_each_verdict_kind():
    results = run_claims(_claims(VERDICT_CLAIMS), tier="quick", seed=3, progress=False)
    assert [r["id"] for r in results] == VERDICT_CLAIMS
    assert {r["id"]: r["verdict"] for r in results} == EXPECTED
    crash = results[3]
    assert "planted crash" in crash["message"] and "RuntimeError" in crash["traceback"]
    assert "no number held to a bound" in results[4]["message"]


def test_process_pool_gives_the_same_verdicts_as_serial():
    serial = run_claims(_claims(VERDICT_CLAIMS), tier="quick", seed=3, progress=False)
    pooled = run_claims(_claims(VERDICT_CLAIMS), tier="quick", seed=3, jobs=2, progress=False)
    strip = lambda rs: [(r["id"], r["verdict"], r["seed"], r["numbers"]) for r in rs]  # noqa
    assert strip(pooled) == strip(serial)


def test_serial_timeout_stops_the_claim_and_the_run_goes_on():
    results = run_claims(_claims(["planted.timing.sleeps", "planted.verdict.holds"]),
                         tier="quick", seed=0, progress=False)
    assert results[0]["verdict"] == "error" and results[0]["timed_out"]
    assert results[0]["seconds"] < 10
    assert "time limit of 1 s" in results[0]["message"]
    assert results[1]["verdict"] == "holds"


def test_pool_timeout_stops_the_claim_and_the_run_goes_on():
    results = run_claims(_claims(["planted.timing.sleeps", "planted.verdict.holds"]),
                         tier="quick", seed=0, jobs=2, progress=False)
    assert results[0]["timed_out"] and results[0]["verdict"] == "error"
    assert results[1]["verdict"] == "holds"


def test_claim_seed_derives_from_run_seed_and_id_only():
    c = PLANTED["planted.seed.reports_seed"]
    a = execute_claim(c, "quick", 11)
    b = execute_claim(c, "quick", 11)
    other = execute_claim(c, "quick", 12)
    assert a["seed"] == b["seed"] != other["seed"]
    first = lambda r: [n["value"] for n in r["numbers"] if n["name"] == "first draw"][0]  # noqa
    assert first(a) == first(b) != first(other)


def test_tier_selection_respects_full_only_claims():
    quick = {c.id for c in select(PLANTED, "quick")}
    full = {c.id for c in select(PLANTED, "full")}
    assert "planted.timing.full_only" not in quick and "planted.timing.full_only" in full
    assert quick <= full


def test_patterns_select_by_substring_and_glob():
    assert [c.id for c in select(PLANTED, "quick", ["refuted"])] == ["planted.verdict.refuted"]
    assert {c.id for c in select(PLANTED, "quick", ["planted.verdict.*s"])} == {
        "planted.verdict.holds", "planted.verdict.fails"}


def test_dask_local_cluster_runs_claims():
    pytest.importorskip("distributed")
    results = run_claims(_claims(["planted.verdict.holds", "planted.verdict.refuted",
                                  "planted.verdict.error"]),
                         tier="quick", seed=3, jobs=2, dask="local", progress=False)
    assert [r["verdict"] for r in results] == ["holds", "refuted", "error"]


def test_unreachable_dask_scheduler_is_a_runner_error():
    pytest.importorskip("distributed")
    with pytest.raises(RunnerError, match="cannot reach a Dask scheduler"):
        run_claims(_claims(["planted.verdict.holds"]), tier="quick",
                   dask="tcp://127.0.0.1:9", progress=False)


def test_catalog_claims_built_by_factories_run_on_the_pool_and_on_dask():
    """Workers look catalog claims up by id: checks need not be picklable."""
    from toytheory.claims import load_catalog

    registry = load_catalog()
    ids = ["diffusion.solvers.order.ddim", "foundation.gaussian.w2_closed_form"]
    pooled = run_claims([registry[i] for i in ids], tier="quick", seed=0, jobs=2,
                        progress=False)
    assert [r["verdict"] for r in pooled] == ["holds", "holds"], [r["message"] for r in pooled]
    pytest.importorskip("distributed")
    on_dask = run_claims([registry[ids[0]]], tier="quick", seed=0, jobs=1, dask="local",
                         progress=False)
    assert on_dask[0]["verdict"] == "holds", on_dask[0]["message"]

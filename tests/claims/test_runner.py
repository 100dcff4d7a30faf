"""The runner: serial, process pool, Dask; crashes and timeouts become verdicts."""

from __future__ import annotations

import json

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
    results = run_claims(_claims(VERDICT_CLAIMS), tier="quick", seed=reseed(3), progress=False)
    assert [r["id"] for r in results] == VERDICT_CLAIMS
    assert {r["id"]: r["verdict"] for r in results} == EXPECTED
    crash = results[3]
    assert "planted crash" in crash["message"] and "RuntimeError" in crash["traceback"]
    assert "no number held to a bound" in results[4]["message"]


def test_process_pool_gives_the_same_verdicts_as_serial():
    serial = run_claims(_claims(VERDICT_CLAIMS), tier="quick", seed=reseed(3), progress=False)
    pooled = run_claims(_claims(VERDICT_CLAIMS), tier="quick", seed=reseed(3), jobs=2, progress=False)
    strip = lambda rs: [(r["id"], r["verdict"], r["seed"], r["numbers"]) for r in rs]  # noqa
    assert strip(pooled) == strip(serial)


def test_serial_timeout_stops_the_claim_and_the_run_goes_on():
    results = run_claims(_claims(["planted.timing.sleeps", "planted.verdict.holds"]),
                         tier="quick", seed=reseed(0), progress=False)
    assert results[0]["verdict"] == "error" and results[0]["timed_out"]
    assert results[0]["seconds"] < 10
    assert "time limit of 1 s" in results[0]["message"]
    assert results[1]["verdict"] == "holds"


def test_pool_timeout_stops_the_claim_and_the_run_goes_on():
    results = run_claims(_claims(["planted.timing.sleeps", "planted.verdict.holds"]),
                         tier="quick", seed=reseed(0), jobs=2, progress=False)
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
                         tier="quick", seed=reseed(3), jobs=2, dask="local", progress=False)
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
    pooled = run_claims([registry[i] for i in ids], tier="quick", seed=reseed(0), jobs=2,
                        progress=False)
    assert [r["verdict"] for r in pooled] == ["holds", "holds"], [r["message"] for r in pooled]
    pytest.importorskip("distributed")
    on_dask = run_claims([registry[ids[0]]], tier="quick", seed=reseed(0), jobs=1, dask="local",
                         progress=False)
    assert on_dask[0]["verdict"] == "holds", on_dask[0]["message"]


# --------------------------------------------------------------------------- time limits

import io  # noqa: E402
import sys  # noqa: E402

from toytheory.claims import runner as runner_mod  # noqa: E402
from toytheory.claims.runner import (  # noqa: E402
    DEFAULT_MULTIPLIER, MIN_LIMIT, TIME_LIMIT_ENV, parse_time_limit, time_limit,
    time_limit_setting)
from tests._seeds import reseed


def test_time_limit_is_a_multiple_of_the_typical_time(monkeypatch):
    holds = PLANTED["planted.verdict.holds"]
    monkeypatch.setattr(runner_mod, "_typical_table",
                        lambda: {"quick": {"planted.verdict.holds": 25.0}, "full": {}})
    assert time_limit(holds, "quick", ("multiplier", DEFAULT_MULTIPLIER)) == 250.0
    assert time_limit(holds, "quick", ("multiplier", 20.0)) == 500.0
    assert time_limit(holds, "quick", ("seconds", 7.0)) == 7.0
    assert time_limit(holds, "quick", ("none", None)) is None
    # a fast claim still gets the floor, for imports and a busy machine
    monkeypatch.setattr(runner_mod, "_typical_table",
                        lambda: {"quick": {"planted.verdict.holds": 0.2}, "full": {}})
    assert time_limit(holds, "quick", ("multiplier", 10.0)) == MIN_LIMIT["quick"]
    # no recorded time: the declared limit (default 90 s) at 10x, scaled with the multiplier
    monkeypatch.setattr(runner_mod, "_typical_table", lambda: {"quick": {}, "full": {}})
    assert time_limit(holds, "quick", ("multiplier", 10.0)) == 90.0
    assert time_limit(holds, "quick", ("multiplier", 30.0)) == 270.0
    # a limit the claim declares itself wins over its typical time
    sleeps = PLANTED["planted.timing.sleeps"]
    assert time_limit(sleeps, "quick", ("multiplier", 10.0)) == 1.0


def test_the_catalog_has_typical_times_and_limits_with_room_for_load():
    """Quick-tier claims of the catalog have recorded times; each limit is >= 10x its time.

    (Claims added since the last ``make typical-times`` have no entry and keep the
    declared limit; the test needs only that the table is not empty.)
    """
    from toytheory.claims import load_catalog
    from toytheory.claims.runner import typical_seconds

    registry = load_catalog()
    timed = [c for c in select(registry, "quick") if typical_seconds(c.id, "quick")]
    assert len(timed) >= 20
    for c in timed:
        limit = time_limit(c, "quick", ("multiplier", 10.0))
        assert limit >= 10 * typical_seconds(c.id, "quick") and limit >= MIN_LIMIT["quick"]


@pytest.mark.parametrize("spec, expected", [
    (None, ("multiplier", 10.0)), ("300", ("seconds", 300.0)), (120, ("seconds", 120.0)),
    ("45s", ("seconds", 45.0)), ("20x", ("multiplier", 20.0)), ("x3", ("multiplier", 3.0)),
    ("none", ("none", None)), ("0", ("none", None)),
])
def test_time_limit_settings_are_read(spec, expected):
    assert parse_time_limit(spec) == expected


@pytest.mark.parametrize("spec", ["-5", "abc", "inf", "nanx", "1e999"])
def test_bad_time_limit_settings_are_refused_by_name(spec):
    with pytest.raises(ValueError, match="--time-limit: must be"):
        parse_time_limit(spec)


def test_environment_variable_sets_the_limit_and_the_option_wins(monkeypatch):
    monkeypatch.setenv(TIME_LIMIT_ENV, "30x")
    assert time_limit_setting() == ("multiplier", 30.0)
    assert time_limit_setting("12") == ("seconds", 12.0)
    monkeypatch.setenv(TIME_LIMIT_ENV, "soon")
    with pytest.raises(ValueError, match=TIME_LIMIT_ENV):
        time_limit_setting()


def test_a_stopped_claim_says_how_long_it_usually_takes_and_keeps_its_numbers(monkeypatch):
    monkeypatch.setattr(runner_mod, "_typical_table",
                        lambda: {"quick": {"planted.timing.numbers_then_sleeps": 0.05},
                                 "full": {}})
    r = run_claims([PLANTED["planted.timing.numbers_then_sleeps"]], tier="quick", seed=reseed(0),
                   progress=False)[0]
    assert r["verdict"] == "error" and r["timed_out"] and r["time_limit"] == 1.0
    assert "usually takes 0.05 s" in r["hint"]
    assert "--time-limit" in r["hint"] and TIME_LIMIT_ENV in r["hint"]
    assert [n["name"] for n in r["numbers"]] == ["exact vs simulated before the hang"]


def test_time_limit_option_reaches_the_claims():
    r = run_claims([PLANTED["planted.timing.sleeps"]], tier="quick", seed=reseed(0), progress=False,
                   time_limit_spec="2")[0]
    assert r["timed_out"] and r["time_limit"] == 2.0 and "limit of 2 s" in r["message"]


# --------------------------------------------------------------------------- progress, Dask

class _NotATerminal(io.StringIO):
    def isatty(self):
        return False


def test_progress_off_a_terminal_prints_one_line_per_finished_claim(monkeypatch):
    stream = _NotATerminal()
    monkeypatch.setattr(sys, "stderr", stream)
    run_claims(_claims(["planted.verdict.holds", "planted.verdict.fails"]), tier="quick",
               seed=reseed(0), progress=True)
    text = stream.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 2, text
    assert lines[0].startswith("[1/2] holds") and "planted.verdict.holds" in lines[0]
    assert lines[1].startswith("[2/2] fails") and "witnesses disagree" in lines[1]


def test_unreachable_dask_scheduler_fails_within_5_s_and_says_it_is_waiting(capsys):
    pytest.importorskip("distributed")
    import time as _time

    start = _time.perf_counter()
    with pytest.raises(RunnerError, match="cannot reach a Dask scheduler"):
        run_claims(_claims(["planted.verdict.holds"]), tier="quick",
                   dask="tcp://127.0.0.1:9", progress=False)
    assert _time.perf_counter() - start < 5.0
    assert "waiting up to 4 s for the Dask scheduler at tcp://127.0.0.1:9" in (
        capsys.readouterr().err)


def test_recorded_typical_times_are_rounded_up_and_errors_keep_their_entry(tmp_path,
                                                                          monkeypatch):
    from toytheory.claims.runner import record_typical_seconds

    path = tmp_path / "typical.json"
    path.write_text(json.dumps({"_about": "kept", "quick": {"a.b.crash": 3.0, "a.b.old": 1.0},
                                "full": {}}))
    records = [{"id": "a.b.fast", "verdict": "holds", "seconds": 0.0123},
               {"id": "a.b.slow", "verdict": "refuted", "seconds": 12.31},
               {"id": "a.b.crash", "verdict": "error", "seconds": 90.0}]
    written = record_typical_seconds(records, "quick", path)
    assert written == {"a.b.fast": 0.1, "a.b.slow": 13.0}
    data = json.loads(path.read_text())
    assert data["_about"] == "kept"
    assert data["quick"] == {"a.b.crash": 3.0, "a.b.fast": 0.1, "a.b.old": 1.0,
                             "a.b.slow": 13.0}
    with pytest.raises(ValueError, match="tier: must be"):
        record_typical_seconds(records, "medium", path)

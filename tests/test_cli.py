"""The toytheory command: verbs, exit codes, one-line errors for bad input."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from toytheory.cli import main


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "toytheory.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize("verb", ["list", "verify", "figures"])
def test_every_verb_has_help(verb, capsys):
    with pytest.raises(SystemExit) as info:
        main([verb, "--help"])
    assert info.value.code == 0
    assert verb in capsys.readouterr().out


def test_verify_writes_the_report_and_exits_zero(tmp_path, capsys):
    code = main(["verify", "-k", "foundation.gaussian", "--out", str(tmp_path), "--no-progress",
                 "--seed", "5"])
    out = capsys.readouterr().out
    assert code == 0, out
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["seed"] == 5 and data["tier"] == "quick"
    assert [c["id"] for c in data["claims"]] == ["foundation.gaussian.w2_closed_form"]
    assert data["claims"][0]["verdict"] == "holds"
    assert (tmp_path / "report.html").exists() and (tmp_path / "report.md").exists()


def test_list_shows_the_kind_of_each_claim(capsys):
    from toytheory.claims import load_catalog

    assert main(["list", "-k", "foundation.gaussian.w2_closed_form"]) == 0
    out = capsys.readouterr().out
    kind = load_catalog()["foundation.gaussian.w2_closed_form"].kind
    assert f"foundation.gaussian.w2_closed_form  [{kind}] (quick,full)" in out


def test_list_reads_results_written_under_the_old_schema(tmp_path, capsys):
    from toytheory.claims import load_catalog

    title = load_catalog()["foundation.gaussian.w2_closed_form"].paper
    old = {"schema_version": "1.0", "toytheory_version": "0.1.0", "tier": "quick", "seed": 0,
           "device": "cpu", "started": "2026-01-01T00:00:00Z", "seconds": 1.0,
           "summary": {"holds": 1, "fails": 0, "refuted": 0, "error": 0},
           "claims": [{"id": "foundation.gaussian.w2_closed_form", "paper": title,
                       "statement": "s", "verdict": "holds", "seconds": 0.1, "numbers": []}]}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(old))
    assert main(["list", "--results", str(path), "-k", "foundation.gaussian"]) == 0
    out = capsys.readouterr().out
    assert "[holds]" in out
    # the paper verdict, derived from the claims of a 1.x document (kind unset: not counted)
    assert f"{title}  [paper: not yet checked]" in out


def test_list_shows_verdicts_from_results(tmp_path, capsys):
    main(["verify", "-k", "proportions", "--out", str(tmp_path), "--no-progress"])
    capsys.readouterr()
    assert main(["list", "--results", str(tmp_path / "results.json")]) == 0
    out = capsys.readouterr().out
    assert "foundation.stats.chisquare_on_proportions_detects_a_wrong_sampler" in out
    assert "[refuted]" in out and "[not run]" in out


def _one_line_error(proc, needle):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("toytheory: error:") and needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


def test_unknown_tier_is_a_one_line_error():
    _one_line_error(_run("verify", "--tier", "medium"), "invalid choice: 'medium'")


def test_pattern_without_match_lists_ids_sharing_words(tmp_path):
    out = tmp_path / "new"
    proc = _run("verify", "-k", "foundation.gaussian.w2_closed_fom", "--out", str(out))
    _one_line_error(proc, "ids that share words with it: foundation.gaussian.w2_closed_form")
    assert not out.exists(), "a run that did not start leaves no --out folder"


def test_pattern_in_another_order_suggests_ids_with_its_words(capsys, tmp_path):
    assert main(["verify", "-k", "skip_fraction_teleport", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "ids that share words with it: diffusion.exact.teleportation_skip_fraction" in err


def test_ids_sharing_words_ranks_by_shared_words():
    from toytheory.cli import ids_sharing_words

    ids = ["a.solver.order_ddim", "a.solver.order_heun", "b.stats.chisquare", "c.order.x"]
    assert ids_sharing_words(ids, "order_heun_typo")[0] == "a.solver.order_heun"
    assert ids_sharing_words(ids, "zz_qq") == []
    assert ids_sharing_words(ids, "chisq*") == ["b.stats.chisquare"]


def test_unreachable_dask_address_fails_fast_and_leaves_no_out_folder(tmp_path):
    out = tmp_path / "new"
    proc = _run("verify", "-k", "w2", "--dask", "tcp://127.0.0.1:9", "--out", str(out),
                "--no-progress")
    assert proc.returncode == 2, proc.stderr
    waiting, error = proc.stderr.strip().splitlines()
    assert waiting == ("toytheory: waiting up to 4 s for the Dask scheduler at "
                       "tcp://127.0.0.1:9 ...")
    assert error.startswith("toytheory: error: --dask: cannot reach a Dask scheduler at "
                            "tcp://127.0.0.1:9") and "Traceback" not in proc.stderr
    seconds = float(error.rsplit("after ", 1)[1].split(" s")[0])
    assert seconds < 5.0
    assert not out.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_out_is_a_one_line_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    _one_line_error(_run("verify", "--out", str(locked / "r")), "--out: cannot write")


def test_out_below_a_file_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _one_line_error(_run("verify", "--out", str(blocker / "r")), "--out: cannot write")


def test_malformed_results_json_is_a_one_line_error(tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text("{oops")
    _one_line_error(_run("list", "--results", str(bad)), "not valid JSON")


def test_bad_jobs_is_a_one_line_error():
    _one_line_error(_run("verify", "--jobs", "0"), "--jobs: must be >= 1")


def test_non_integer_seed_is_a_one_line_error():
    _one_line_error(_run("verify", "--seed", "abc"), "invalid int value")


def test_cuda_without_a_device_is_a_one_line_error(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    _one_line_error(_run("verify", "--device", "cuda", "--out", str(tmp_path)),
                    "--device cuda: no CUDA device")


def test_failing_claims_give_exit_status_one(monkeypatch, tmp_path):
    from toytheory.claims import registry

    from .claims.planted import PLANTED

    monkeypatch.setattr(registry, "load_catalog", lambda: PLANTED)
    assert main(["verify", "-k", "planted.verdict.refuted", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    assert main(["verify", "-k", "planted.verdict.fails", "--out", str(tmp_path),
                 "--no-progress"]) == 1
    assert main(["verify", "-k", "planted.verdict.error", "--out", str(tmp_path),
                 "--no-progress"]) == 1
    # inconclusive is a result, like refuted: exit 0
    assert main(["verify", "-k", "planted.verdict.inconclusive", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert [c["verdict"] for c in data["claims"]] == ["inconclusive"]


def test_figures_verb_renders_registered_figures(tmp_path, capsys):
    assert main(["figures", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "figures written" in out


def test_a_pattern_without_match_is_refused_even_next_to_one_that_matches(tmp_path):
    proc = _run("verify", "-k", "orthogonal_split", "-k", "zzzz_no_such", "--out",
                str(tmp_path))
    assert proc.returncode == 2
    assert "-k zzzz_no_such: no claim matches" in proc.stderr and "closest ids" in proc.stderr
    assert not (tmp_path / "results.json").exists()


def test_figures_pattern_without_match_lists_closest_names(tmp_path):
    proc = _run("figures", "-k", "score_fieldz_typo", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "no figure matches; closest names:" in proc.stderr
    assert "diffusion.exact.score_fields" in proc.stderr


def test_list_into_a_closed_pipe_stops_quietly():
    proc = subprocess.run(f"{sys.executable} -m toytheory.cli list | head -1", shell=True,
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.count("\n") == 1
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


# --------------------------------------------------------------------------- time limits

def test_bad_time_limit_is_a_one_line_error(tmp_path):
    _one_line_error(_run("verify", "--time-limit", "soon", "--out", str(tmp_path / "r")),
                    "--time-limit: must be seconds")
    assert not (tmp_path / "r").exists()


def test_bad_time_limit_variable_is_a_one_line_error(tmp_path):
    env = dict(os.environ, TOYTHEORY_TIME_LIMIT="-3")
    proc = subprocess.run([sys.executable, "-m", "toytheory.cli", "verify", "--out",
                           str(tmp_path / "r")], capture_output=True, text=True, env=env,
                          timeout=300)
    _one_line_error(proc, "TOYTHEORY_TIME_LIMIT: must be positive")


def test_time_limit_option_stops_a_claim_with_its_hint(monkeypatch, tmp_path, capsys):
    from toytheory.claims import registry

    from .claims.planted import PLANTED

    monkeypatch.setattr(registry, "load_catalog", lambda: PLANTED)
    assert main(["verify", "-k", "planted.timing.sleeps", "--time-limit", "1.5", "--out",
                 str(tmp_path), "--no-progress"]) == 1
    data = json.loads((tmp_path / "results.json").read_text())
    c = data["claims"][0]
    assert c["timed_out"] and c["time_limit"] == 1.5 and "--time-limit" in c["hint"]
    assert "--time-limit" in (tmp_path / "report.md").read_text()


# --------------------------------------------------------------------------- --seeds

def test_seeds_write_a_stability_table(monkeypatch, tmp_path, capsys):
    from toytheory.claims import registry

    from .claims.planted import PLANTED

    monkeypatch.setattr(registry, "load_catalog", lambda: PLANTED)
    code = main(["verify", "-k", "planted.verdict.holds", "-k", "planted.seed.reports_seed",
                 "-k", "planted.verdict.inconclusive", "--seeds", "3..5", "--out",
                 str(tmp_path), "--no-progress"])
    assert code == 0, capsys.readouterr().out
    table = json.loads((tmp_path / "stability.json").read_text())
    assert table["seeds"] == [3, 4, 5]
    rows = {r["id"]: r for r in table["claims"]}
    assert rows["planted.verdict.holds"]["verdicts"] == {"3": "holds", "4": "holds",
                                                         "5": "holds"}
    assert rows["planted.verdict.holds"]["status"] == "stable"
    assert rows["planted.verdict.inconclusive"]["status"] == "stable"
    assert sorted(p.name for p in (tmp_path / "seeds").iterdir()) == [
        "seed-3.json", "seed-4.json", "seed-5.json"]
    md = (tmp_path / "stability.md").read_text()
    assert "| `planted.verdict.holds` |" in md and "holds x3" in md


def test_seeds_exit_one_when_a_claim_fails_under_a_seed(monkeypatch, tmp_path):
    from toytheory.claims import registry

    from .claims.planted import PLANTED

    monkeypatch.setattr(registry, "load_catalog", lambda: PLANTED)
    assert main(["verify", "-k", "planted.verdict.fails", "--seeds", "0..1", "--out",
                 str(tmp_path), "--no-progress"]) == 1
    table = json.loads((tmp_path / "stability.json").read_text())
    assert table["failing"] and table["claims"][0]["status"] == "fails or errors"


@pytest.mark.parametrize("spec", ["5..2", "a..b", "1...3", "-1..2"])
def test_bad_seed_ranges_are_one_line_errors(spec, tmp_path):
    _one_line_error(_run("verify", "--seeds", spec, "--out", str(tmp_path / "r")),
                    "--seeds:")


# --------------------------------------------------------------------------- progress, load

def test_progress_in_a_log_is_one_line_per_claim(tmp_path):
    proc = _run("verify", "-k", "foundation.gaussian.w2_closed_form", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        line for line in proc.stderr.strip().splitlines() if line.startswith("[1/1] holds")]


QUICK_SUBSET = ["foundation.gaussian.w2_closed_form", "diffusion.solvers.order.ddim"]


def test_quick_subset_passes_with_both_cores_busy(tmp_path):
    """Two CPU-burning processes hold both cores while a subset of the quick tier runs with
    its default time limits: it must still exit 0 (limits leave room for load), in < 60 s."""
    burn = "import time\nt = time.time() + 55\nwhile time.time() < t: pass\n"
    burners = [subprocess.Popen([sys.executable, "-c", burn]) for _ in range(2)]
    try:
        args = [sys.executable, "-m", "toytheory.cli", "verify", "--tier", "quick",
                "--out", str(tmp_path), "--no-progress"]
        for cid in QUICK_SUBSET:
            args += ["-k", cid]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    finally:
        for b in burners:
            b.kill()
            b.wait()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((tmp_path / "results.json").read_text())
    assert sorted(c["id"] for c in data["claims"]) == sorted(QUICK_SUBSET)
    assert all(not c["timed_out"] for c in data["claims"])


def test_openmp_threads_wait_passively_unless_the_user_chose(monkeypatch, capsys):
    """``main`` sets OMP_WAIT_POLICY=PASSIVE before any OpenMP runtime starts, and keeps a
    value the user set."""
    import os
    import subprocess
    import sys

    from toytheory import cli

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert cli.main(["list", "-k", "no-claim-matches-this-pattern-xyz"]) in (0, 2)
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    cli.main(["list", "-k", "no-claim-matches-this-pattern-xyz"])
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    capsys.readouterr()
    # in time: importing the CLI starts neither runtime (torch, Numba)
    code = ("import sys, toytheory.cli; "
            "assert 'torch' not in sys.modules and 'numba' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)

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


def test_pattern_without_match_lists_closest_ids(tmp_path):
    proc = _run("verify", "-k", "foundation.gaussian.w2_closed_fom", "--out", str(tmp_path))
    _one_line_error(proc, "closest ids: foundation.gaussian.w2_closed_form")


def test_unreachable_dask_address_is_a_one_line_error(tmp_path):
    proc = _run("verify", "-k", "w2", "--dask", "tcp://127.0.0.1:9", "--out", str(tmp_path),
                "--no-progress")
    _one_line_error(proc, "cannot reach a Dask scheduler at tcp://127.0.0.1:9")


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

"""toytheory's pytest plugin, run inside pytest's ``pytester``.

Each inner suite registers the plugin the way this repository's conftest does
(``ensure_registered``: a no-op where the ``pytest11`` entry point already loaded it);
the entry point itself is exercised by tests/packaging/test_wheel.py in a fresh venv.
Inner suites run in a subprocess: an in-process run unloads numpy and scipy between runs,
and their extension modules cannot be loaded twice.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

CONFTEST = """
def pytest_addoption(parser, pluginmanager):
    from toytheory.testing.pytest_plugin import ensure_registered
    ensure_registered(pluginmanager)
"""

FIXTURES = """
import numpy as np
import pytest


@pytest.mark.toytheory
def test_problems(exact_gmm, exact_gaussian, exact_model, toy_mdp, design_matrix, dpp_features,
                  vp_schedule):
    assert exact_gmm.dim == 2 and exact_gaussian.dim == 3
    x = np.zeros((4, 2))
    assert exact_model(x, 0.5).shape == (4, 2)
    assert toy_mdp.H == 5
    assert design_matrix.shape == (40, 3) and np.linalg.matrix_rank(design_matrix) == 3
    np.testing.assert_allclose(dpp_features.T @ dpp_features, np.eye(3), atol=1e-12)


def test_not_marked():
    pass


@pytest.mark.toytheory
def test_biased_estimator_fails_with_its_evidence():
    from toytheory.conformance import check_pass_at_k
    from toytheory.decoding.repeated_sampling import pass_at_k_plugin

    check_pass_at_k(pass_at_k_plugin).assert_ok()


@pytest.mark.toytheory
def test_plain_assert_shows_the_evidence():
    from toytheory.conformance import check_pass_at_k
    from toytheory.decoding.repeated_sampling import pass_at_k_plugin

    assert check_pass_at_k(pass_at_k_plugin, nk=[(7, 3)])
"""

RECORD = """
import json, os
import numpy as np
from toytheory.conformance import check_sampler_law


def test_record(test_seed, rng, seeded_globals, toytheory_level):
    assert isinstance(rng, np.random.Generator) and "numpy" in seeded_globals
    p = np.array([0.2, 0.3, 0.5])
    res = check_sampler_law(lambda n, rng: rng.choice(3, size=n, p=p), p, n_samples=500)
    with open(os.environ["RECORD"], "w") as f:
        json.dump({"test_seed": test_seed, "counts": res.measured["counts"].tolist(),
                   "level": res.level, "fixture_level": toytheory_level}, f)
"""


def _env(monkeypatch, tmp_path):
    monkeypatch.delenv("TOYTHEORY_TEST_SEED", raising=False)
    record = tmp_path / "record.json"
    monkeypatch.setenv("RECORD", str(record))
    return record


def test_fixtures_marker_and_a_failed_checks_evidence(pytester):
    """The exact-problem fixtures load, the marker is registered (--strict-markers) and
    selects, and a failed check fails its test with the evidence as message (through
    assert_ok(), and through a plain assert)."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_fixtures=FIXTURES)
    result = pytester.runpytest_subprocess("--strict-markers", "-m", "toytheory", "-p",
                                           "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2, deselected=1)
    result.stdout.fnmatch_lines(["*AssertionError: check_pass_at_k(pass_at_k_plugin): FAIL*",
                                 "*bias*FAIL*"])
    result.stdout.fnmatch_lines(["*assert check_pass_at_k(pass_at_k_plugin): FAIL -- n = 7, "
                                 "k = 3, p = 1/50: E[[]estimate[]] = 0.05096*"])


def test_seed_and_level_options_reach_fixtures_and_every_statistical_check(pytester, monkeypatch,
                                                                         tmp_path):
    """--toytheory-seed (or $TOYTHEORY_TEST_SEED) reseeds test_seed and the checks called
    without seed=; --toytheory-level sets the level of checks called without level=; the
    header names the seed; a level outside (0, 1) is a usage error."""
    record = _env(monkeypatch, tmp_path)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_record=RECORD)

    def run(*args):
        res = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
        res.assert_outcomes(passed=1)
        return res, json.loads(record.read_text())

    res0, zero = run()
    res0.stdout.fnmatch_lines(["toytheory suite seed: 0"])
    assert zero["level"] == zero["fixture_level"] == 1e-6
    _, one = run("--toytheory-seed", "1", "--toytheory-level", "0.01")
    assert one["test_seed"] != zero["test_seed"] and one["counts"] != zero["counts"]
    assert one["level"] == one["fixture_level"] == 0.01
    monkeypatch.setenv("TOYTHEORY_TEST_SEED", "1")
    _, env_one = run("--toytheory-level", "0.01")
    assert env_one == one   # the same seed, in another process: the same draws
    bad = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--toytheory-level", "1.5")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--toytheory-level: must be in (0, 1) (got 1.5)*"])


def test_pyproject_registers_the_plugin_under_pytest11():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    eps = meta["project"]["entry-points"]["pytest11"]
    assert eps == {"toytheory": "toytheory.testing.pytest_plugin"}


def test_the_example_suite_in_the_docs_passes(pytester):
    """docs/conformance_example.md's example suite, run as written."""
    text = (ROOT / "docs" / "conformance_example.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert len([line for line in code.splitlines() if line.strip()]) <= 12
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_example=code)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers").assert_outcomes(passed=3)

"""The suite's one seed source reaches numpy, random, torch, Numba and hypothesis.

The default run is deterministic (suite seed 0: the derandomized ``ci`` profile);
``--hypothesis-seed S`` and a non-zero suite seed (``TOYTHEORY_TEST_SEED``) both make
the property tests follow the seed, with the ``ci`` example counts.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from toytheory.testing import seed_global_generators
from toytheory.testing.profiles import CI_EXAMPLES, choose_profile

ROOT = Path(__file__).resolve().parents[1]

_PROBE = '''
import os
from hypothesis import given, settings, strategies as st


def test_seed_value(test_seed):
    with open(os.environ["RECORD"] + ".seed", "w") as f:
        f.write(f"{test_seed}\\n{settings.get_current_profile_name()}\\n")


@given(st.integers(0, 2**62))
def test_examples(x):
    with open(os.environ["RECORD"], "a") as f:
        f.write(f"{x}\\n")
'''


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("probe")
    (d / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    (d / "test_probe.py").write_text(_PROBE)
    return d


_RUNS: dict = {}


def _run(probe_dir: Path, tag: str, *args: str, suite_seed: str | None = None):
    """Run the probe suite; return (its hypothesis examples, its test_seed, its profile).

    Runs are cached by ``tag`` within this module (each costs a pytest start-up)."""
    if tag in _RUNS:
        return _RUNS[tag]
    record = probe_dir / f"{tag}.txt"
    env = {k: v for k, v in os.environ.items() if k not in ("TOYTHEORY_TEST_SEED",
                                                           "TOYTHEORY_HYPOTHESIS_PROFILE")}
    env.update(RECORD=str(record), PYTHONPATH=str(ROOT))
    if suite_seed is not None:
        env["TOYTHEORY_TEST_SEED"] = suite_seed
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "test_probe.py", *args], cwd=probe_dir, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    examples = record.read_text().split()
    seed, profile = Path(str(record) + ".seed").read_text().split()
    _RUNS[tag] = examples, int(seed), profile
    return _RUNS[tag]


def test_default_run_is_derandomized_ci_and_repeats(probe_dir):
    a, seed_a, prof = _run(probe_dir, "default-1")
    b, seed_b, _ = _run(probe_dir, "default-2")
    assert prof == "ci"
    assert len(a) == CI_EXAMPLES
    assert a == b and seed_a == seed_b


def test_hypothesis_seed_is_honoured_with_ci_example_counts(probe_dir):
    default, _, _ = _run(probe_dir, "default-1")
    s1, _, prof = _run(probe_dir, "seed1-a", "--hypothesis-seed", "1")
    s1_again, _, _ = _run(probe_dir, "seed1-b", "--hypothesis-seed", "1")
    s2, _, _ = _run(probe_dir, "seed2", "--hypothesis-seed", "2")
    assert prof == "ci-seeded"
    assert len(s1) == len(s2) == CI_EXAMPLES
    assert s1 == s1_again            # the same seed, the same examples
    assert s1 != s2 and s1 != default  # another seed, other examples


def test_suite_seed_reseeds_fixtures_and_hypothesis(probe_dir):
    default, seed0, _ = _run(probe_dir, "default-1")
    five, seed5, prof = _run(probe_dir, "suite5", suite_seed="5")
    assert prof == "ci-seeded" and len(five) == CI_EXAMPLES
    assert seed5 != seed0 and five != default


def test_choose_profile_keeps_random_profiles_and_refuses_unknown_names():
    assert choose_profile("ci") == "ci"
    assert choose_profile("ci", seeded=True) == "ci-seeded"
    assert choose_profile("dev", seeded=True) == "dev"
    with pytest.raises(ValueError, match="TOYTHEORY_HYPOTHESIS_PROFILE: must be one of"):
        choose_profile("fast")


def _draws() -> dict:
    import random

    out = {"random": random.random(), "numpy": float(np.random.random())}
    if "torch" in sys.modules:
        out["torch"] = float(sys.modules["torch"].rand(1).item())
    if "numba" in sys.modules:
        out["numba"] = float(_numba_draw())
    return out


_NUMBA_DRAW = None


def _numba_draw():
    global _NUMBA_DRAW
    if _NUMBA_DRAW is None:
        import numba

        @numba.njit(cache=False)
        def draw():
            return np.random.random()

        _NUMBA_DRAW = draw
    return _NUMBA_DRAW()


@pytest.mark.skipif(importlib.util.find_spec("torch") is None
                    or importlib.util.find_spec("numba") is None,
                    reason="needs torch and numba")
def test_global_generators_follow_the_seed(test_seed):
    import numba  # noqa: F401  (now imported: the seeding reaches them)
    import torch  # noqa: F401

    names = seed_global_generators(test_seed)
    assert set(names) == {"random", "numpy", "torch", "numba"}
    first = _draws()
    seed_global_generators(test_seed)
    assert _draws() == first                      # same seed, same draws, every library
    seed_global_generators(test_seed + 1)
    other = _draws()
    assert all(other[k] != first[k] for k in first)  # another seed moves every library


def test_seeding_refuses_a_seed_out_of_range():
    with pytest.raises(ValueError, match=r"seed: must be an int in \[0, 2\*\*32\)"):
        seed_global_generators(-1)


def test_autouse_fixture_seeded_numpy_before_the_test(test_seed):
    drawn = np.random.random()
    np.random.seed(test_seed)
    assert np.random.random() == drawn


@pytest.mark.gpu
def test_torch_seeding_reaches_the_cuda_generator(test_seed):
    torch = pytest.importorskip("torch")
    seed_global_generators(test_seed)
    first = torch.rand(4, device="cuda").cpu()
    seed_global_generators(test_seed)
    assert torch.equal(torch.rand(4, device="cuda").cpu(), first)

"""The benchmarks let idle OpenMP threads sleep, so spinning threads never slow a peer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _policy_after_import(env_value):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if env_value is not None:
        env["OMP_WAIT_POLICY"] = env_value
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", "import benchmarks, os; "
                          "print(os.environ.get('OMP_WAIT_POLICY'))"],
                         capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return out.stdout.strip()


@pytest.mark.parametrize("given, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_importing_the_benchmarks_sets_passive_waits_unless_chosen(given, expected):
    """Deterministic: a fresh interpreter without the variable gets PASSIVE; a user's own
    choice is kept (a planted ``os.environ[...] = 'PASSIVE'`` would fail the second case)."""
    assert _policy_after_import(given) == expected

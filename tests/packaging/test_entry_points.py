"""What a user expects of the package: ``python -m toytheory`` and ``--version``."""

from __future__ import annotations

import subprocess
import sys

import toytheory


def test_python_dash_m_runs_the_command_and_reports_the_version():
    proc = subprocess.run([sys.executable, "-m", "toytheory", "--version"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"toytheory {toytheory.__version__}"


def test_python_dash_m_refuses_an_unknown_command_with_status_2():
    proc = subprocess.run([sys.executable, "-m", "toytheory", "frobnicate"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "frobnicate" in proc.stderr

"""The README's code examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_shows_exactly_the_two_setup_commands():
    text = README.read_text()
    assert "make verify" in text and "make test" in text


def test_readme_python_examples_run_and_the_example_claim_holds():
    blocks = _python_blocks()
    assert len(blocks) >= 2
    code = "\n".join(blocks) + (
        "\nfrom toytheory.claims import REGISTRY, execute_claim\n"
        "r = execute_claim(REGISTRY['foundation.gaussian.w2_one_dimensional'], 'quick', 0)\n"
        "assert r['verdict'] == 'holds', r['message']\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr

"""The documentation builds with warnings as errors, and every internal link resolves.

The quick build renders the notebooks without executing them (``make docs`` executes
them and writes each as an .ipynb with outputs)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _build_module():
    spec = importlib.util.spec_from_file_location("docs_build", ROOT / "docs" / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_build"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("sphinx", reason="the docs extra (sphinx, myst-nb) is not installed")
    pytest.importorskip("myst_nb", reason="the docs extra (sphinx, myst-nb) is not installed")
    out = tmp_path_factory.mktemp("html")
    return _build_module().build(execute=False, results=None, out=out, jobs="1")


def test_docs_build_with_warnings_as_errors_and_cover_every_area(site):
    build = _build_module()
    for page in ["index.html", "guide/conformance.html", "api/index.html",
                 "gallery/index.html", "api/toytheory.conformance.html"]:
        assert (site / page).exists(), page
    for area in build.AREAS:
        text = (site / "areas" / f"{area}.html").read_text()
        assert "Exact oracles" in text and "Claims, paper by paper" in text, area
    for notebook in (ROOT / "notebooks").glob("*.py"):
        assert (site / "gallery" / f"{notebook.stem}.html").exists(), notebook.stem
    assert build.broken_internal_links(site) == []


def test_the_link_check_catches_a_planted_broken_link(site, tmp_path):
    """Power: deterministic — a fixed broken link in a copy of the site; no random draw."""
    import shutil

    build = _build_module()
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    page = copy / "index.html"
    page.write_text(page.read_text().replace("</body>",
                                             '<a href="no/such/page.html">x</a>'
                                             '<a href="index.html#no-such-anchor">y</a></body>'))
    broken = build.broken_internal_links(copy)
    assert any("no/such/page.html" in b for b in broken)
    assert any("no-such-anchor" in b for b in broken)


def test_a_docstring_error_fails_the_build(tmp_path, monkeypatch):
    """-W: a malformed docstring in a documented module is an error, not a warning."""
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_nb")
    import subprocess

    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text("extensions = ['sphinx.ext.autodoc', 'sphinx.ext.napoleon']\n")
    (src / "broken_mod.py").write_text('"""Title.\n\nterm\n    text\n  bad indent\n"""\n')
    (src / "index.rst").write_text("X\n=\n\n.. automodule:: broken_mod\n")
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(src),
                           str(tmp_path / "out")], capture_output=True, text=True,
                          env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0 and "WARNING" in proc.stderr + proc.stdout

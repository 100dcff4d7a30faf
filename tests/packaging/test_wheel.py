"""A built wheel installs into a fresh venv and works: the import, the command, the plugin.

The wheel is built from a copy of the package sources (so the worktree gets no build/ or
egg-info) with ``pip wheel --no-deps --no-build-isolation --no-index``: offline, with
this environment's setuptools. The fresh venv has no pip of its own; this environment's
pip installs the wheel into it (``pip --python``). Its dependencies (numpy, scipy, pytest,
...) are not downloaded: a ``.pth`` line appends this environment's site-packages to the
fresh venv's path (a path line, not a site directory, so the editable install found there
is not activated: ``toytheory`` is imported from the wheel, which the test checks).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest

import toytheory

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("toytheory", "sims", "proofs")


def _run(cmd, cwd, **kw):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTEST_ADDOPTS"] = ""
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, **kw)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv python, venv bin dir, work dir) with the freshly built wheel installed."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for pkg in PACKAGES:
        if (ROOT / pkg).exists():
            shutil.copytree(ROOT / pkg, src / pkg, ignore=ignore)
    dist = base / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-q", "-w", dist, src], cwd=base)
    wheels = list(dist.glob("toytheory-*.whl"))
    assert len(wheels) == 1, wheels
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    py = bindir / "python"
    _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index",
          "-q", wheels[0]], cwd=base)
    site = _run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                cwd=base).strip()
    (Path(site) / "_toytheory_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return py, bindir, base, Path(site)


@pytest.mark.slow
def test_the_wheel_imports_from_the_fresh_venv(installed):
    py, _, base, site = installed
    out = _run([py, "-c", "import toytheory, numpy; print(toytheory.__file__); "
                          "print(toytheory.__version__)"], cwd=base).split()
    assert Path(out[0]).is_relative_to(site), out[0]
    assert out[1] == toytheory.__version__


@pytest.mark.slow
def test_the_command_and_python_dash_m_report_the_version(installed):
    py, bindir, base, _ = installed
    want = f"toytheory {toytheory.__version__}"
    assert _run([bindir / "toytheory", "--version"], cwd=base).strip() == want
    assert _run([py, "-m", "toytheory", "--version"], cwd=base).strip() == want


@pytest.mark.slow
def test_the_packaged_catalog_lists_a_claim(installed):
    """The claim catalog and its data files (seed abstracts, typical times) are in the wheel."""
    _, bindir, base, _ = installed
    out = _run([bindir / "toytheory", "list", "-k", "foundation.gaussian.w2_closed_form"],
               cwd=base)
    assert "foundation.gaussian.w2_closed_form" in out


@pytest.mark.slow
def test_pytest_loads_the_plugin_through_the_wheels_entry_point(installed):
    """No conftest: the fixtures, options and marker come from the pytest11 entry point."""
    py, _, base, _ = installed
    suite = base / "suite"
    suite.mkdir(exist_ok=True)
    (suite / "test_user.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.mark.toytheory
        def test_fixture(exact_gmm, test_seed):
            assert exact_gmm.dim == 2 and test_seed >= 0
    """))
    out = _run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--strict-markers",
                "--toytheory-seed", "3", "test_user.py"], cwd=suite)
    assert "1 passed" in out
    assert "toytheory suite seed: 3" in _run(
        [py, "-m", "pytest", "-p", "no:cacheprovider", "--toytheory-seed", "3", "test_user.py"],
        cwd=suite)

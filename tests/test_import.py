"""import toytheory is light: under a second, and without torch, numba or dask."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


def test_import_takes_under_one_second_and_loads_nothing_heavy():
    proc = _python("""
        import sys, time
        t = time.perf_counter()
        import toytheory
        elapsed = time.perf_counter() - t
        heavy = [m for m in ("torch", "numba", "dask", "scipy", "matplotlib") if m in sys.modules]
        print(elapsed, heavy)
    """)
    assert proc.returncode == 0, proc.stderr
    elapsed, heavy = proc.stdout.split(" ", 1)
    assert float(elapsed) < 1.0
    assert heavy.strip() == "[]"


def test_toytheory_works_when_torch_numba_and_dask_are_missing():
    proc = _python("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "numba", "dask", "distributed"):
                    raise ImportError(f"blocked {name}")
                return None
        sys.meta_path.insert(0, Block())
        import toytheory
        from toytheory import stats, gaussian_distances
        from toytheory.claims import load_catalog
        reg = load_catalog()
        print(len(reg))
        print(gaussian_distances.bures_wasserstein_distance([0.0], [[1.0]], [3.0], [[1.0]]))
    """)
    assert proc.returncode == 0, proc.stderr
    n, w = proc.stdout.split()
    assert int(n) >= 3 and float(w) == 3.0

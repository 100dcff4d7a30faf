"""Every name a package exports is the object its module defines, whatever the import order.

A function that shares its name with a submodule (``toytheory.rl.linearq`` was both)
is shadowed once the submodule is imported: ``from toytheory.rl import
bellman_completeness_width, linearq`` returned the module. Each check runs in a
fresh interpreter, so no earlier import hides the problem.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import importlib, pkgutil, sys
pkg_name, order, submodules_first = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
pkg = importlib.import_module(pkg_name)
names = list(pkg.__all__)
if order == "reversed":
    names.reverse()
subs = [m.name for m in pkgutil.iter_modules(pkg.__path__)]
if submodules_first:
    for sub in subs:
        importlib.import_module(pkg_name + "." + sub)
bad = []
for name in names:
    value = getattr(importlib.import_module(pkg_name), name)
    exec(f"from {pkg_name} import {name} as _v")
    if type(value).__name__ == "module" or type(_v).__name__ == "module":
        bad.append(name + " is a module")
for sub in subs:
    importlib.import_module(pkg_name + "." + sub)
for name in names:
    value = getattr(pkg, name)
    if type(value).__name__ == "module":
        bad.append(name + " is a module after every submodule is imported")
print(";".join(bad))
"""


@pytest.mark.parametrize("package", ["toytheory.rl", "toytheory.adaptive"])
@pytest.mark.parametrize("order", ["forward", "reversed"])
@pytest.mark.parametrize("submodules_first", ["0", "1"])
def test_every_export_is_an_object_not_a_module(package, order, submodules_first):
    out = subprocess.run([sys.executable, "-c", SCRIPT, package, order, submodules_first],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", out.stdout


def test_the_reported_import_gives_the_function():
    out = subprocess.run([sys.executable, "-c",
                          "from toytheory.rl import bellman_completeness_width, linearq;"
                          "print(callable(linearq), type(linearq).__name__,"
                          " linearq(2).n_states)"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "function", "9"]


def test_adaptive_exports_its_public_oracles():
    import toytheory.adaptive as adaptive
    from toytheory.adaptive import accounting, audit, bounds

    for name in ("laplace_epsilon", "gaussian_rho", "sparse_vector_epsilon"):
        assert getattr(adaptive, name) is getattr(accounting, name)
    for name in ("audit_dp", "histogram_dp_statistic", "laplace_binned_hockey_stick"):
        assert getattr(adaptive, name) is getattr(audit, name)
    assert adaptive.pmw_update_bound is bounds.pmw_update_bound
    assert {"EXHAUSTED", "PrivateMultiplicativeWeights", "laplace_epsilon"} <= set(
        adaptive.__all__)

"""Shared test configuration: hypothesis profile, the suite's one seed source, device
fixtures, gpu marker.

Seeds: every random test draws from ``test_seed`` (an int) or ``rng`` (a numpy
Generator), derived from one suite seed and the test's node id. The suite seed is
``--toytheory-seed S`` or ``$TOYTHEORY_TEST_SEED`` (default 0, so CI is
deterministic); a different value reseeds every test at once.

The same seed feeds every generator a test may touch without asking: before each
test, Python's ``random``, numpy's legacy global state (``np.random.seed``), torch's
default generator (``torch.manual_seed``) and Numba's own per-thread ``np.random``
state (through a jitted ``np.random.seed``) are seeded from ``test_seed``. torch and
Numba are seeded only when already imported (a test that imports them itself, in its
body, should pass ``test_seed`` on: ``torch.Generator().manual_seed(test_seed)``, or
an integer argument to the Numba kernel); this conftest never imports them.

Literal seeds written in test files (``default_rng(reseed(7))``, ``seed=reseed(3)``) go
through :func:`tests._seeds.reseed`: unchanged under suite seed 0, derived from the suite
seed otherwise.

Hypothesis: the default run (suite seed 0, no ``--hypothesis-seed``) uses the
derandomized ``ci`` profile, the same examples every run. ``--hypothesis-seed S``
switches ``ci`` to ``ci-seeded`` (same example counts, seeded by ``S``); a non-zero
suite seed does the same with the suite seed as the hypothesis seed, so reseeding
the suite reseeds the property tests too.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

# The generic parts (the --toytheory-seed/--toytheory-level options, the suite seed,
# test_seed/rng/seeded_globals, exact-problem fixtures, the toytheory marker) live in
# toytheory's pytest plugin (toytheory/testing/pytest_plugin.py). Installed, pytest loads
# it through its pytest11 entry point; from a source tree it is registered here.


def pytest_addoption(parser, pluginmanager):
    from toytheory.testing.pytest_plugin import ensure_registered

    ensure_registered(pluginmanager)


@pytest.fixture(autouse=True)
def _seeded_global_generators(seeded_globals):
    """Before each test: the global generators (numpy, random, torch, Numba) from ``test_seed``."""
    return seeded_globals


from toytheory.testing import load_profile  # noqa: E402

load_profile()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Pick the hypothesis profile: derandomized ``ci`` unless a seed must decide the examples.

    Runs before hypothesis's own plugin (see
    :func:`toytheory.testing.pytest_plugin.select_hypothesis_profile`).
    """
    from toytheory.testing.pytest_plugin import SEED_ENV, select_hypothesis_profile, suite_seed

    # literal seeds in test files go through tests._seeds.reseed, which reads this
    os.environ[SEED_ENV] = str(suite_seed(config))
    select_hypothesis_profile(config)


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config, items):
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device; none is available here")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def torch_device(request):
    """Every torch test runs on the CPU, and on CUDA where a device exists."""
    pytest.importorskip("torch")
    return request.param

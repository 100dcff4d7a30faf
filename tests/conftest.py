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

SEED_ENV = "TOYTHEORY_TEST_SEED"


def pytest_addoption(parser):
    parser.addoption("--toytheory-seed", action="store", default=None, type=int,
                     help=f"suite seed every random test derives from (default ${SEED_ENV} "
                          "or 0)")


def suite_seed(config) -> int:
    """The suite seed: the option, else the environment variable, else 0."""
    value = config.getoption("--toytheory-seed")
    if value is None:
        raw = os.environ.get(SEED_ENV, "0")
        try:
            value = int(raw)
        except ValueError:
            raise pytest.UsageError(f"{SEED_ENV}: must be a non-negative integer (got {raw!r})")
    if value < 0:
        raise pytest.UsageError(f"--toytheory-seed: must be non-negative (got {value})")
    return value


def pytest_report_header(config):
    return f"toytheory suite seed: {suite_seed(config)}"


@pytest.fixture
def test_seed(request) -> int:
    """A 32-bit seed for this test: derived from the suite seed and the test's node id."""
    from toytheory._random import derive_seed

    return derive_seed(suite_seed(request.config), request.node.nodeid)


@pytest.fixture
def rng(test_seed):
    """A numpy Generator seeded from ``test_seed``."""
    import numpy as np

    return np.random.default_rng(test_seed)


@pytest.fixture(autouse=True)
def _seeded_global_generators(test_seed):
    """Before each test: the global generators (numpy, random, torch, Numba) from ``test_seed``."""
    from toytheory.testing import seed_global_generators

    return seed_global_generators(test_seed)


from toytheory.testing import load_profile  # noqa: E402

load_profile()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Pick the hypothesis profile: derandomized ``ci`` unless a seed must decide the examples.

    Runs before hypothesis's own plugin, and hands it the chosen profile and seed
    (``--hypothesis-profile``/``--hypothesis-seed``), so that its verbosity options
    stack on top and its seed reaches every property test.
    """
    opt = config.option
    explicit = getattr(opt, "hypothesis_seed", None)
    seed = suite_seed(config)
    # literal seeds in test files go through tests._seeds.reseed, which reads this
    os.environ[SEED_ENV] = str(seed)
    seeded = explicit is not None or seed != 0
    name = load_profile(getattr(opt, "hypothesis_profile", None), seeded=seeded)
    if hasattr(opt, "hypothesis_profile"):
        opt.hypothesis_profile = name
        if explicit is None and seed != 0:
            opt.hypothesis_seed = str(seed)
    elif seed != 0:  # hypothesis's pytest plugin is off (-p no:hypothesispytest)
        from hypothesis import core

        core.global_force_seed = seed


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

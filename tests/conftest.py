"""Shared test configuration: hypothesis profile, the suite's one seed source, device
fixtures, gpu marker.

Seeds: every random test draws from ``test_seed`` (an int) or ``rng`` (a numpy
Generator), derived from one suite seed and the test's node id. The suite seed is
``--toytheory-seed S`` or ``$TOYTHEORY_TEST_SEED`` (default 0, so CI is
deterministic); a different value reseeds every test at once. Numba and torch
draws take their seed from ``test_seed`` too (``torch.Generator().manual_seed``,
an integer argument to the Numba kernel).
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

from toytheory.testing import load_profile

load_profile()


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

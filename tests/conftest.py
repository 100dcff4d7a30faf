"""Shared test configuration: hypothesis profile, device fixtures, gpu marker."""

from __future__ import annotations

import importlib.util

import pytest

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

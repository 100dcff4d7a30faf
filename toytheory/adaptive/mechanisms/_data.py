"""Checks shared by the mechanisms."""

from __future__ import annotations

import numpy as np


def check_sample(name: str, data) -> np.ndarray:
    """A non-empty sample: an array with at least one row, finite if numeric."""
    array = np.asarray(data)
    if array.ndim < 1 or len(array) < 1:
        raise ValueError(f"{name}: must contain at least one data point (got shape "
                         f"{array.shape})")
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: must contain only finite values")
    return array

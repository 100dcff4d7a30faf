"""Lazy re-exports for packages whose submodules pull in heavy libraries."""

from __future__ import annotations

import importlib
import sys


def lazy_exports(package: str, exports: dict[str, str]):
    """Module-level ``__getattr__`` and ``__dir__`` that import ``exports`` on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict
        Public name to the submodule (relative to ``package``) that defines it.

    Examples
    --------
    In a package ``__init__.py``::

        _EXPORTS = {"decompose": "decomposition"}
        __all__ = sorted(_EXPORTS)
        __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
    """

    def __getattr__(name):
        if name in exports:
            value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__

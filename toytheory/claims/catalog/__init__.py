"""Claim modules: one per paper or topic, discovered by ``load_catalog``.

Naming: ``<area>_<topic>.py``. Import heavy libraries (torch, numba, dask)
inside the checks, not at module level.
"""

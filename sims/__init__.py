"""Independent simulators: forward simulations written from each process's definition.

A simulator here may import toytheory's problem definitions and types, never
the exact formula it is checked against. Numba kernels are compiled lazily
(import of this package needs neither numba nor torch).
"""

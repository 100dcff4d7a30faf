"""toytheory's benchmarks: each workload against its peer, interleaved in one process.

Importing this package (``python -m benchmarks.suite``, ``python -m benchmarks.bench_*``)
lets idle OpenMP threads sleep (``OMP_WAIT_POLICY=PASSIVE``, unless already set), as the
``toytheory`` CLI does: by default a runtime's threads spin for a while after each
parallel region, and on a two-core machine the threads a Numba kernel leaves spinning
take cores from the peer timed right after it. Set it before torch or Numba start, i.e.
here, before any benchmark module is imported: fair to the peer, whichever runs first.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

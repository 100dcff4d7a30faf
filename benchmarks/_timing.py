"""Side-by-side timing: run each contender in one process, report medians and ratios.

Usage::

    from benchmarks._timing import Contender, compare
    table = compare("GMM score, d=2", [
        Contender("numpy", lambda: score_np(x)),
        Contender("torch closed form", lambda: score_torch(xt)),
    ], repeat=7, baseline="numpy", work=len(x), work_unit="points")
    table.print()

Every contender is warmed up once (compilation, caches) before timing; then
``repeat`` rounds call each contender once in turn, and the median of its
``repeat`` times is reported with the ratio to the baseline and, when ``work``
is given, the throughput.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable


@dataclass
class Contender:
    name: str
    run: Callable[[], object]
    sync: Callable[[], None] | None = None  # e.g. torch.cuda.synchronize


@dataclass
class Row:
    name: str
    median_s: float
    min_s: float
    runs: int
    ratio_to_baseline: float
    throughput: float | None


@dataclass
class Table:
    title: str
    baseline: str
    work_unit: str
    rows: list[Row] = field(default_factory=list)
    machine: str = field(default_factory=lambda: f"{platform.machine()} {platform.processor()}")

    def print(self) -> None:
        width = max([38] + [len(r.name) for r in self.rows])
        print(f"\n== {self.title} (baseline: {self.baseline})")
        print(f"{'contender':{width}s} {'median':>12s} {'min':>12s} {'speed-up':>9s}"
              + (f" {self.work_unit + '/s':>14s}" if self.work_unit else ""))
        for r in self.rows:
            line = (f"{r.name:{width}s} {r.median_s * 1e3:10.3f}ms {r.min_s * 1e3:10.3f}ms "
                    f"{r.ratio_to_baseline:8.2f}x")
            if r.throughput is not None:
                line += f" {r.throughput:14.4g}"
            print(line)

    def as_dict(self) -> dict:
        return asdict(self)

    def save(self, path) -> None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        existing = json.loads(p.read_text()) if p.exists() else []
        existing.append(self.as_dict())
        p.write_text(json.dumps(existing, indent=2))


def _timed(c: Contender) -> float:
    t = time.perf_counter()
    c.run()
    if c.sync:
        c.sync()
    return time.perf_counter() - t


def compare(title: str, contenders: list[Contender], *, repeat: int = 5,
            baseline: str | None = None, work: float | None = None,
            work_unit: str = "") -> Table:
    """Time every contender in one process and tabulate medians and ratios.

    One warm-up call each, then ``repeat`` rounds that call every contender once
    in turn, so that a machine whose speed drifts (a shared VM) slows all of them
    alike instead of whichever was being timed at the time.
    """
    for c in contenders:
        _timed(c)
    results: dict = {c.name: [] for c in contenders}
    for _ in range(repeat):
        for c in contenders:
            results[c.name].append(_timed(c))
    base = baseline or contenders[0].name
    base_median = statistics.median(results[base])
    table = Table(title, base, work_unit)
    for c in contenders:
        ts = results[c.name]
        med = statistics.median(ts)
        table.rows.append(Row(c.name, med, min(ts), len(ts), base_median / med,
                              None if work is None else work / med))
    return table


def add_blas_threads_option(parser) -> None:
    """``--blas-threads N``: for benchmarks of many tiny BLAS products (see
    :func:`apply_blas_threads`)."""
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="set OPENBLAS/OMP/MKL_NUM_THREADS before numpy loads (on a busy "
                             "machine, multithreaded BLAS slows the many tiny products here)")


def apply_blas_threads(args) -> None:
    """Export ``args.blas_threads`` to the BLAS thread variables (before numpy is imported)."""
    import os

    if args.blas_threads is not None:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.blas_threads)

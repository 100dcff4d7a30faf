"""``make bench``: every CPU benchmark against its peer, in one table.

Each workload pairs one toytheory contender with one named peer (its settings in its
name: threads, method, solver). Both are checked to agree on the answer first, warmed up
once, then timed in ``rounds`` interleaved rounds (peer then toytheory in odd rounds,
toytheory then peer in even ones, so a machine whose speed drifts slows both alike). The
table gives, per workload: the peer's and toytheory's median seconds, the ratio
``peer / toytheory`` of the medians with its range over the rounds (each round's own
ratio), the target, and whether the target is met (the median ratio at or above the target
and, where the workload has a throughput target, the median throughput at or above it).

``--busy`` starts one CPU-burning process per core beside the benchmark (what a shared
machine does to it) and labels the table so. Results are also written as JSON to
``benchmarks/results/suite-<idle|busy>-<UTC time>.json``.

Run: ``.venv/bin/python -m benchmarks.suite [--quick] [--busy] [--rounds N] [-k WORD]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

RESULTS_DIR = Path(__file__).parent / "results"


@dataclass
class Workload:
    """One peer against one toytheory contender.

    ``setup(quick)`` returns ``(peer_fn, ours_fn, check_fn)``: the two zero-argument
    callables to time and a callable that raises ``AssertionError`` unless they agree.

    ``peer_scale``: a peer too slow to run at the workload's size (a per-item Python loop)
    runs on ``1 / peer_scale`` of the items and its times are multiplied by ``peer_scale``
    (linear extrapolation; the peer's name must say so). ``budget_s``: a workload whose
    target is a time, not a peer (``peer_fn`` is ``None``): the "peer" column is the budget,
    the ratio is ``budget_s / toytheory's time``, and the target 1 means "within budget".
    """

    key: str
    title: str
    peer: str
    ours: str
    target: float
    setup: Callable[[bool], tuple]
    work: Callable[[bool], float] | None = None
    unit: str = ""
    min_throughput: float | None = None
    note: str = ""
    max_rounds: int | None = None  # for a slow peer (torchsde: about a minute a round)
    peer_scale: float | Callable[[bool], float] = 1.0
    budget_s: float | None = None


@dataclass
class Outcome:
    key: str
    title: str
    peer: str
    ours: str
    peer_median_s: float
    ours_median_s: float
    ratio_median: float
    ratio_min: float
    ratio_max: float
    rounds: int
    target: float
    throughput: float | None
    unit: str
    min_throughput: float | None
    met: bool
    note: str = ""
    error: str | None = None
    budget_s: float | None = None


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(w: Workload, quick: bool, rounds: int) -> Outcome:
    """Check agreement, warm up, then time ``rounds`` interleaved rounds of ``w``."""
    if w.max_rounds is not None:
        rounds = min(rounds, w.max_rounds)
    peer, ours, check = w.setup(quick)
    check()
    if w.budget_s is not None:
        if peer is not None:
            raise ValueError(f"{w.key}: a budget workload has no peer function")

        def timer(fn):
            return w.budget_s if fn is None else _time(fn)
    else:
        scale = w.peer_scale(quick) if callable(w.peer_scale) else w.peer_scale

        def timer(fn):
            return _time(fn) * (scale if fn is peer else 1.0)
    if w.budget_s is None:  # warm-up (a budget workload's check already ran it once)
        timer(peer)
        timer(ours)
    tp, to, ratios = [], [], []
    for i in range(rounds):
        if i % 2 == 0:
            a, b = timer(peer), timer(ours)
        else:
            b, a = timer(ours), timer(peer)
        tp.append(a)
        to.append(b)
        ratios.append(a / b)
    pm, om = statistics.median(tp), statistics.median(to)
    ratio = pm / om
    thr = None if w.work is None else w.work(quick) / om
    met = ratio >= w.target and (w.min_throughput is None or (thr or 0) >= w.min_throughput)
    return Outcome(w.key, w.title, w.peer, w.ours, pm, om, ratio, min(ratios), max(ratios),
                   rounds, w.target, thr, w.unit, w.min_throughput, bool(met), w.note,
                   budget_s=w.budget_s)


def _burn(stop):  # pragma: no cover - runs in a child process
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x = (x * 1103515245 + 12345) & 0xFFFFFFFF


class BusyMachine:
    """One CPU-burning process per core while the ``with`` block runs."""

    def __init__(self, processes: int | None = None):
        self.processes = processes or os.cpu_count() or 2

    def __enter__(self):
        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()
        self._procs = [ctx.Process(target=_burn, args=(self._stop,), daemon=True)
                       for _ in range(self.processes)]
        for p in self._procs:
            p.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for p in self._procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
        return False


def format_table(outcomes: list[Outcome], label: str) -> str:
    head = (f"| workload | peer | toytheory | peer s | toytheory s | ratio (median) "
            f"| ratio range | target | met? |")
    lines = [f"### {label}", "", head, "|" + "---|" * 9]
    for o in outcomes:
        if o.error:
            lines.append(f"| {o.title} | {o.peer} | {o.ours} | – | – | – | – | "
                         f"{o.target:g}x | ERROR: {o.error} |")
            continue
        target = (f"<= {o.peer_median_s:g} s" if o.budget_s is not None
                  else f">= {o.target:g}x")
        if o.min_throughput is not None:
            target += f", >= {o.min_throughput:.3g} {o.unit}/s"
        thr = f" ({o.throughput:.3g} {o.unit}/s)" if o.throughput is not None else ""
        lines.append(
            f"| {o.title} | {o.peer} | {o.ours}{thr} | {o.peer_median_s:.4g} | "
            f"{o.ours_median_s:.4g} | {o.ratio_median:.2f}x | "
            f"[{o.ratio_min:.2f}, {o.ratio_max:.2f}] | {target} | "
            f"{'yes' if o.met else 'NO'} |")
    return "\n".join(lines)


def machine_description() -> dict:
    try:
        load = os.getloadavg()
    except OSError:  # pragma: no cover
        load = None
    return {"machine": platform.machine(), "processor": platform.processor(),
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "load_average_at_start": load}


def main(argv=None) -> int:
    from benchmarks.workloads import WORKLOADS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--busy", action="store_true",
                        help="run with one CPU-burning process per core beside it")
    parser.add_argument("--rounds", type=int, default=None,
                        help="interleaved rounds per workload (default 7; 2 with --quick)")
    parser.add_argument("-k", dest="keywords", action="append", default=None,
                        help="only workloads whose key contains this word (repeatable: any)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 7)
    if rounds < 1:
        parser.error(f"--rounds: must be >= 1 (got {rounds})")
    chosen = [w for w in WORKLOADS
              if args.keywords is None or any(k in w.key for k in args.keywords)]
    if not chosen:
        parser.error(f"-k: no workload key contains any of {args.keywords!r}; keys: "
                     + ", ".join(w.key for w in WORKLOADS))
    label = (f"{'busy' if args.busy else 'idle'} machine"
             f"{' (BusyMachine: one burner per core)' if args.busy else ''}"
             f"{', --quick sizes (not the targets)' if args.quick else ''}, {rounds} rounds")
    info = machine_description()
    outcomes = []
    ctx = BusyMachine() if args.busy else _Null()
    with ctx:
        for w in chosen:
            try:
                o = measure(w, args.quick, rounds)
            except Exception as exc:  # a broken workload is reported, not hidden
                o = Outcome(w.key, w.title, w.peer, w.ours, float("nan"), float("nan"),
                            float("nan"), float("nan"), float("nan"), 0, w.target, None,
                            w.unit, w.min_throughput, False, w.note,
                            error=f"{type(exc).__name__}: {exc}")
            outcomes.append(o)
            print(f"  {w.key}: " + (o.error or f"{o.ratio_median:.2f}x "
                                    f"[{o.ratio_min:.2f}, {o.ratio_max:.2f}] "
                                    f"(target {o.target:g}x) {'met' if o.met else 'NOT met'}"),
                  flush=True)
    table = format_table(outcomes, label)
    print("\n" + table)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"suite-{'busy' if args.busy else 'idle'}-{stamp}.json"
    path.write_text(json.dumps({"label": label, "quick": args.quick, "busy": args.busy,
                                "rounds": rounds, "when": stamp, "machine": info,
                                "outcomes": [asdict(o) for o in outcomes]}, indent=2))
    print(f"\nwritten to {path}")
    return 0 if all(o.error is None for o in outcomes) else 1


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    raise SystemExit(main())

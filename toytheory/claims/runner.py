"""Run claims serially, on a local process pool, or on a Dask cluster.

Every claim runs through :func:`execute_claim`, which never raises: a crash is
the verdict ``error`` with its traceback, and a claim that passes its tier's
time limit is stopped and reported as ``error`` with ``timed_out: true``.

How a claim is stopped:

- serially and on Dask, a soft deadline raises :class:`ClaimTimeout` (a
  ``BaseException``, so a check's ``except Exception`` cannot swallow it) at
  the next Python bytecode after the limit: ``SIGALRM`` in the main thread, an
  asynchronous exception in a worker thread. A single C call that runs far
  past the limit is stopped when it returns.
- on the process pool (``jobs > 1``, via ``pebble``), the same soft deadline
  runs in the worker, and the worker process is killed 15 s later if the
  claim still has not stopped; the pool replaces it and the run goes on.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from typing import Iterable

from .._random import derive_seed
from .evidence import Evidence
from .registry import Claim, Context

HARD_KILL_GRACE = 15.0


class ClaimTimeout(BaseException):
    """Raised inside a check that passed its time limit."""


class RunnerError(Exception):
    """A problem with the run itself (unreachable cluster, bad device): one line for the CLI."""


# --------------------------------------------------------------------------- deadlines

def _arm_deadline(seconds: float | None):
    """Arrange for ClaimTimeout to be raised in this thread after ``seconds``."""
    if not seconds or seconds <= 0:
        return lambda: None
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        def on_alarm(signum, frame):
            raise ClaimTimeout(f"passed its time limit of {seconds:g} s")

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)

        def disarm():
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

        return disarm
    import ctypes

    thread_id = threading.get_ident()
    done = threading.Event()

    def fire():
        if not done.is_set():
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                                       ctypes.py_object(ClaimTimeout))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()

    def disarm():
        done.set()
        timer.cancel()

    return disarm


# --------------------------------------------------------------------------- one claim

def _base_result(claim: Claim, tier: str, seed: int) -> dict:
    return {
        "id": claim.id,
        "paper": claim.paper,
        "statement": claim.statement,
        "kind": claim.kind,
        "source": claim.source,
        "reading": claim.reading,
        "library": claim.library,
        "area": claim.area,
        "tier": tier,
        "seed": seed,
        "witnesses": list(claim.witnesses),
        "verdict": "error",
        "message": "",
        "seconds": 0.0,
        "numbers": [],
        "tests": [],
        "figures": [],
        "notes": [],
        "referee": None,
        "headline": None,
        "timed_out": False,
        "traceback": None,
    }


def evidence_to_result(evidence: Evidence, base: dict) -> dict:
    """Fold an :class:`Evidence` into a result record (figures still as bytes)."""
    out = dict(base)
    head = evidence.headline
    out.update(
        verdict=evidence.verdict,
        message=evidence.message,
        witnesses=list(evidence.witnesses) or base["witnesses"],
        seed=evidence.seed,
        numbers=[n.as_dict() for n in evidence.numbers],
        tests=list(evidence.tests),
        notes=list(evidence.notes),
        referee=evidence.referee,
        headline=None if head is None else {"name": head.name, "text": head.describe(),
                                            "passed": head.passed},
        figures=[{"name": f.name, "caption": f.caption, "png": f.png}
                 for f in evidence.figures],
    )
    return out


def execute_claim(claim: Claim, tier: str, run_seed: int, device: str = "cpu",
                  timeout: float | None = None) -> dict:
    """Run one claim's check for ``tier``; never raises.

    Parameters
    ----------
    claim : Claim
    tier : {"quick", "full"}
    run_seed : int
        The run's seed; the claim's own seed is ``derive_seed(run_seed, claim.id)``.
    device : {"cpu", "cuda"}
    timeout : float, optional
        Seconds; default the claim's limit for the tier.
    """
    seed = derive_seed(run_seed, claim.id)
    result = _base_result(claim, tier, seed)
    limit = claim.timeout.get(tier) if timeout is None else timeout
    ctx = Context(claim.id, tier, seed, device, claim.witnesses)
    start = time.perf_counter()
    disarm = _arm_deadline(limit)
    try:
        try:
            evidence = claim.check(ctx, **claim.params(tier))
        finally:
            disarm()
        if not isinstance(evidence, Evidence):
            raise TypeError(f"check of {claim.id} returned {type(evidence).__name__}, "
                            "not Evidence")
        result = evidence_to_result(evidence, result)
        if result["verdict"] == "error":
            result["message"] = evidence.message
    except ClaimTimeout:
        result.update(verdict="error", timed_out=True,
                      message=f"stopped: passed its {tier} time limit of {limit:g} s")
    except Exception as exc:  # a crash is a verdict, not a crash of the run
        result.update(verdict="error", message=f"{type(exc).__name__}: {exc}".splitlines()[0],
                      traceback=traceback.format_exc())
    result["seconds"] = round(time.perf_counter() - start, 4)
    return result


def execute_catalog_claim(claim_id: str, tier: str, run_seed: int, device: str = "cpu",
                          timeout: float | None = None) -> dict:
    """:func:`execute_claim` for a claim of the catalog, looked up by id in this process.

    Workers (process pool, Dask) receive the id rather than the check function,
    so that checks built by factories or decorators need not be picklable.
    """
    from .registry import load_catalog

    return execute_claim(load_catalog()[claim_id], tier, run_seed, device, timeout)


def _task(claim: Claim):
    """The function and first argument that run ``claim`` in another process."""
    from .registry import REGISTRY

    if claim.id in REGISTRY and REGISTRY[claim.id] is claim:
        return execute_catalog_claim, claim.id
    return execute_claim, claim


def _limit_threads(threads: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        os.environ[var] = str(threads)


# --------------------------------------------------------------------------- progress

class _Progress:
    def __init__(self, total: int, tier: str, enabled: bool):
        self.bar = None
        self._shown = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=f"toytheory verify ({tier})", unit="claim",
                            file=sys.stderr, dynamic_ncols=True, leave=True)

    def running(self, ids: Iterable[str]) -> None:
        if self.bar is not None:
            ids = list(ids)
            text = ", ".join(ids[:2]) + (f" +{len(ids) - 2}" if len(ids) > 2 else "")
            text = f"running: {text}" if ids else ""
            if text != self._shown:
                self._shown = text
                self.bar.set_postfix_str(text, refresh=False)

    def done(self, result: dict) -> None:
        if self.bar is not None:
            self.bar.update(1)
            if result["verdict"] in ("fails", "error"):
                self.bar.write(f"  {result['verdict']}: {result['id']}: {result['message']}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str("", refresh=False)
            self.bar.close()


# --------------------------------------------------------------------------- modes

def _run_serial(claims, tier, seed, device, progress):
    results = []
    for c in claims:
        progress.running([c.id])
        r = execute_claim(c, tier, seed, device)
        progress.done(r)
        results.append(r)
    return results


def _pool_worker_init(threads: int) -> None:
    _limit_threads(threads)


def _run_pool(claims, tier, seed, device, jobs, progress):
    import multiprocessing
    from concurrent.futures import TimeoutError as FutureTimeout

    from pebble import ProcessExpired, ProcessPool

    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")
    results: dict[str, dict] = {}
    with ProcessPool(max_workers=jobs, context=context, initializer=_pool_worker_init,
                     initargs=(threads,)) as pool:
        futures = []
        for c in claims:
            limit = c.timeout.get(tier)
            fn, first = _task(c)
            fut = pool.schedule(fn, args=(first, tier, seed, device, limit),
                                timeout=None if not limit else limit + HARD_KILL_GRACE)
            futures.append((c, fut))
        pending = list(futures)
        while pending:
            progress.running([c.id for c, _ in pending[:jobs]])
            # wait for whichever finishes first, polling cheaply
            finished = [(cc, ff) for cc, ff in pending if ff.done()]
            if not finished:
                time.sleep(0.05)
                continue
            for cc, ff in finished:
                pending.remove((cc, ff))
                try:
                    r = ff.result()
                except FutureTimeout:
                    r = _base_result(cc, tier, derive_seed(seed, cc.id))
                    limit = cc.timeout.get(tier)
                    r.update(timed_out=True, seconds=limit + HARD_KILL_GRACE,
                             message=f"killed: passed its {tier} time limit of {limit:g} s "
                                     f"and did not stop within {HARD_KILL_GRACE:g} s")
                except ProcessExpired as exc:
                    r = _base_result(cc, tier, derive_seed(seed, cc.id))
                    r.update(message=f"worker process died (exit code {exc.exitcode})")
                except Exception as exc:  # pickling problems and the like
                    r = _base_result(cc, tier, derive_seed(seed, cc.id))
                    r.update(message=f"{type(exc).__name__}: {exc}".splitlines()[0],
                             traceback=traceback.format_exc())
                results[cc.id] = r
                progress.done(r)
    return [results[c.id] for c in claims]


def _dask_client(address: str, jobs: int):
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise RunnerError("--dask needs the 'dask' extra: pip install 'toytheory[dask]'") from exc
    if address == "local":
        cluster = LocalCluster(n_workers=max(jobs, 1), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        return Client(cluster), cluster
    try:
        return Client(address, timeout="10s"), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise RunnerError(f"--dask: cannot reach a Dask scheduler at {address} "
                          f"({type(exc).__name__})") from None


def _run_dask(claims, tier, seed, device, address, jobs, progress):
    from distributed import as_completed

    client, cluster = _dask_client(address, jobs)
    try:
        futures = {}
        for c in claims:
            fn, first = _task(c)
            fut = client.submit(fn, first, tier, seed, device, c.timeout.get(tier),
                                pure=False, key=f"toytheory-{c.id}-{seed}")
            futures[fut.key] = (c, fut)
        results: dict[str, dict] = {}
        remaining = [c.id for c in claims]
        progress.running(remaining[: max(jobs, 1)])
        for fut in as_completed([f for _, f in futures.values()]):
            c, _ = futures[fut.key]
            try:
                r = fut.result()
            except Exception as exc:  # the task itself never raises; this is the cluster
                r = _base_result(c, tier, derive_seed(seed, c.id))
                r.update(message=f"dask: {type(exc).__name__}: {exc}".splitlines()[0],
                         traceback=traceback.format_exc())
            results[c.id] = r
            remaining.remove(c.id)
            progress.done(r)
            progress.running(remaining[: max(jobs, 1)])
        return [results[c.id] for c in claims]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_claims(claims: list[Claim], *, tier: str = "quick", seed: int = 0, device: str = "cpu",
               jobs: int = 1, dask: str | None = None, progress: bool = True) -> list[dict]:
    """Run ``claims`` and return their result records, in the given order.

    Parameters
    ----------
    claims : list of Claim
    tier : {"quick", "full"}
    seed : int
        The run seed.
    device : {"cpu", "cuda"}
    jobs : int
        1: serial, in this process. More: a local process pool of that size
        (or, with ``dask="local"``, the number of Dask workers).
    dask : str, optional
        ``"local"`` starts a LocalCluster; ``"tcp://HOST:PORT"`` uses a
        running scheduler.
    progress : bool
        Show a progress bar on stderr.
    """
    bar = _Progress(len(claims), tier, progress)
    try:
        if dask:
            return _run_dask(claims, tier, seed, device, dask, jobs, bar)
        if jobs > 1 and len(claims) > 1:
            return _run_pool(claims, tier, seed, device, jobs, bar)
        return _run_serial(claims, tier, seed, device, bar)
    finally:
        bar.close()

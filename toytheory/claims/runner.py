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

Time limits guard against hangs, not against a slow machine: a claim's limit
is a multiple (default :data:`DEFAULT_MULTIPLIER`) of its typical time, recorded
in ``typical_seconds.json`` beside this module, and never less than
:data:`MIN_LIMIT` for its tier; a claim with no recorded time gets its declared
limit (default 90 s quick, 1 h full). ``--time-limit`` or the environment
variable :data:`TIME_LIMIT_ENV` change every limit: ``300`` (seconds, for every
claim), ``20x`` (a multiple of the typical time) or ``none``. See
:func:`time_limit`.

A claim stopped by an error (a crash or its limit) keeps the numbers its check
recorded before it stopped, and carries a ``hint``: how long it usually takes
and how to raise its limit, or how to rerun it alone.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from typing import Iterable

import json
import math
from functools import lru_cache
from pathlib import Path

from .._random import derive_seed
from .evidence import Evidence
from .registry import DEFAULT_TIMEOUT, Claim, Context

HARD_KILL_GRACE = 15.0
TIME_LIMIT_ENV = "TOYTHEORY_TIME_LIMIT"
DEFAULT_MULTIPLIER = 10.0
"""A claim's limit is this many times its typical time (on an idle two-core machine)."""
MIN_LIMIT = {"quick": 60.0, "full": 600.0}
"""The least limit a typical time gives, so that a claim of a fraction of a second still
has room for imports and a busy machine."""
TYPICAL_SECONDS_FILE = Path(__file__).with_name("typical_seconds.json")


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


# --------------------------------------------------------------------------- limits

@lru_cache(maxsize=None)
def _typical_table() -> dict:
    try:
        data = json.loads(TYPICAL_SECONDS_FILE.read_text())
    except (OSError, ValueError):
        return {}
    return {tier: dict(data.get(tier, {})) for tier in ("quick", "full")}


def typical_seconds(claim_id: str, tier: str) -> float | None:
    """The claim's recorded typical time for ``tier`` (seconds, idle two-core machine)."""
    value = _typical_table().get(tier, {}).get(claim_id)
    return None if value is None else float(value)


def _round_up(seconds: float) -> float:
    """Round up to two significant digits, at least 0.1 s."""
    x = max(float(seconds), 0.1)
    step = 10.0 ** (math.floor(math.log10(x)) - 1)
    return round(math.ceil(x / step - 1e-9) * step, 6)


def record_typical_seconds(records: list[dict], tier: str,
                           path: str | os.PathLike | None = None) -> dict:
    """Write the measured times of ``records`` into the typical-times file, for ``tier``.

    Claims that ended in ``error`` (a crash, a time limit) keep their old
    entry; the others get their time, rounded up to two significant digits.
    Measure on an idle machine, serially (``--jobs 1``): the limits are
    multiples of these times.

    Returns
    -------
    dict
        The ids written, with their times.
    """
    if tier not in ("quick", "full"):
        raise ValueError(f"tier: must be 'quick' or 'full' (got {tier!r})")
    target = Path(path) if path is not None else TYPICAL_SECONDS_FILE
    try:
        data = json.loads(target.read_text())
    except (OSError, ValueError):
        data = {}
    table = dict(data.get(tier, {}))
    written = {r["id"]: _round_up(r["seconds"]) for r in records if r["verdict"] != "error"}
    table.update(written)
    data[tier] = dict(sorted(table.items()))
    data.setdefault("quick" if tier == "full" else "full", {})
    target.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    _typical_table.cache_clear()
    return written


def parse_time_limit(spec, name: str = "--time-limit"):
    """Read a time-limit setting.

    Parameters
    ----------
    spec : str, float or None
        ``"300"`` or ``300``: that many seconds for every claim; ``"20x"``:
        that multiple of each claim's typical time; ``"none"`` (or ``"0"``):
        no limit; None: the default (``10x``).
    name : str
        How to name the setting in an error (the option or the variable).

    Returns
    -------
    (kind, value)
        ``("multiplier", float)``, ``("seconds", float)`` or ``("none", None)``.

    Raises
    ------
    ValueError
        ``NAME: ...`` for anything else (negative, not a number).
    """
    if spec is None:
        return ("multiplier", DEFAULT_MULTIPLIER)
    text = str(spec).strip().lower()
    if text in ("none", "off", "0", "0x"):
        return ("none", None)
    kind = "seconds"
    if text.endswith("x") or text.startswith("x"):
        kind, text = "multiplier", text.strip("x").strip()
    elif text.endswith("s"):
        text = text[:-1]
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}: must be seconds (300), a multiple of the typical time "
                         f"(20x) or 'none' (got {spec!r})") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: must be positive (got {spec!r})")
    return (kind, value)


def time_limit_setting(spec=None):
    """The setting from ``spec`` (the option), else ``$TOYTHEORY_TIME_LIMIT``, else 10x."""
    if spec is not None:
        return parse_time_limit(spec, "--time-limit")
    env = os.environ.get(TIME_LIMIT_ENV)
    if env is not None and env.strip():
        return parse_time_limit(env, TIME_LIMIT_ENV)
    return parse_time_limit(None)


def time_limit(claim: Claim, tier: str, setting=None) -> float | None:
    """The wall-clock limit of ``claim`` in ``tier``, in seconds (None: no limit).

    With a multiplier ``m`` (default 10): ``m`` times the claim's typical time,
    at least :data:`MIN_LIMIT`; a claim without a recorded time keeps the limit
    it declares (default 90 s quick, 1 h full), scaled by ``m / 10``. A limit
    the claim declares itself (``timeout=`` at registration) is also the
    limit at ``10x``, scaled the same way. With seconds: that, for every claim.
    """
    kind, value = setting if setting is not None else time_limit_setting()
    if kind == "none":
        return None
    if kind == "seconds":
        return float(value)
    declared = claim.timeout.get(tier, DEFAULT_TIMEOUT.get(tier))
    typical = typical_seconds(claim.id, tier)
    if declared != DEFAULT_TIMEOUT.get(tier) or typical is None:
        base = declared
    else:
        base = max(DEFAULT_MULTIPLIER * typical, MIN_LIMIT.get(tier, 60.0))
    return round(base * value / DEFAULT_MULTIPLIER, 3)


def _timeout_hint(claim_id: str, tier: str, limit: float, seed: int | None = None) -> str:
    typical = typical_seconds(claim_id, tier)
    usual = (f"it usually takes {typical:g} s (idle two-core machine)" if typical is not None
             else "no typical time is recorded for it")
    raise_to = max(2 * limit, 60.0)
    return (f"{usual}; its limit was {limit:g} s. A busy machine can need more: raise the "
            f"limit with --time-limit {raise_to:g} (seconds) or --time-limit 30x (a multiple "
            f"of the typical time), or set {TIME_LIMIT_ENV}=30x; --time-limit none removes "
            "it")


def _error_hint(claim_id: str, tier: str) -> str:
    return (f"rerun it alone to see it fail: toytheory verify --tier {tier} -k {claim_id} "
            "(with the same --seed); the traceback is below")


# --------------------------------------------------------------------------- one claim

class _RecordingContext(Context):
    """A Context that remembers the evidence its check builds, so that a claim stopped
    by an error still reports the numbers it recorded before it stopped."""

    def evidence(self) -> Evidence:
        ev = super().evidence()
        self.extra.setdefault("_evidence", []).append(ev)
        return ev

    def last_numbers(self) -> list[dict]:
        made = self.extra.get("_evidence") or []
        return [n.as_dict() for n in made[-1].numbers] if made else []

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
        "hint": "",
        "seconds": 0.0,
        "time_limit": None,
        "typical_seconds": typical_seconds(claim.id, tier),
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


_DEFAULT = object()


def execute_claim(claim: Claim, tier: str, run_seed: int, device: str = "cpu",
                  timeout=_DEFAULT) -> dict:
    """Run one claim's check for ``tier``; never raises.

    Parameters
    ----------
    claim : Claim
    tier : {"quick", "full"}
    run_seed : int
        The run's seed; the claim's own seed is ``derive_seed(run_seed, claim.id)``.
    device : {"cpu", "cuda"}
    timeout : float or None, optional
        Seconds (None: no limit); default :func:`time_limit` of the claim.
    """
    seed = derive_seed(run_seed, claim.id)
    result = _base_result(claim, tier, seed)
    limit = time_limit(claim, tier) if timeout is _DEFAULT else timeout
    result["time_limit"] = limit
    ctx = _RecordingContext(claim.id, tier, seed, device, claim.witnesses)
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
        result.update(verdict="error", timed_out=True, numbers=ctx.last_numbers(),
                      message=f"stopped: passed its {tier} time limit of {limit:g} s",
                      hint=_timeout_hint(claim.id, tier, limit))
    except Exception as exc:  # a crash is a verdict, not a crash of the run
        result.update(verdict="error", message=f"{type(exc).__name__}: {exc}".splitlines()[0],
                      traceback=traceback.format_exc(), numbers=ctx.last_numbers(),
                      hint=_error_hint(claim.id, tier))
    result["seconds"] = round(time.perf_counter() - start, 4)
    return result


def execute_catalog_claim(claim_id: str, tier: str, run_seed: int, device: str = "cpu",
                          timeout=_DEFAULT) -> dict:
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
    """Progress on stderr: a bar on a terminal; off a terminal (a log, CI), one line per
    finished claim and no carriage returns."""

    def __init__(self, total: int, tier: str, enabled: bool, stream=None):
        self.bar = None
        self._shown = None
        self.stream = stream if stream is not None else sys.stderr
        self.lines = False
        self.total, self.count = total, 0
        if not enabled:
            return
        isatty = getattr(self.stream, "isatty", None)
        if isatty is not None and isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=f"toytheory verify ({tier})", unit="claim",
                            file=self.stream, dynamic_ncols=True, leave=True)
        else:
            self.lines = True

    def running(self, ids: Iterable[str]) -> None:
        if self.bar is not None:
            ids = list(ids)
            text = ", ".join(ids[:2]) + (f" +{len(ids) - 2}" if len(ids) > 2 else "")
            text = f"running: {text}" if ids else ""
            if text != self._shown:
                self._shown = text
                self.bar.set_postfix_str(text, refresh=False)

    def done(self, result: dict) -> None:
        self.count += 1
        if self.bar is not None:
            self.bar.update(1)
            if result["verdict"] in ("fails", "error"):
                self.bar.write(f"  {result['verdict']}: {result['id']}: {result['message']}")
        elif self.lines:
            width = len(str(self.total))
            line = (f"[{self.count:{width}d}/{self.total}] {result['verdict']:12s} "
                    f"{result['id']} ({result['seconds']:.1f} s)")
            if result["verdict"] in ("fails", "error"):
                line += f": {result['message']}"
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str("", refresh=False)
            self.bar.close()


# --------------------------------------------------------------------------- modes

def _run_serial(claims, tier, seed, device, progress, limits):
    results = []
    for c in claims:
        progress.running([c.id])
        r = execute_claim(c, tier, seed, device, limits[c.id])
        progress.done(r)
        results.append(r)
    return results


def _pool_worker_init(threads: int) -> None:
    _limit_threads(threads)


def _run_pool(claims, tier, seed, device, jobs, progress, limits):
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
            limit = limits[c.id]
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
                    limit = limits[cc.id]
                    r.update(timed_out=True, seconds=limit + HARD_KILL_GRACE, time_limit=limit,
                             message=f"killed: passed its {tier} time limit of {limit:g} s "
                                     f"and did not stop within {HARD_KILL_GRACE:g} s "
                                     "(its numbers were lost with the worker)",
                             hint=_timeout_hint(cc.id, tier, limit))
                except ProcessExpired as exc:
                    r = _base_result(cc, tier, derive_seed(seed, cc.id))
                    r.update(message=f"worker process died (exit code {exc.exitcode})",
                             time_limit=limits[cc.id], hint=_error_hint(cc.id, tier))
                except Exception as exc:  # pickling problems and the like
                    r = _base_result(cc, tier, derive_seed(seed, cc.id))
                    r.update(message=f"{type(exc).__name__}: {exc}".splitlines()[0],
                             traceback=traceback.format_exc(), time_limit=limits[cc.id])
                results[cc.id] = r
                progress.done(r)
    return [results[c.id] for c in claims]


DASK_CONNECT_TIMEOUT = 4.0
"""Seconds to wait for a Dask scheduler before giving up (the whole attempt stays < 5 s)."""


def _dask_client(address: str, jobs: int):
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise RunnerError("--dask needs the 'dask' extra: pip install 'toytheory[dask]'") from exc
    if address == "local":
        cluster = LocalCluster(n_workers=max(jobs, 1), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        return Client(cluster), cluster
    print(f"toytheory: waiting up to {DASK_CONNECT_TIMEOUT:g} s for the Dask scheduler at "
          f"{address} ...", file=sys.stderr, flush=True)
    start = time.monotonic()
    try:
        import dask.config

        with dask.config.set({"distributed.comm.timeouts.connect":
                              f"{DASK_CONNECT_TIMEOUT:g}s"}):
            return Client(address, timeout=f"{DASK_CONNECT_TIMEOUT:g}s"), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise RunnerError(f"--dask: cannot reach a Dask scheduler at {address} "
                          f"({type(exc).__name__} after {time.monotonic() - start:.1f} s)"
                          ) from None


def _run_dask(claims, tier, seed, device, address, jobs, progress, limits):
    from distributed import as_completed

    client, cluster = _dask_client(address, jobs)
    try:
        futures = {}
        for c in claims:
            fn, first = _task(c)
            fut = client.submit(fn, first, tier, seed, device, limits[c.id],
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
               jobs: int = 1, dask: str | None = None, progress: bool = True,
               time_limit_spec=None) -> list[dict]:
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
        running scheduler (given up after :data:`DASK_CONNECT_TIMEOUT` s).
    progress : bool
        Show progress on stderr: a bar on a terminal, one line per finished
        claim otherwise.
    time_limit_spec : str or float, optional
        ``--time-limit``: seconds, a multiple ``"20x"`` of the typical time, or
        ``"none"``; default ``$TOYTHEORY_TIME_LIMIT``, else ``10x`` (see
        :func:`time_limit`).

    Raises
    ------
    ValueError
        A bad ``time_limit_spec`` or ``$TOYTHEORY_TIME_LIMIT``.
    RunnerError
        The run could not start (an unreachable Dask scheduler).
    """
    setting = time_limit_setting(time_limit_spec)
    limits = {c.id: time_limit(c, tier, setting) for c in claims}
    bar = _Progress(len(claims), tier, progress)
    try:
        if dask:
            return _run_dask(claims, tier, seed, device, dask, jobs, bar, limits)
        if jobs > 1 and len(claims) > 1:
            return _run_pool(claims, tier, seed, device, jobs, bar, limits)
        return _run_serial(claims, tier, seed, device, bar, limits)
    finally:
        bar.close()

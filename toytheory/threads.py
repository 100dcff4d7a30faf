"""Thread control for code paths made of many small BLAS or torch calls.

A mixture score over 2·10⁵ points in d = 64 is a few hundred products of 512 × 64 by
64 × 512 matrices. With the BLAS library's default threads, each product wakes and
synchronises every thread; on a two-core machine with two other busy processes this made
the numpy score ten times slower (9.6 s against 0.95 s with one BLAS thread, measured while
the machine's load average was 5), while on an idle machine one thread costs about 15 %
(0.51 s against 0.45 s). Neither setting wins on both machines, so the default policy,
``"auto"``, looks at the machine: it counts the runnable tasks that are not this process's
own (:func:`busy_cores`, a snapshot of ``/proc/loadavg`` and ``/proc/self/task``, cached for
:data:`LOAD_CACHE_SECONDS`) and

- keeps the library defaults (all cores) when no other task is runnable on this process's
  cores, i.e. every core is free;
- otherwise runs the bounded paths with as many threads as there are free cores, at least
  one (two cores, two busy processes beside us: one thread).

The policy is chosen by

- the environment variable ``TOYTHEORY_THREADS``: ``auto`` (default), ``bounded`` (always
  one thread), ``default`` (leave every library's own thread settings alone, always), or a
  positive integer (that many threads in the bounded paths, always);
- :func:`set_thread_policy` at run time (the same values).

Only the paths that are made of many small calls use :func:`bounded_threads`; large single
products (one big matrix product, an eigendecomposition) keep the library's threads.
:func:`effective_threads` says what the next bounded block will use.

Paths whose points split into independent chunks (the mixture scores) instead run the
chunks on worker threads with one BLAS/torch thread each (:func:`parallel_map`,
:func:`chunk_workers`): the workers never wait for each other, so under ``"auto"`` they use
every usable core whatever the load; ``"default"`` runs the chunks in one thread with the
library's threads, a forced count uses that many workers.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

_ENV = "TOYTHEORY_THREADS"
AUTO = "auto"
LOAD_CACHE_SECONDS = 0.5
"""How long one load snapshot is reused (reading it costs about 50 µs)."""
_lock = threading.Lock()
_state = {"policy": None, "controller": None, "load": None}


def _parse(value):
    """``"auto"``, ``None`` for the library defaults, or the bounded thread count."""
    if isinstance(value, bool):
        raise ValueError(f"policy: must be 'auto', 'bounded', 'default' or a positive "
                         f"integer (got {value!r})")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"policy: a thread count must be >= 1 (got {value})")
        return value
    if not isinstance(value, str):
        raise ValueError(f"policy: must be 'auto', 'bounded', 'default' or a positive "
                         f"integer (got {value!r})")
    text = value.strip().lower()
    if text in ("", AUTO):
        return AUTO
    if text == "bounded":
        return 1
    if text == "default":
        return None
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise ValueError(f"policy: must be 'auto', 'bounded', 'default' or a positive integer "
                     f"(got {value!r}; from {_ENV} if set there)")


def thread_policy():
    """The configured policy: ``"auto"``, a thread count, or ``None`` (library defaults)."""
    if _state["policy"] is None:
        _state["policy"] = ("n", _parse(os.environ.get(_ENV, AUTO)))
    return _state["policy"][1]


def set_thread_policy(policy) -> None:
    """Set the thread policy of the bounded paths.

    Parameters
    ----------
    policy : {"auto", "bounded", "default"} or int
        ``"auto"``: library defaults while every core is free, else one thread per free
        core (at least one); ``"bounded"``: one thread; an integer ``n >= 1``: ``n``
        threads; ``"default"``: leave the BLAS and torch thread settings as they are.

    Raises
    ------
    ValueError
        Naming ``policy`` when it is none of these.
    """
    _state["policy"] = ("n", _parse(policy))


def usable_cores() -> int:
    """The cores this process may run on (``os.sched_getaffinity``, else ``os.cpu_count``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _read_load():
    """``(runnable tasks system-wide, runnable threads of this process)`` now, or ``None``.

    Linux: the fourth field of ``/proc/loadavg`` ("running/total") and the state letter of
    each ``/proc/self/task/*/stat``. Elsewhere: ``None``.
    """
    try:
        with open("/proc/loadavg") as fh:
            running = int(fh.read().split()[3].split("/")[0])
        own = 0
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat") as fh:
                    # "pid (comm) S ...": the state follows the last ')'
                    own += fh.read().rpartition(")")[2].split()[0] == "R"
            except OSError:  # the thread ended meanwhile
                continue
        return running, own
    except (OSError, ValueError, IndexError):
        return None


def busy_cores() -> float:
    """How many of this machine's runnable tasks belong to other processes.

    A snapshot (``/proc/loadavg``'s running count less this process's running threads),
    cached for :data:`LOAD_CACHE_SECONDS`; where ``/proc`` is missing, the one-minute load
    average less one (this process). Never negative.
    """
    now = time.monotonic()
    cached = _state["load"]
    if cached is not None and now - cached[0] < LOAD_CACHE_SECONDS:
        return cached[1]
    reading = _read_load()
    if reading is not None:
        others = float(max(0, reading[0] - max(reading[1], 1)))
    else:  # pragma: no cover - not Linux
        try:
            others = max(0.0, os.getloadavg()[0] - 1.0)
        except OSError:
            others = 0.0
    _state["load"] = (now, others)
    return others


def threads_for_load(cores: int, others: float) -> int | None:
    """The ``"auto"`` decision: ``None`` (library defaults) when ``others`` (runnable tasks
    of other processes) leaves every one of ``cores`` free, else the free cores, at least 1.

    >>> threads_for_load(2, 0), threads_for_load(2, 1), threads_for_load(2, 2)
    (None, 1, 1)
    >>> threads_for_load(8, 3)
    5
    """
    if cores < 1:
        raise ValueError(f"cores: must be >= 1 (got {cores})")
    if others < 0:
        raise ValueError(f"others: must be >= 0 (got {others})")
    free = cores - int(round(others))
    if free >= cores:
        return None
    return max(1, free)


def effective_threads() -> int | None:
    """The thread count the next :func:`bounded_threads` block uses (``None``: library
    defaults), after resolving ``"auto"`` against the current load."""
    policy = thread_policy()
    if policy == AUTO:
        return threads_for_load(usable_cores(), busy_cores())
    return policy


def _controller():
    """A cached ``ThreadpoolController`` (about 20 µs a limit, against 400 µs for
    ``threadpool_limits``), rebuilt when modules were imported since it was made (a new
    module may have loaded another BLAS, e.g. torch's or scipy's)."""
    import sys

    stamp = len(sys.modules)
    cached = _state["controller"]
    if cached is None or cached[0] != stamp:
        with _lock:
            from threadpoolctl import ThreadpoolController

            _state["controller"] = (len(sys.modules), ThreadpoolController())
    return _state["controller"][1]


@contextmanager
def bounded_threads(torch_too: bool = False, small: bool = False):
    """Run the block with the policy's thread count for BLAS (and torch CPU ops); the
    ``with`` target is that count (``None``: library defaults).

    Does nothing when :func:`effective_threads` is ``None`` (the ``"default"`` policy, or
    ``"auto"`` on a machine with every core free). Costs about 20 µs (plus about 50 µs
    every :data:`LOAD_CACHE_SECONDS` under ``"auto"``). ``small=True`` marks a block whose
    products are all too small for threads to pay even on an idle machine (a sequential
    sampler's matrix-vector products): under ``"auto"`` it runs with one thread whatever
    the load.
    """
    n = 1 if small and thread_policy() == AUTO else effective_threads()
    if n is None:
        yield None
        return
    torch = None
    before = None
    if torch_too:
        import sys

        torch = sys.modules.get("torch")
        if torch is not None:
            before = torch.get_num_threads()
            if before != n:
                torch.set_num_threads(n)
    try:
        with _controller().limit(limits=n, user_api="blas"):
            yield n
    finally:
        if torch is not None and before is not None and before != n:
            torch.set_num_threads(before)


def chunk_workers() -> int:
    """Worker threads for a path that splits its points into independent chunks.

    Independent chunks need no synchronisation between threads (unlike a multithreaded BLAS
    call, whose threads meet at every product), so a busy machine costs them only their fair
    share of the cores: under ``"auto"`` they use every usable core (:func:`usable_cores`),
    whatever the load. A forced count is used as given; ``"default"`` runs them one at a time
    with the library's own threads (the behaviour before this policy existed).
    """
    policy = thread_policy()
    if policy == AUTO:
        return usable_cores()
    return 1 if policy is None else policy


_pools: dict[int, object] = {}
_in_worker = threading.local()


def _worker_init():
    _in_worker.active = True


def parallel_map(fn, items, workers: int, torch_too: bool = False):
    """``[fn(item) for item in items]``, on ``workers`` threads, each with one BLAS thread
    (and, with ``torch_too``, torch's CPU ops on one thread each).

    The items are handed out one at a time (a worker slowed by a busy core simply takes
    fewer). With ``workers <= 1``, fewer than two items, or when called from inside a
    worker (no nested pools), runs in this thread under ``bounded_threads(small=True)``.
    ``fn`` must release the GIL for most of its time (numpy products and ufuncs, torch ops
    do) to gain; torch's grad mode is per thread, so ``fn`` must not need this thread's.
    """
    items = list(items)
    if workers <= 1 or len(items) < 2 or getattr(_in_worker, "active", False):
        # under "auto" one BLAS thread here too, so the answer (to the last bit) never
        # depends on the load
        with bounded_threads(torch_too=torch_too, small=True):
            return [fn(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    workers = min(int(workers), len(items))
    with _lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = _pools[workers] = ThreadPoolExecutor(
                max_workers=workers, thread_name_prefix="toytheory", initializer=_worker_init)
    torch = None
    if torch_too:
        import sys

        torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    if before is not None and before != 1:
        torch.set_num_threads(1)
    try:
        with _controller().limit(limits=1, user_api="blas"):
            return list(pool.map(fn, items))
    finally:
        if before is not None and before != 1:
            torch.set_num_threads(before)

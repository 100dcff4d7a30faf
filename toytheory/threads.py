"""Thread control for code paths made of many small BLAS or torch calls.

A mixture score over 2·10⁵ points in d = 64 is a few hundred products of 512 × 64 by
64 × 512 matrices. With the BLAS library's default threads, each product wakes and
synchronises every thread; on a two-core machine with two other busy processes this made
the numpy score ten times slower (9.6 s against 0.95 s with one BLAS thread, measured while
the machine's load average was 5), while on an idle machine one thread costs about 15 %
(0.51 s against 0.45 s). toytheory therefore runs such paths with one BLAS (and torch CPU)
thread by default: the ``"bounded"`` policy.

The policy is chosen by

- the environment variable ``TOYTHEORY_THREADS``: ``bounded`` (default), ``default``
  (leave every library's own thread settings alone), or a positive integer (that many
  threads in the bounded paths);
- :func:`set_thread_policy` at run time (the same values).

Only the paths that are made of many small calls use :func:`bounded_threads`; large single
products (one big matrix product, an eigendecomposition) keep the library's threads.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager

_ENV = "TOYTHEORY_THREADS"
_lock = threading.Lock()
_state = {"policy": None, "controller": None}


def _parse(value) -> int | None:
    """``None`` for the library defaults, else the bounded thread count."""
    if isinstance(value, bool):
        raise ValueError(f"policy: must be 'bounded', 'default' or a positive integer "
                         f"(got {value!r})")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"policy: a thread count must be >= 1 (got {value})")
        return value
    if not isinstance(value, str):
        raise ValueError(f"policy: must be 'bounded', 'default' or a positive integer "
                         f"(got {value!r})")
    text = value.strip().lower()
    if text in ("", "bounded"):
        return 1
    if text == "default":
        return None
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise ValueError(f"policy: must be 'bounded', 'default' or a positive integer "
                     f"(got {value!r}; from {_ENV} if set there)")


def thread_policy() -> int | None:
    """The current policy: the bounded thread count, or ``None`` for library defaults."""
    if _state["policy"] is None:
        _state["policy"] = ("n", _parse(os.environ.get(_ENV, "bounded")))
    return _state["policy"][1]


def set_thread_policy(policy) -> None:
    """Set the thread policy of the bounded paths.

    Parameters
    ----------
    policy : {"bounded", "default"} or int
        ``"bounded"``: one thread; an integer ``n >= 1``: ``n`` threads; ``"default"``:
        leave the BLAS and torch thread settings as they are.

    Raises
    ------
    ValueError
        Naming ``policy`` when it is none of these.
    """
    _state["policy"] = ("n", _parse(policy))


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
def bounded_threads(torch_too: bool = False):
    """Run the block with the policy's thread count for BLAS (and torch CPU ops).

    Does nothing under the ``"default"`` policy. Costs about 20 µs.
    """
    n = thread_policy()
    if n is None:
        yield
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
            yield
    finally:
        if torch is not None and before is not None and before != n:
            torch.set_num_threads(before)

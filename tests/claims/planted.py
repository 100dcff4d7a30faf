"""Claims with known outcomes, in a private registry, for testing the runner and report.

Power of every test that runs them: deterministic — each verdict follows from fixed
numbers (1 + 1 = 2, 2 + 2 != 5, 1.0 vs 1.1 at atol 1e-3, a raised error, a sleep past a 1 s
limit); the one draw (``planted.seed.reports_seed``) is only recorded, never judged."""

from __future__ import annotations

import time

from matplotlib.figure import Figure

from toytheory.claims import Registry, claim

PLANTED = Registry()
PAPER = "toytheory: calibration of its own statistical tests"


@claim("planted.verdict.holds", paper=PAPER, kind="derived",
       statement="1 + 1 = 2.", witnesses=("exact",),
       quick={"x": 1}, registry=PLANTED)
def holds(ctx, x):
    ev = ctx.evidence()
    ev.equal("1 + 1", x + 1, 2, headline=True)
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [0, 1])
    ev.figure("line", fig, caption="a line")
    return ev


@claim("planted.verdict.refuted", paper=PAPER, kind="derived",
       statement="2 + 2 = 5.", witnesses=("exact",),
       quick={}, registry=PLANTED)
def refuted(ctx):
    ev = ctx.evidence()
    ev.equal("witness agrees with itself", 4, 4)
    ev.equal("2 + 2", 2 + 2, 5, role="statement")
    return ev


@claim("planted.verdict.fails", paper=PAPER, kind="derived",
       statement="Two witnesses agree.",
       witnesses=("exact", "simulated"), quick={}, registry=PLANTED)
def fails(ctx):
    ev = ctx.evidence()
    ev.close("exact vs simulated", 1.0, 1.1, atol=1e-3)
    return ev


@claim("planted.verdict.error", paper=PAPER, kind="derived",
       statement="Crashes.", witnesses=("exact",),
       quick={}, registry=PLANTED)
def error(ctx):
    raise RuntimeError("planted crash")


@claim("planted.verdict.empty", paper=PAPER, kind="derived",
       statement="Measures nothing.",
       witnesses=("exact",), quick={}, registry=PLANTED)
def empty(ctx):
    ev = ctx.evidence()
    ev.record("something", 1.0)
    return ev


@claim("planted.timing.sleeps", paper=PAPER, kind="derived",
       statement="Never ends in time.",
       witnesses=("exact",), quick={"seconds": 60}, timeout={"quick": 1.0}, registry=PLANTED)
def sleeps(ctx, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:  # a Python loop: the soft deadline stops it
        try:
            time.sleep(0.01)
        except Exception:  # a check that swallows exceptions must still be stopped
            pass
    ev = ctx.evidence()
    ev.equal("unreachable", 1, 1)
    return ev


@claim("planted.timing.full_only", paper=PAPER, kind="derived",
       statement="Only in the full tier.",
       witnesses=("exact",), full={}, registry=PLANTED)
def full_only(ctx):
    ev = ctx.evidence()
    ev.equal("x", 1, 1)
    return ev


@claim("planted.seed.reports_seed", paper=PAPER, kind="derived",
       statement="Seeds derive from the run seed.",
       witnesses=("simulated",), quick={}, registry=PLANTED)
def reports_seed(ctx):
    ev = ctx.evidence()
    ev.record("first draw", float(ctx.rng().random()))
    ev.equal("seed is an int", isinstance(ctx.seed, int), True)
    return ev


@claim("planted.verdict.inconclusive", paper=PAPER, kind="derived",
       statement="x <= 1, undecided.",
       witnesses=("exact",), quick={}, registry=PLANTED)
def inconclusive(ctx):
    ev = ctx.evidence()
    ev.equal("witness agrees with itself", 1, 1)
    ev.interval("x", 1.0, (0.5, 1.5), 1.0, side="<=", level=1e-6, decide_n=10_000)
    ev.referee_note(says="x <= 1", toy="planted", measured="x in [0.5, 1.5] at level 1e-6",
                    inside="planted", would_change="n = 10000")
    return ev


@claim("planted.timing.numbers_then_sleeps", paper=PAPER, kind="derived",
       statement="Records a number, then never ends in time.", witnesses=("exact",),
       quick={"seconds": 60}, timeout={"quick": 1.0}, registry=PLANTED)
def numbers_then_sleeps(ctx, seconds):
    ev = ctx.evidence()
    ev.close("exact vs simulated before the hang", 2.0, 2.0, atol=1e-9)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)
    return ev

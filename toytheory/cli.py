"""The ``toytheory`` command: ``list``, ``verify`` and ``figures``.

Exit status: 0 when every claim run holds, is refuted or is inconclusive (a
refutation or an undecided statement is a result of the check, not a failure),
1 when any claim fails or errors (with ``--seeds``: under any seed, or when a
claim is held under one seed and refuted under another), 2 for bad input (a
one-line message on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from datetime import datetime, timezone

from . import __version__


class UsageError(Exception):
    """Bad input on the command line: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump
        raise UsageError(message)


def _add_select(p):
    p.add_argument("-k", dest="patterns", action="append", metavar="PATTERN",
                   help="run only claims whose id contains PATTERN (or matches it as a glob); "
                        "may be repeated")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="toytheory",
                     description="Check the claims of papers about sampling, exactly, on toys.")
    parser.add_argument("--version", action="version", version=f"toytheory {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{list,verify,figures}",
                                parser_class=_Parser)

    p_list = sub.add_parser("list", help="list the claims, grouped by paper",
                            description="List the claims grouped by paper, with their kind "
                                        "(paper, derived, library, background) and tiers; "
                                        "with --results, also their verdicts.")
    p_list.add_argument("--results", metavar="RESULTS_JSON",
                        help="a results.json written by 'toytheory verify'")
    p_list.add_argument("--tier", choices=("quick", "full"), default=None,
                        help="only claims in this tier")
    _add_select(p_list)

    p_verify = sub.add_parser("verify", help="run the claims and write the report",
                              description="Run the claims of a tier and write results.json, "
                                          "report.md and report.html.")
    p_verify.add_argument("--tier", choices=("quick", "full"), default="quick",
                          help="quick: CI sizes (default); full: larger sizes, more seeds")
    _add_select(p_verify)
    p_verify.add_argument("--jobs", type=int, default=1, metavar="N",
                          help="run on a local process pool of N workers (default 1: serial); "
                               "with --dask local, the number of Dask workers")
    p_verify.add_argument("--dask", metavar="ADDR",
                          help="'local' starts a Dask LocalCluster; tcp://HOST:PORT uses a "
                               "running scheduler")
    p_verify.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                          help="where torch witnesses run (default cpu)")
    p_verify.add_argument("--seed", type=int, default=0, metavar="S",
                          help="run seed; every claim's seed derives from it (default 0)")
    p_verify.add_argument("--seeds", metavar="A..B",
                          help="run the tier under every seed from A to B (inclusive) and "
                               "write a stability table (stability.md, stability.json): per "
                               "claim, its verdicts and the spread of its numbers")
    p_verify.add_argument("--time-limit", metavar="LIMIT", default=None,
                          help="each claim's time limit: seconds (300), a multiple of its "
                               "typical time (20x) or 'none' (default "
                               "$TOYTHEORY_TIME_LIMIT, else 10x)")
    p_verify.add_argument("--out", default="report", metavar="DIR",
                          help="report folder (default ./report)")
    p_verify.add_argument("--record-times", action="store_true",
                          help="write each claim's time into toytheory/claims/"
                               "typical_seconds.json (the limits are multiples of these "
                               "times): run serially on an idle machine")
    p_verify.add_argument("--no-progress", action="store_true",
                          help="no progress (on a terminal a bar; in a log one line per "
                               "finished claim)")

    p_fig = sub.add_parser("figures", help="render every registered figure",
                           description="Render every registered figure to a folder as PNG.")
    p_fig.add_argument("--out", default="figures-out", metavar="DIR",
                       help="output folder (default ./figures-out)")
    p_fig.add_argument("--seed", type=int, default=0, metavar="S")
    _add_select(p_fig)
    return parser


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]


def ids_sharing_words(ids, pattern: str, n: int = 5) -> list[str]:
    """Ids that share words with ``pattern`` (words: the parts between dots, underscores,
    dashes and glob characters; a word of 3+ letters also matches inside a longer one),
    most shared words first, then the closest spelling."""
    import difflib

    words = set(_words(pattern))
    scored = []
    for cid in ids:
        parts = set(_words(cid))
        shared = sum(1 for w in words
                     if w in parts or (len(w) >= 3 and any(w in p for p in parts)))
        if shared:
            scored.append((-shared, -difflib.SequenceMatcher(None, pattern, cid).ratio(), cid))
    return [cid for _, _, cid in sorted(scored)[:n]]


def _select_or_fail(registry, tier, patterns):
    from .claims.registry import closest_ids, select

    for p in patterns or []:   # every pattern must match: a typo next to a good one is not ignored
        if not select(registry, tier, [p]):
            in_tier = [c.id for c in select(registry, tier)]
            near = ids_sharing_words(in_tier, p)
            if near:
                raise UsageError(f"-k {p}: no claim matches in tier {tier}; "
                                 f"ids that share words with it: {', '.join(near)}")
            near = closest_ids(registry, p)
            raise UsageError(f"-k {p}: no claim matches in tier {tier}; "
                             f"closest ids: {', '.join(near) if near else '(none)'}")
    chosen = select(registry, tier, patterns)
    if not chosen:
        raise UsageError(f"no claims in tier {tier}")
    return chosen


def cmd_list(args) -> int:
    from .claims.registry import load_catalog, select
    from .claims.report import ResultsError, load_results, paper_table

    registry = load_catalog()
    verdicts, paper_verdicts = {}, {}
    if args.results:
        try:
            data = load_results(args.results)
        except ResultsError as exc:
            raise UsageError(f"--results: {exc}") from None
        verdicts = {c["id"]: c["verdict"] for c in data["claims"]}
        papers = data.get("papers") or paper_table(data["claims"])
        paper_verdicts = {row["title"]: row["verdict"] for row in papers}
    claims = list(registry) if not args.tier else select(registry, args.tier)
    if args.patterns:
        tier = args.tier or "full"
        claims = [c for c in _select_or_fail(registry, tier, args.patterns) if c in claims]
    by_paper: dict[str, list] = {}
    for c in claims:
        by_paper.setdefault(c.paper, []).append(c)
    for paper, group in by_paper.items():
        print(f"{paper}  [paper: {paper_verdicts[paper]}]" if paper in paper_verdicts
              else paper)
        for c in group:
            tiers = ",".join(t for t in ("quick", "full") if c.in_tier(t))
            verdict = f"  [{verdicts[c.id]}]" if c.id in verdicts else (
                "  [not run]" if verdicts else "")
            print(f"  {c.id}  [{c.kind}] ({tiers}){verdict}")
            print(f"      {c.statement}")
    print(f"{len(claims)} claims from {len(by_paper)} papers")
    return 0


def _parse_seeds(text: str) -> list[int]:
    m = re.fullmatch(r"\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?", text or "")
    if not m:
        raise UsageError(f"--seeds: must be A..B with integers 0 <= A <= B (got {text!r})")
    a = int(m.group(1))
    b = int(m.group(2)) if m.group(2) is not None else a
    if b < a:
        raise UsageError(f"--seeds: the range {text!r} is empty (B < A)")
    if b - a + 1 > 1000:
        raise UsageError(f"--seeds: at most 1000 seeds (got {b - a + 1})")
    return list(range(a, b + 1))


def cmd_verify(args) -> int:
    from .claims.registry import load_catalog
    from .claims.report import build_results, check_creatable, write_report
    from .claims.runner import RunnerError, run_claims, time_limit_setting

    if args.jobs < 1:
        raise UsageError(f"--jobs: must be >= 1 (got {args.jobs})")
    if args.dask is not None and not (args.dask == "local" or args.dask.startswith("tcp://")
                                      or args.dask.startswith("tls://")):
        raise UsageError(f"--dask: must be 'local' or tcp://HOST:PORT (got {args.dask!r})")
    seeds = _parse_seeds(args.seeds) if args.seeds is not None else None
    if seeds is not None and args.record_times:
        raise UsageError("--record-times: measure under one seed, not with --seeds")
    try:
        time_limit_setting(args.time_limit)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        check_creatable(args.out)  # created only when the report is written
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.device == "cuda":
        try:
            import torch
        except ImportError:
            raise UsageError("--device cuda: torch is not installed") from None
        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device is available") from None
    registry = load_catalog()
    claims = _select_or_fail(registry, args.tier, args.patterns)

    def run(seed):
        started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        t0 = time.perf_counter()
        try:
            records = run_claims(claims, tier=args.tier, seed=seed, device=args.device,
                                 jobs=args.jobs if (args.jobs > 1 or args.dask) else 1,
                                 dask=args.dask, progress=not args.no_progress,
                                 time_limit_spec=args.time_limit)
        except RunnerError as exc:
            raise UsageError(str(exc)) from None
        return build_results(records, tier=args.tier, seed=seed, device=args.device,
                             started=started, seconds=time.perf_counter() - t0)

    if seeds is not None:
        return _verify_seeds(args, seeds, run)
    results = run(args.seed)
    paths = write_report(results, args.out)
    if args.record_times:
        from .claims.runner import TYPICAL_SECONDS_FILE, record_typical_seconds

        written = record_typical_seconds(results["claims"], args.tier)
        print(f"typical times of {len(written)} claims written to {TYPICAL_SECONDS_FILE}")
    width = max(len(c["id"]) for c in results["claims"])
    for c in results["claims"]:
        print(f"{c['verdict']:12s} {c['id']:{width}s} {c['seconds']:7.2f}s  {c['message']}")
        if c.get("hint"):
            print(f"{'':12s} hint: {c['hint']}")
    summary = ", ".join(f"{v} {k}" for k, v in results["summary"].items())
    print(f"{len(results['claims'])} claims: {summary}; {results['seconds']:.1f} s")
    print(f"report: {paths['html']} (also {paths['md'].name}, {paths['json'].name})")
    bad = results["summary"].get("fails", 0) + results["summary"].get("error", 0)
    return 1 if bad else 0


def _verify_seeds(args, seeds, run) -> int:
    from .claims.stability import stability_table, write_seed_results, write_stability

    runs = {}
    t0 = time.perf_counter()
    for seed in seeds:
        results = run(seed)
        write_seed_results(results, args.out)
        runs[seed] = results
        print(f"seed {seed}: " + ", ".join(f"{v} {k}" for k, v in results["summary"].items()
                                           if v), flush=True)
    table = stability_table(runs, tier=args.tier, seconds=time.perf_counter() - t0)
    paths = write_stability(table, args.out)
    for row in table["claims"]:
        if row["status"] != "stable":
            print(f"{row['status']:28s} {row['id']}  {row['verdicts_text']}")
    counts = ", ".join(f"{v} {k}" for k, v in table["summary"].items())
    print(f"{len(table['claims'])} claims under {len(seeds)} seeds: {counts}")
    print(f"stability table: {paths['md']} (also {paths['json'].name})")
    return 1 if table["failing"] else 0


def cmd_figures(args) -> int:
    from .claims.figures import render_figures

    try:
        written = render_figures(args.out, seed=args.seed, patterns=args.patterns)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.patterns and not written:
        raise UsageError(f"-k {' '.join(args.patterns)}: no figure matches")
    for path in written:
        print(path)
    print(f"{len(written)} figures written to {args.out}")
    return 0


OMP_WAIT_ENV = "OMP_WAIT_POLICY"


def passive_openmp_waits() -> None:
    """Let idle OpenMP threads sleep (``OMP_WAIT_POLICY=PASSIVE``) unless the user chose.

    A run alternates Numba's parallel kernels and torch, each with its own OpenMP
    runtime; by default an idle runtime's threads spin for a while after each parallel
    region, stealing the cores of the other on a small machine (a Numba kernel followed by
    torch ran at half speed on two cores). Must run before either runtime starts, i.e.
    before torch or a parallel Numba kernel is first used: :func:`main` calls it first.
    """
    os.environ.setdefault(OMP_WAIT_ENV, "PASSIVE")


def main(argv=None) -> int:
    passive_openmp_waits()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return {"list": cmd_list, "verify": cmd_verify, "figures": cmd_figures}[args.command](
            args)
    except UsageError as exc:
        print(f"toytheory: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("toytheory: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (``toytheory list | head``): stop quietly, as Unix tools do
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

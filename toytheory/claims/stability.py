"""Verdicts under many run seeds: the stability table of ``toytheory verify --seeds A..B``.

Every verdict must be the same under any run seed; a statistical claim whose
evidence does not decide under some seed must say ``inconclusive`` there,
never flip between ``holds`` and ``refuted``. The table gives, per claim, its
verdict under each seed and the spread of each number it held.

Status of a claim across the seeds:

``stable``
    the same verdict under every seed;
``undecided under some seeds``
    one decided verdict (holds or refuted) and ``inconclusive`` under the others;
``flips``
    ``holds`` under one seed and ``refuted`` under another (a failure of the claim);
``fails or errors``
    ``fails`` or ``error`` under at least one seed (a failure of the toolkit).

``stability.json``::

    {"schema_version": "1.0", "tier": "quick", "seeds": [0, 1, ...], "seconds": 812.0,
     "summary": {"fails or errors": 0, "flips": 0, "undecided under some seeds": 1,
                 "stable": 94},
     "failing": false,
     "claims": [{"id", "kind", "paper", "status", "verdicts": {"0": "holds", ...},
                 "counts": {"holds": 20}, "verdicts_text": "holds x20",
                 "headline": "name" | null,
                 "numbers": [{"name", "role", "relation", "min", "median", "max",
                              "spread", "relative_spread", "values": {"0": v, ...},
                              "failed_under": [seeds]}]}]}
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter, OrderedDict
from pathlib import Path

from .report import VERDICT_ORDER, check_writable

STABILITY_SCHEMA_VERSION = "1.0"
STATUSES = ("fails or errors", "flips", "undecided under some seeds", "stable")
FAILING = ("fails or errors", "flips")


def claim_status(verdicts) -> str:
    """The status (see the module docstring) of one claim's verdicts across seeds."""
    kinds = set(verdicts)
    if not kinds:
        raise ValueError("verdicts: need at least one verdict")
    if kinds & {"fails", "error"}:
        return "fails or errors"
    if {"holds", "refuted"} <= kinds:
        return "flips"
    if len(kinds) == 1:
        return "stable"
    return "undecided under some seeds"


def _numeric(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _spread(name: str, per_seed: dict) -> dict:
    values = {s: _numeric(n["value"]) for s, n in per_seed.items()}
    finite = sorted(v for v in values.values() if v is not None)
    first = next(iter(per_seed.values()))
    row = {"name": name, "role": first.get("role"), "relation": first.get("relation"),
           "values": {str(s): per_seed[s]["value"] for s in per_seed},
           "failed_under": [s for s, n in per_seed.items() if n.get("passed") is False],
           "min": None, "median": None, "max": None, "spread": None,
           "relative_spread": None}
    if finite:
        mid = len(finite) // 2
        median = finite[mid] if len(finite) % 2 else 0.5 * (finite[mid - 1] + finite[mid])
        spread = finite[-1] - finite[0]
        row.update(min=finite[0], median=median, max=finite[-1], spread=spread,
                   relative_spread=(spread / abs(median) if median else None))
    return row


def stability_table(runs: "dict[int, dict]", *, tier: str, seconds: float = 0.0) -> dict:
    """The stability table of results documents, one per run seed.

    Parameters
    ----------
    runs : dict
        Run seed to the results document of that run (as :func:`build_results`
        makes it).
    tier : str
    seconds : float
        Wall time of all the runs.
    """
    if not runs:
        raise ValueError("runs: need the results of at least one seed")
    order: OrderedDict[str, dict] = OrderedDict()
    for seed, results in runs.items():
        for c in results["claims"]:
            entry = order.setdefault(c["id"], {"claim": c, "verdicts": OrderedDict(),
                                               "numbers": OrderedDict(), "headline": None})
            entry["verdicts"][seed] = c["verdict"]
            if entry["headline"] is None and c.get("headline"):
                entry["headline"] = c["headline"]["name"]
            for n in c.get("numbers", []):
                if n.get("relation") != "info":
                    entry["numbers"].setdefault(n["name"], OrderedDict())[seed] = n
    rows = []
    for cid, entry in order.items():
        c = entry["claim"]
        counts = Counter(entry["verdicts"].values())
        ordered = [v for v in VERDICT_ORDER if v in counts]
        numbers = [_spread(name, per) for name, per in entry["numbers"].items()]
        head = entry["headline"]
        numbers.sort(key=lambda r: r["name"] != head)  # the headline number first
        rows.append({
            "id": cid, "kind": c.get("kind", "unset"), "paper": c["paper"],
            "status": claim_status(entry["verdicts"].values()),
            "verdicts": {str(s): v for s, v in entry["verdicts"].items()},
            "counts": {v: counts[v] for v in ordered},
            "verdicts_text": ", ".join(f"{v} x{counts[v]}" for v in ordered),
            "headline": head,
            "numbers": numbers,
        })
    rank = {s: i for i, s in enumerate(STATUSES)}
    rows.sort(key=lambda r: rank[r["status"]])
    summary = OrderedDict((s, sum(1 for r in rows if r["status"] == s)) for s in STATUSES)
    return {"schema_version": STABILITY_SCHEMA_VERSION, "tier": tier,
            "seeds": list(runs), "seconds": round(seconds, 3), "summary": dict(summary),
            "failing": any(r["status"] in FAILING for r in rows), "claims": rows}


def _fmt(value) -> str:
    from .evidence import _fmt as fmt

    return "" if value is None else fmt(value)


def render_stability_markdown(table: dict) -> str:
    """The stability table as Markdown, claims that fail or flip first."""
    seeds = table["seeds"]
    span = f"{seeds[0]}..{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else (
        ", ".join(map(str, seeds)))
    lines = ["# toytheory stability table", "",
             f"Tier **{table['tier']}**, {len(seeds)} run seeds ({span}), "
             f"{table['seconds']:.0f} s.", "",
             "Status: " + ", ".join(f"{k} {v}" for k, v in table["summary"].items()), "",
             "A claim must give the same verdict under every seed, or say `inconclusive` "
             "where its statistics cannot decide. *flips* (holds under one seed, refuted "
             "under another) and *fails or errors* are failures.", "",
             "| claim | kind | status | verdicts | headline number | min | median | max | "
             "spread |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in table["claims"]:
        head = r["numbers"][0] if r["numbers"] else None
        cells = [f"`{r['id']}`", r["kind"], f"**{r['status']}**", r["verdicts_text"]]
        if head is None:
            cells += ["", "", "", "", ""]
        else:
            cells += [head["name"], _fmt(head["min"]), _fmt(head["median"]), _fmt(head["max"]),
                      _fmt(head["spread"])]
        lines.append("| " + " | ".join(str(x).replace("|", "\\|") for x in cells) + " |")
    unstable = [r for r in table["claims"] if r["status"] != "stable"]
    for r in unstable:
        lines += ["", f"## `{r['id']}`: {r['status']}", "",
                  "| seed | verdict |", "| --- | --- |"]
        lines += [f"| {s} | {v} |" for s, v in r["verdicts"].items()]
        lines += ["", "| number | role | min | median | max | failed under seeds |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for n in r["numbers"]:
            lines.append(f"| {n['name']} | {n['role']} | {_fmt(n['min'])} | "
                         f"{_fmt(n['median'])} | {_fmt(n['max'])} | "
                         f"{', '.join(map(str, n['failed_under'])) or '-'} |")
    return "\n".join(lines) + "\n"


def write_stability(table: dict, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``stability.json`` and ``stability.md`` to ``out_dir``."""
    out = check_writable(out_dir)
    paths = {"json": out / "stability.json", "md": out / "stability.md"}
    paths["json"].write_text(json.dumps(table, indent=2, allow_nan=False) + "\n")
    paths["md"].write_text(render_stability_markdown(table))
    return paths


def write_seed_results(results: dict, out_dir: str | os.PathLike) -> Path:
    """Write one seed's results as ``seeds/seed-S.json`` (figures named, not written)."""
    out = check_writable(Path(out_dir) / "seeds")
    doc = dict(results)
    doc["claims"] = [dict(c, figures=[{"name": f["name"], "caption": f.get("caption", ""),
                                       "file": ""} for f in c.get("figures", [])])
                     for c in results["claims"]]
    path = out / f"seed-{results['seed']}.json"
    path.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    return path

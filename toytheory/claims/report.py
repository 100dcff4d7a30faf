"""The report: ``results.json``, ``report.md`` and a self-contained ``report.html``.

``results.json`` (schema version :data:`SCHEMA_VERSION`, JSON Schema in
``toytheory/claims/results.schema.json``)::

    {
      "schema_version": "2.0",
      "toytheory_version": "0.1.0",
      "tier": "quick",               # the tier that ran
      "seed": 0,                     # the run seed; each claim's seed derives from it
      "device": "cpu",
      "started": "2026-11-26T03:51:04Z",
      "seconds": 12.3,               # wall time of the whole run
      "python": "3.11.7", "platform": "Linux-...",
      "summary": {"fails": 0, "error": 0, "refuted": 1, "inconclusive": 0, "holds": 3},
      "papers": [                    # one row per seed paper (all of them), then the
        {                            # reference works that have claims in this run
          "title": "exact title", "seed": true,
          "verdict": "holds" | "refuted" | "mixed" | "inconclusive" | "not yet checked"
                     | "no honest toy",
          "paper_claims": {"holds": 2, "refuted": 0, "inconclusive": 0, "fails": 0,
                           "error": 0},  # verdicts of its 'paper' claims in this run
          "derived": 1, "library": 0, "background": 0, "unset": 0,
          "unsettled": 0,            # 'paper' claims that fail or error (not counted)
          "no_toy": null | "the written reason",
          "claims": ["area.topic.name", ...]
        }
      ],
      "claims": [
        {
          "id": "area.topic.name", "paper": "exact title", "statement": "...",
          "kind": "paper" | "derived" | "library" | "background" | "unset",
          "source": "the paper's own words", "reading": "how the toy reads them",
          "library": "implementation and version" | "",
          "area": "diffusion", "tier": "quick", "seed": 123,
          "verdict": "holds" | "fails" | "refuted" | "inconclusive" | "error",
          "message": "one line: why",
          "hint": "" | "what to do about an error (time limit, rerun command)",
          "seconds": 1.2,
          "time_limit": 250.0 | null, "typical_seconds": 25.0 | null,
          "witnesses": ["exact", "simulated"],
          "numbers": [{"name", "value", "relation", "bound", "tolerance", "role", "passed",
                       "unit", "note", "interval", "level", "detectable", "decide_n",
                       "side"}],
          "tests": [{"name", "test", "statistic", "pvalue", "level", "verdict",
                     "expect", "role", "details"}],
          "headline": {"name", "text", "passed"} | null,
          "referee": null | {"says", "toy", "measured", "inside", "would_change"},
          "figures": [{"name", "caption", "file"}],   # file relative to the report folder
          "notes": ["..."],
          "timed_out": false,
          "traceback": null | "..."
        }
      ]
    }

A claim stopped by an error (a crash or its time limit) keeps the numbers its
check recorded before it stopped. Documents written under schema 1.x (no
``papers``, no ``kind``) are still read by :func:`load_results`.

Non-finite numbers are written as the strings ``"inf"``, ``"-inf"``, ``"nan"``.
"""

from __future__ import annotations

import base64
import html
import json
import os
import platform
import re
from collections import OrderedDict
from pathlib import Path

from .. import __version__
from .evidence import VERDICTS

SCHEMA_VERSION = "2.0"
READABLE_MAJORS = ("1", "2")
"""Major schema versions :func:`load_results` reads (1.x: before kinds and papers)."""
_REQUIRED_CLAIM_KEYS = ("id", "paper", "statement", "verdict", "seconds", "numbers")
VERDICT_ORDER = ("fails", "error", "refuted", "inconclusive", "holds")
"""The order of verdicts in summaries: what needs attention first."""
KIND_ORDER = ("paper", "derived", "library", "background", "unset")
PAPER_VERDICTS = ("refuted", "mixed", "inconclusive", "holds", "not yet checked",
                  "no honest toy")
"""Paper-level verdicts, in the order the per-paper table lists them."""


class ResultsError(ValueError):
    """A results.json that cannot be read as toytheory results."""


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-")


def check_writable(out_dir: str | os.PathLike) -> Path:
    """Create ``out_dir`` if needed and check a file can be written there.

    Raises
    ------
    ValueError
        ``--out: cannot write to DIR (reason)``.
    """
    path = Path(out_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".toytheory-write-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"--out: cannot write to {path} ({exc.strerror or exc})") from None
    return path


def check_creatable(out_dir: str | os.PathLike) -> Path:
    """Check that ``out_dir`` could be created and written, without creating anything.

    A run that does not start (bad input, an unreachable cluster) then leaves
    no empty folder behind; :func:`write_report` creates the folder at the end.

    Raises
    ------
    ValueError
        ``--out: cannot write to DIR (reason)``.
    """
    path = Path(out_dir)
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"--out: cannot write to {path} (it is a file)")
        return check_writable(path)
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"--out: cannot write to {path} ({parent} is a file)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"--out: cannot write to {path} (Permission denied in {parent})")
    return path


# --------------------------------------------------------------------------- papers

def paper_verdict(verdicts) -> str:
    """The paper-level verdict from the verdicts of its ``paper`` claims.

    ``holds`` when every decided claim holds, ``refuted`` when every one is
    refuted, ``inconclusive`` when none is decided, ``mixed`` otherwise;
    ``not yet checked`` without any decided ``paper`` claim. A claim that
    ``fails`` or ends in ``error`` decides nothing about the paper (the
    toolkit could not vouch for its own numbers); it is counted apart as
    *unsettled*.
    """
    decided = {v for v in verdicts if v in ("holds", "refuted", "inconclusive")}
    if not decided:
        return "not yet checked"
    if len(decided) == 1:
        return decided.pop()
    return "mixed"


def paper_table(records: list[dict], no_toy: dict[str, str] | None = None) -> list[dict]:
    """One row per seed paper (all of them), then the other works with claims in ``records``.

    Only ``paper`` claims count for or against a paper; ``derived``,
    ``library`` and ``background`` claims (and ``unset`` ones, during the
    ledger's migration) are counted beside it.
    """
    from .papers import NO_HONEST_TOY, SEED_PAPERS

    if no_toy is None:
        try:  # the reasons are registered by a catalog module; it imports nothing heavy
            import importlib

            importlib.import_module(".catalog.no_honest_toy", __package__)
        except ImportError:  # pragma: no cover - a trimmed catalog
            pass
        no_toy = NO_HONEST_TOY
    by_title: OrderedDict[str, list[dict]] = OrderedDict((t, []) for t in SEED_PAPERS)
    for r in records:
        by_title.setdefault(r["paper"], []).append(r)
    rows = []
    for title, claims in by_title.items():
        seed = title in SEED_PAPERS
        if not seed and not claims:
            continue
        paper_claims = [c for c in claims if c.get("kind", "unset") == "paper"]
        counts = OrderedDict((v, 0) for v in ("holds", "refuted", "inconclusive", "fails",
                                               "error"))
        for c in paper_claims:
            counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
        verdict = paper_verdict(c["verdict"] for c in paper_claims)
        reason = no_toy.get(title)
        if reason and not paper_claims:
            verdict = "no honest toy"
        row = {"title": title, "seed": seed, "verdict": verdict,
               "paper_claims": dict(counts),
               "unsettled": counts["fails"] + counts["error"],
               "no_toy": reason, "claims": [c["id"] for c in claims]}
        for kind in ("derived", "library", "background", "unset"):
            row[kind] = sum(1 for c in claims if c.get("kind", "unset") == kind)
        rows.append(row)
    order = {v: i for i, v in enumerate(PAPER_VERDICTS)}
    return sorted(rows, key=lambda r: (not r["seed"], order.get(r["verdict"], 99)))


def build_results(records: list[dict], *, tier: str, seed: int, device: str, started: str,
                  seconds: float) -> dict:
    """Assemble the results document (figures still as bytes in the records)."""
    summary = OrderedDict((v, 0) for v in VERDICT_ORDER)
    for r in records:
        summary[r["verdict"]] = summary.get(r["verdict"], 0) + 1
    return {
        "schema_version": SCHEMA_VERSION,
        "toytheory_version": __version__,
        "tier": tier,
        "seed": seed,
        "device": device,
        "started": started,
        "seconds": round(seconds, 3),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "summary": dict(summary),
        "papers": paper_table(records),
        "claims": records,
    }


def write_report(results: dict, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write figures, ``results.json``, ``report.md`` and ``report.html`` to ``out_dir``.

    The figure bytes in ``results["claims"][i]["figures"]`` are written to
    ``figures/`` and replaced by their relative file names.

    Returns
    -------
    dict
        ``{"json": path, "md": path, "html": path}``.
    """
    out = check_writable(out_dir)
    fig_dir = out / "figures"
    embedded: dict[str, bytes] = {}
    for record in results["claims"]:
        files = []
        for fig in record.get("figures", []):
            if "png" in fig:
                fig_dir.mkdir(exist_ok=True)
                rel = f"figures/{_slug(record['id'])}--{_slug(fig['name'])}.png"
                (out / rel).write_bytes(fig["png"])
                embedded[rel] = fig["png"]
                files.append({"name": fig["name"], "caption": fig.get("caption", ""),
                              "file": rel})
            else:
                files.append(fig)
                path = out / fig["file"]
                if path.exists():
                    embedded[fig["file"]] = path.read_bytes()
        record["figures"] = files
    paths = {"json": out / "results.json", "md": out / "report.md",
             "html": out / "report.html"}
    paths["json"].write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
    paths["md"].write_text(render_markdown(results))
    paths["html"].write_text(render_html(results, embedded))
    return paths


def load_results(path: str | os.PathLike) -> dict:
    """Read and validate a ``results.json`` (schema 2.x, or 1.x written before kinds).

    A 1.x document is read as it is, each claim given ``kind: "unset"`` where
    it has none.

    Raises
    ------
    ResultsError
        One line saying what is wrong (missing file, bad JSON, wrong schema).
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ResultsError(f"{p}: cannot read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{p}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{p}: not a toytheory results object")
    for key in ("schema_version", "tier", "seed", "claims"):
        if key not in data:
            raise ResultsError(f"{p}: missing top-level key {key!r}")
    major = str(data["schema_version"]).split(".")[0]
    if major not in READABLE_MAJORS:
        readable = ", ".join(m + ".x" for m in READABLE_MAJORS)
        raise ResultsError(f"{p}: schema_version {data['schema_version']} is not supported "
                           f"(this toytheory reads {readable})")
    if not isinstance(data["claims"], list):
        raise ResultsError(f"{p}: 'claims' must be a list")
    for i, c in enumerate(data["claims"]):
        if not isinstance(c, dict):
            raise ResultsError(f"{p}: claims[{i}] is not an object")
        missing = [k for k in _REQUIRED_CLAIM_KEYS if k not in c]
        if missing:
            raise ResultsError(f"{p}: claims[{i}] lacks {', '.join(missing)}")
        if c["verdict"] not in VERDICTS:
            raise ResultsError(f"{p}: claims[{i}] has unknown verdict {c['verdict']!r}")
        c.setdefault("kind", "unset")
    return data


# --------------------------------------------------------------------------- rendering

def _by_paper(claims: list[dict]) -> "OrderedDict[str, list[dict]]":
    groups: OrderedDict[str, list[dict]] = OrderedDict()
    for c in claims:
        groups.setdefault(c["paper"], []).append(c)
    return groups


def _by_verdict(claims: list[dict]) -> list[dict]:
    """Claims with fails, errors, refuted and inconclusive first (stable within each)."""
    order = {v: i for i, v in enumerate(VERDICT_ORDER)}
    return sorted(claims, key=lambda c: order.get(c["verdict"], 99))


def _headline(c: dict) -> str:
    h = c.get("headline")
    if not h:
        return ""
    return f"{h['name']}: {h['text']}"


def _number_row(n: dict) -> tuple[str, str, str, str, str]:
    from .evidence import Number, _fmt

    num = Number(**{k: n.get(k) for k in ("name", "value", "relation", "bound", "tolerance",
                                           "role", "passed", "unit", "note")})
    num.unit = num.unit or ""
    if n.get("interval") is not None:
        num.interval, num.level, num.side = tuple(n["interval"]), n.get("level"), n.get("side")
    if num.relation == "interval" and num.interval is None:  # a malformed record
        num.relation = "info"
    status = {True: "pass", False: "FAIL", None: "info"}[n["passed"]]
    if n["relation"] == "interval" and n["passed"] is None:
        status = "undecided"
    role = "context" if n["relation"] == "info" else n["role"]
    value = num.describe()
    if n["relation"] != "interval" and n.get("interval") is not None:
        lo, hi = n["interval"]
        value += f"; interval [{_fmt(lo)}, {_fmt(hi)}] at level {_fmt(n.get('level'))}"
    extra = []
    if n.get("detectable"):
        extra.append(f"detects: {n['detectable']}")
    if n.get("decide_n"):
        extra.append(f"n = {n['decide_n']} would decide")
    note = "; ".join([x for x in [n.get("note") or ""] + extra if x])
    return n["name"], value, role, status, note


def _md_escape(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _paper_counts(row: dict) -> str:
    parts = [f"{v} {k}" for k, v in row["paper_claims"].items() if v]
    return ", ".join(parts) if parts else "none"


def _paper_note(row: dict) -> str:
    notes = []
    if row.get("no_toy"):
        notes.append(f"no honest toy: {row['no_toy']}")
    if row.get("unsettled"):
        notes.append(f"{row['unsettled']} paper claim(s) fail or error: the toolkit cannot "
                     "vouch for them, so they are not counted")
    if row.get("unset"):
        notes.append(f"{row['unset']} claim(s) of unset kind (not counted)")
    return "; ".join(notes)


_REFEREE_PARTS = (("says", "The paper says"), ("toy", "The toy"), ("measured", "Measured"),
                  ("inside", "Why the toy is inside the paper's setting"),
                  ("would_change", "What would change the verdict"))


def _summary_counts(results: dict) -> list[tuple[str, int]]:
    summary = results.get("summary", {})
    keys = [k for k in VERDICT_ORDER if k in summary] + [k for k in summary
                                                         if k not in VERDICT_ORDER]
    return [(k, summary[k]) for k in keys]


def _papers(results: dict) -> list[dict]:
    if "papers" in results:
        return results["papers"]
    return paper_table(results["claims"])  # a 1.x document: derive it from the claims


def render_markdown(results: dict) -> str:
    """The report as Markdown: per-paper verdicts, the claim summary, then one section per
    paper."""
    lines = [
        "# toytheory report",
        "",
        f"Tier **{results['tier']}**, seed {results['seed']}, device {results.get('device')}, "
        f"toytheory {results.get('toytheory_version')}, {results.get('seconds')} s.",
        "",
        "Verdicts: " + ", ".join(f"{k} {v}" for k, v in _summary_counts(results)),
        "",
        "## Papers",
        "",
        "A paper's verdict counts only its `paper` claims; derived, library and background "
        "claims are listed beside it.",
        "",
        "| paper | verdict | paper claims | other claims | note |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in _papers(results):
        title = row["title"] if row.get("seed", True) else f"{row['title']} (reference)"
        lines.append(f"| {_md_escape(title)} | **{row['verdict']}** | "
                     f"{_paper_counts(row)} | {_others(row)} | "
                     f"{_md_escape(_paper_note(row))} |")
    lines += [
        "",
        "## Summary",
        "",
        "| claim | kind | paper | verdict | headline number | time (s) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for c in _by_verdict(results["claims"]):
        lines.append(f"| `{c['id']}` | {c.get('kind', 'unset')} | {_md_escape(c['paper'])} | "
                     f"**{c['verdict']}** | {_md_escape(_headline(c))} | "
                     f"{c['seconds']:.2f} |")
    for paper, claims in _by_paper(results["claims"]).items():
        lines += ["", f"## {paper}", ""]
        for c in claims:
            lines += [f"### `{c['id']}`: {c['verdict']} ({c.get('kind', 'unset')})", "",
                      f"> {c['statement']}", ""]
            if c.get("source"):
                lines += [f"Source: {c['source']}", ""]
            if c.get("reading"):
                lines += [f"Reading: {c['reading']}", ""]
            if c.get("library"):
                lines += [f"Library: {c['library']}", ""]
            lines += [f"{c.get('message', '')}", ""]
            if c.get("hint"):
                lines += [f"Hint: {c['hint']}", ""]
            lines += [f"Witnesses: {', '.join(c.get('witnesses', []))}. Seed {c.get('seed')}. "
                      f"{c['seconds']:.2f} s.", ""]
            if c.get("referee"):
                lines += ["Referee's note:", ""]
                lines += [f"- *{label}*: {c['referee'][key]}"
                          for key, label in _REFEREE_PARTS if c["referee"].get(key)]
                lines.append("")
            elif c["verdict"] in ("refuted", "inconclusive"):
                lines += ["*No referee's note was recorded for this verdict.*", ""]
            if c["numbers"]:
                if c["verdict"] == "error":
                    lines += ["The last numbers recorded before it stopped:", ""]
                lines += ["| number | value | role | status | note |",
                          "| --- | --- | --- | --- | --- |"]
                for row in map(_number_row, c["numbers"]):
                    lines.append("| " + " | ".join(_md_escape(x) for x in row) + " |")
                lines.append("")
            elif c["verdict"] == "error":
                lines += ["No number was recorded before it stopped.", ""]
            for t in c.get("tests", []):
                lines.append(f"- test *{t['name']}*: {t['test']}, p = {t['pvalue']:.4g}, "
                             f"level {t['level']}, verdict {t['verdict']} "
                             f"(expected {t['expect']})")
            for note in c.get("notes", []):
                lines.append(f"- {note}")
            for fig in c.get("figures", []):
                lines += ["", f"![{fig['caption'] or fig['name']}]({fig['file']})", ""]
            if c.get("traceback"):
                lines += ["", "```", c["traceback"].rstrip(), "```"]
    return "\n".join(lines) + "\n"


_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45;overflow-wrap:break-word}
.table{max-width:100%;overflow-x:auto;margin:.6em 0}
table{border-collapse:collapse;font-size:.92em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top;
overflow-wrap:break-word}
th{background:#f3f3f3}
td.nowrap,th.nowrap{white-space:nowrap}
.v-holds{color:#0a6b2c;font-weight:600}.v-refuted{color:#8a4b00;font-weight:600}
.v-inconclusive{color:#5a5a00;font-weight:600}
.v-fails{color:#b00020;font-weight:700}.v-error{color:#6a00a8;font-weight:700}
.v-mixed{color:#8a4b00}.v-not-yet-checked,.v-no-honest-toy{color:#666}
.FAIL{color:#b00020;font-weight:600}.pass{color:#0a6b2c}.undecided{color:#5a5a00}
blockquote{margin:.4em 0;padding:.2em .8em;border-left:4px solid #ccd;color:#333}
.referee{background:#fbf8ef;border:1px solid #e6dcb8;padding:.4em .8em}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.85em;white-space:pre-wrap}
img{max-width:100%;height:auto;border:1px solid #eee}
code{font-size:.92em}
figure{margin:.6em 0}
"""


def _breakable(text: str) -> str:
    """Escape ``text`` for HTML and let it break after dots and underscores (long ids)."""
    return re.sub(r"([._/])", r"\1<wbr>", html.escape(text))


def _others(row: dict) -> str:
    parts = [f"{row.get(k, 0)} {k}" for k in ("derived", "library", "background")
             if row.get(k, 0)]
    return ", ".join(parts) if parts else "none"


def _table(head: list[str], rows: list[str]) -> str:
    return ("<div class=\"table\"><table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head)
            + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>")


def render_html(results: dict, embedded: dict[str, bytes] | None = None) -> str:
    """The report as one self-contained HTML page (figures embedded as data URIs) that fits
    an 800 px window: long ids and numbers wrap, tables scroll inside their own box."""
    embedded = embedded or {}
    e = html.escape
    out = ["<!DOCTYPE html>", "<html lang=\"en\">", "<head>", "<meta charset=\"utf-8\">",
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
           "<title>toytheory report</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
           "<h1>toytheory report</h1>",
           f"<p>Tier <b>{e(str(results['tier']))}</b>, seed {e(str(results['seed']))}, device "
           f"{e(str(results.get('device')))}, toytheory {e(str(results.get('toytheory_version')))}"
           f", {e(str(results.get('seconds')))} s.</p>",
           "<p>Verdicts: " + ", ".join(f"<span class=\"v-{e(k)}\">{e(k)}</span> {v}"
                                      for k, v in _summary_counts(results)) + "</p>",
           "<h2 id=\"papers\">Papers</h2>",
           "<p>A paper's verdict counts only its <code>paper</code> claims; derived, library "
           "and background claims are listed beside it.</p>"]
    rows = []
    for row in _papers(results):
        title = e(row["title"]) + ("" if row.get("seed", True) else " <i>(reference)</i>")
        v = row["verdict"]
        rows.append(f"<tr><td>{title}</td><td class=\"v-{_slug(v)}\">{e(v)}</td>"
                    f"<td>{e(_paper_counts(row))}</td><td>{e(_others(row))}</td>"
                    f"<td>{e(_paper_note(row))}</td></tr>")
    out.append(_table(["paper", "verdict", "paper claims", "other claims", "note"], rows))
    out.append("<h2 id=\"summary\">Summary</h2>")
    rows = []
    for c in _by_verdict(results["claims"]):
        anchor = "claim-" + _slug(c["id"])
        rows.append(f"<tr><td><a href=\"#{anchor}\"><code>{_breakable(c['id'])}</code></a></td>"
                    f"<td>{e(c.get('kind', 'unset'))}</td><td>{_breakable(c['paper'])}</td>"
                    f"<td class=\"v-{e(c['verdict'])}\">{e(c['verdict'])}</td>"
                    f"<td>{e(_headline(c))}</td><td class=\"nowrap\">{c['seconds']:.2f}</td>"
                    "</tr>")
    out.append(_table(["claim", "kind", "paper", "verdict", "headline number", "time (s)"],
                      rows))
    for paper, claims in _by_paper(results["claims"]).items():
        out.append(f"<h2>{e(paper)}</h2>")
        for c in claims:
            anchor = "claim-" + _slug(c["id"])
            out.append(f"<h3 id=\"{anchor}\"><code>{_breakable(c['id'])}</code>: "
                       f"<span class=\"v-{e(c['verdict'])}\">{e(c['verdict'])}</span> "
                       f"<small>({e(c.get('kind', 'unset'))})</small></h3>")
            out.append(f"<blockquote>{e(c['statement'])}</blockquote>")
            for key, label in (("source", "Source"), ("reading", "Reading"),
                               ("library", "Library")):
                if c.get(key):
                    out.append(f"<p><b>{label}:</b> {e(c[key])}</p>")
            out.append(f"<p>{e(c.get('message', ''))}</p>")
            if c.get("hint"):
                out.append(f"<p><b>Hint:</b> {e(c['hint'])}</p>")
            out.append(f"<p>Witnesses: {e(', '.join(c.get('witnesses', [])))}. "
                       f"Seed {e(str(c.get('seed')))}. {c['seconds']:.2f} s.</p>")
            if c.get("referee"):
                items = "".join(f"<li><i>{label}</i>: {e(c['referee'][key])}</li>"
                                for key, label in _REFEREE_PARTS if c["referee"].get(key))
                out.append(f"<div class=\"referee\"><b>Referee's note</b><ul>{items}</ul></div>")
            elif c["verdict"] in ("refuted", "inconclusive"):
                out.append("<p><i>No referee's note was recorded for this verdict.</i></p>")
            if c["numbers"]:
                if c["verdict"] == "error":
                    out.append("<p>The last numbers recorded before it stopped:</p>")
                rows = [f"<tr><td>{e(name)}</td><td>{e(value)}</td><td>{e(role)}</td>"
                        f"<td class=\"{status}\">{status}</td><td>{e(note)}</td></tr>"
                        for name, value, role, status, note in map(_number_row, c["numbers"])]
                out.append(_table(["number", "value", "role", "status", "note"], rows))
            elif c["verdict"] == "error":
                out.append("<p>No number was recorded before it stopped.</p>")
            items = []
            for t in c.get("tests", []):
                items.append(f"test <i>{e(t['name'])}</i>: {e(str(t['test']))}, "
                             f"p = {t['pvalue']:.4g}, level {e(str(t['level']))}, verdict "
                             f"{e(t['verdict'])} (expected {e(t['expect'])})")
            items += [e(n) for n in c.get("notes", [])]
            if items:
                out.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            for fig in c.get("figures", []):
                data = embedded.get(fig["file"])
                src = ("data:image/png;base64," + base64.b64encode(data).decode()
                       if data is not None else e(fig["file"]))
                caption = fig.get("caption") or fig["name"]
                out.append(f"<figure><img src=\"{src}\" alt=\"{e(caption)}\">"
                           f"<figcaption>{e(caption)}</figcaption></figure>")
            if c.get("traceback"):
                out.append(f"<pre>{e(c['traceback'])}</pre>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"

"""The report: ``results.json``, ``report.md`` and a self-contained ``report.html``.

``results.json`` (schema version :data:`SCHEMA_VERSION`, JSON Schema in
``toytheory/claims/results.schema.json``)::

    {
      "schema_version": "1.0",
      "toytheory_version": "0.1.0",
      "tier": "quick",               # the tier that ran
      "seed": 0,                     # the run seed; each claim's seed derives from it
      "device": "cpu",
      "started": "2026-11-26T03:51:04Z",
      "seconds": 12.3,               # wall time of the whole run
      "python": "3.11.7", "platform": "Linux-...",
      "summary": {"holds": 3, "fails": 0, "refuted": 1, "error": 0},
      "claims": [
        {
          "id": "area.topic.name", "paper": "exact title", "statement": "...",
          "area": "diffusion", "tier": "quick", "seed": 123,
          "verdict": "holds" | "fails" | "refuted" | "error",
          "message": "one line: why",
          "seconds": 1.2,
          "witnesses": ["exact", "simulated"],
          "numbers": [{"name", "value", "relation", "bound", "tolerance",
                       "role", "passed", "unit", "note"}],
          "tests": [{"name", "test", "statistic", "pvalue", "level", "verdict",
                     "expect", "role", "details"}],
          "headline": {"name", "text", "passed"} | null,
          "figures": [{"name", "caption", "file"}],   # file relative to the report folder
          "notes": ["..."],
          "timed_out": false,
          "traceback": null | "..."
        }
      ]
    }

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

SCHEMA_VERSION = "1.0"
_REQUIRED_CLAIM_KEYS = ("id", "paper", "statement", "verdict", "seconds", "numbers")


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


def build_results(records: list[dict], *, tier: str, seed: int, device: str, started: str,
                  seconds: float) -> dict:
    """Assemble the results document (figures still as bytes in the records)."""
    summary = OrderedDict((v, 0) for v in VERDICTS)
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
    """Read and validate a ``results.json``.

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
    if major != SCHEMA_VERSION.split(".")[0]:
        raise ResultsError(f"{p}: schema_version {data['schema_version']} is not supported "
                           f"(this toytheory reads {SCHEMA_VERSION})")
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
    return data


# --------------------------------------------------------------------------- rendering

def _by_paper(claims: list[dict]) -> "OrderedDict[str, list[dict]]":
    groups: OrderedDict[str, list[dict]] = OrderedDict()
    for c in claims:
        groups.setdefault(c["paper"], []).append(c)
    return groups


def _headline(c: dict) -> str:
    h = c.get("headline")
    if not h:
        return ""
    return f"{h['name']}: {h['text']}"


def _number_row(n: dict) -> tuple[str, str, str, str, str]:
    from .evidence import Number

    num = Number(**{k: n[k] for k in ("name", "value", "relation", "bound", "tolerance",
                                       "role", "passed", "unit", "note")})
    status = {True: "pass", False: "FAIL", None: "info"}[n["passed"]]
    role = "context" if n["relation"] == "info" else n["role"]
    return n["name"], num.describe(), role, status, n.get("note", "")


def _md_escape(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(results: dict) -> str:
    """The report as Markdown: summary table first, then one section per paper."""
    lines = [
        "# toytheory report",
        "",
        f"Tier **{results['tier']}**, seed {results['seed']}, device {results.get('device')}, "
        f"toytheory {results.get('toytheory_version')}, {results.get('seconds')} s.",
        "",
        "Verdicts: " + ", ".join(f"{k} {v}" for k, v in results.get("summary", {}).items()),
        "",
        "## Summary",
        "",
        "| claim | paper | verdict | headline number | time (s) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in results["claims"]:
        lines.append(f"| `{c['id']}` | {_md_escape(c['paper'])} | **{c['verdict']}** | "
                     f"{_md_escape(_headline(c))} | {c['seconds']:.2f} |")
    for paper, claims in _by_paper(results["claims"]).items():
        lines += ["", f"## {paper}", ""]
        for c in claims:
            lines += [f"### `{c['id']}`: {c['verdict']}", "", f"> {c['statement']}", "",
                      f"{c.get('message', '')}", "",
                      f"Witnesses: {', '.join(c.get('witnesses', []))}. Seed {c.get('seed')}. "
                      f"{c['seconds']:.2f} s.", ""]
            if c["numbers"]:
                lines += ["| number | value | role | status | note |",
                          "| --- | --- | --- | --- | --- |"]
                for row in map(_number_row, c["numbers"]):
                    lines.append("| " + " | ".join(_md_escape(x) for x in row) + " |")
                lines.append("")
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
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}
.v-holds{color:#0a6b2c;font-weight:600}.v-refuted{color:#8a4b00;font-weight:600}
.v-fails{color:#b00020;font-weight:700}.v-error{color:#6a00a8;font-weight:700}
.FAIL{color:#b00020;font-weight:600}.pass{color:#0a6b2c}
blockquote{margin:.4em 0;padding:.2em .8em;border-left:4px solid #ccd;color:#333}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.85em}
img{max-width:100%;border:1px solid #eee}
code{font-size:.92em}
"""


def render_html(results: dict, embedded: dict[str, bytes] | None = None) -> str:
    """The report as one self-contained HTML page (figures embedded as data URIs)."""
    embedded = embedded or {}
    e = html.escape
    out = ["<!DOCTYPE html>", "<html lang=\"en\">", "<head>", "<meta charset=\"utf-8\">",
           "<title>toytheory report</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
           "<h1>toytheory report</h1>",
           f"<p>Tier <b>{e(str(results['tier']))}</b>, seed {e(str(results['seed']))}, device "
           f"{e(str(results.get('device')))}, toytheory {e(str(results.get('toytheory_version')))}"
           f", {e(str(results.get('seconds')))} s.</p>",
           "<p>Verdicts: " + ", ".join(f"<span class=\"v-{e(k)}\">{e(k)}</span> {v}"
                                      for k, v in results.get("summary", {}).items()) + "</p>",
           "<h2 id=\"summary\">Summary</h2>",
           "<table><thead><tr><th>claim</th><th>paper</th><th>verdict</th>"
           "<th>headline number</th><th>time (s)</th></tr></thead><tbody>"]
    for c in results["claims"]:
        anchor = "claim-" + _slug(c["id"])
        out.append(f"<tr><td><a href=\"#{anchor}\"><code>{e(c['id'])}</code></a></td>"
                   f"<td>{e(c['paper'])}</td>"
                   f"<td class=\"v-{e(c['verdict'])}\">{e(c['verdict'])}</td>"
                   f"<td>{e(_headline(c))}</td><td>{c['seconds']:.2f}</td></tr>")
    out.append("</tbody></table>")
    for paper, claims in _by_paper(results["claims"]).items():
        out.append(f"<h2>{e(paper)}</h2>")
        for c in claims:
            anchor = "claim-" + _slug(c["id"])
            out.append(f"<h3 id=\"{anchor}\"><code>{e(c['id'])}</code>: "
                       f"<span class=\"v-{e(c['verdict'])}\">{e(c['verdict'])}</span></h3>")
            out.append(f"<blockquote>{e(c['statement'])}</blockquote>")
            out.append(f"<p>{e(c.get('message', ''))}</p>")
            out.append(f"<p>Witnesses: {e(', '.join(c.get('witnesses', [])))}. "
                       f"Seed {e(str(c.get('seed')))}. {c['seconds']:.2f} s.</p>")
            if c["numbers"]:
                out.append("<table><thead><tr><th>number</th><th>value</th><th>role</th>"
                           "<th>status</th><th>note</th></tr></thead><tbody>")
                for name, value, role, status, note in map(_number_row, c["numbers"]):
                    out.append(f"<tr><td>{e(name)}</td><td>{e(value)}</td><td>{e(role)}</td>"
                               f"<td class=\"{status}\">{status}</td><td>{e(note)}</td></tr>")
                out.append("</tbody></table>")
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

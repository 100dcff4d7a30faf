"""Generate the documentation sources and build the site (``make docs``).

Generated (git-ignored) pages:

- ``docs/api/<module>.rst``: the API reference, one page per public module of toytheory
  (autodoc from the numpydoc docstrings);
- ``docs/areas/<area>.md``: one page per area, with its exact oracles (the area's modules),
  its claims paper by paper with kind, statement and, where a ``results.json`` is given,
  the verdict, and its simulators in ``sims/``;
- ``docs/gallery/<notebook>.py``: the jupytext notebooks, rendered (and with
  ``--execute`` executed, with their figures) by myst-nb; with ``--execute`` each is
  also written as an ``.ipynb`` with outputs under ``docs/_build/html/notebooks/``, for
  classroom use.

Then ``sphinx-build -W`` (warnings are errors) builds ``docs/_build/html``, and every
internal link of the built pages is checked (:func:`broken_internal_links`).

Run: ``.venv/bin/python docs/build.py [--execute] [--results report/results.json]``.
"""

from __future__ import annotations

import argparse
import html.parser
import importlib
import json
import os
import pkgutil
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from urllib.parse import unquote, urlparse

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
BUILD = DOCS / "_build" / "html"
GENERATED = ("api", "areas", "gallery")

AREAS = {
    "diffusion": "Diffusion: exact laws, scores, solvers, guidance, posteriors",
    "gauge": "Gauge freedom, conservativity and intrinsic dimension",
    "rl": "Bellman completeness, return-conditioned learning, on-policy sampling",
    "sampling": "Sampling bounds: DPPs, volume sampling, sensitivities",
    "adaptive": "Adaptive data analysis",
    "decoding": "Decoding and repeated sampling",
    "data": "Data selection and allocation",
}
CLAIM_PREFIXES = {"diffusion": ("diffusion.", "foundation."), "gauge": ("gauge.",),
                  "rl": ("rl.",), "sampling": ("sampling.",), "adaptive": ("adaptive.",),
                  "decoding": ("decoding.",), "data": ("data.", "active.")}
SKIP_MODULES = ("toytheory.claims.catalog",)


def public_modules() -> list[str]:
    """Every importable public module of toytheory (no ``_private`` parts, no catalog)."""
    import toytheory

    names = ["toytheory"]
    for info in pkgutil.walk_packages(toytheory.__path__, "toytheory."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts) or info.name.startswith(SKIP_MODULES):
            continue
        names.append(info.name)
    return sorted(names)


def _first_line(doc: str | None) -> str:
    for line in (doc or "").strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def write_api(out: Path) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    mods = public_modules()
    for name in mods:
        title = f"``{name}``"
        (out / f"{name}.rst").write_text(
            f"{title}\n{'=' * len(title)}\n\n.. automodule:: {name}\n   :members:\n   :ignore-module-all:\n"
            f"   :no-index:\n" if name == "toytheory" else
            f"{title}\n{'=' * len(title)}\n\n.. automodule:: {name}\n   :members:\n   :ignore-module-all:\n")
    lines = ["API reference", "=============", "", ".. toctree::", "   :maxdepth: 1", ""]
    lines += [f"   {name}" for name in mods]
    (out / "index.rst").write_text("\n".join(lines) + "\n")
    return mods


def _verdicts(results: Path | None) -> dict[str, str]:
    if results is None or not results.exists():
        return {}
    data = json.loads(results.read_text())
    return {r["id"]: r.get("verdict", "") for r in data.get("claims", data.get("results", []))
            if isinstance(r, dict) and "id" in r}


def write_areas(out: Path, mods: list[str], results: Path | None) -> None:
    from toytheory.claims import load_catalog

    out.mkdir(parents=True, exist_ok=True)
    registry = load_catalog()
    verdicts = _verdicts(results)
    sims_dir = ROOT / "sims"
    for area, title in AREAS.items():
        lines = [f"# {title}", ""]
        oracles = [m for m in mods if m == f"toytheory.{area}" or m.startswith(f"toytheory.{area}.")]
        lines += ["## Exact oracles", ""]
        for m in oracles:
            doc = _first_line(importlib.import_module(m).__doc__)
            lines.append(f"- [`{m}`](../api/{m}.rst): {doc}")
        by_paper = defaultdict(list)
        for c in registry:
            if c.id.startswith(CLAIM_PREFIXES[area]) or (
                    area == "sampling" and c.id.startswith("sampling.")):
                by_paper[c.paper].append(c)
        lines += ["", "## Claims, paper by paper", ""]
        if verdicts:
            lines.append(f"Verdicts from `{results.name}` (quick tier).")
        else:
            lines.append("No results.json was given to this build: run `make verify` and "
                         "`make docs` to show verdicts here.")
        for paper in sorted(by_paper, key=str):
            lines += ["", f"### {paper}", "", "| claim | kind | verdict | statement |",
                      "|---|---|---|---|"]
            for c in by_paper[paper]:
                statement = " ".join(c.statement.split()).replace("|", "\\|")
                lines.append(f"| `{c.id}` | {c.kind} | {verdicts.get(c.id, '–')} | "
                             f"{statement} |")
        sims = sorted(p.stem for p in sims_dir.glob("*.py")
                      if p.stem.startswith(area) or (area == "data" and p.stem.startswith(
                          ("data", "active"))))
        lines += ["", "## Simulators", ""]
        if sims:
            for s in sims:
                doc = _first_line(importlib.import_module(f"sims.{s}").__doc__)
                lines.append(f"- `sims.{s}`: {doc}")
        else:
            lines.append("This area's witnesses are exact (enumeration, quadrature, "
                         "closed forms); it has no simulator module of its own.")
        (out / f"{area}.md").write_text("\n".join(lines) + "\n")
    index = ["# Areas", "", "```{toctree}", ":maxdepth: 1", ""] + list(AREAS) + ["```", ""]
    (out / "index.md").write_text("\n".join(index))


def write_gallery(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    books = sorted((ROOT / "notebooks").glob("*.py"))
    for b in books:
        shutil.copy(b, out / b.name)
    lines = ["# Gallery", "", "The notebooks of `notebooks/`, executed by `make docs`. Each is "
             "also available as an `.ipynb` with its outputs, under `notebooks/` of the "
             "built site.", "", "```{toctree}", ":maxdepth: 1", ""]
    lines += [b.stem for b in books] + ["```", ""]
    (out / "index.md").write_text("\n".join(lines))
    return books


def write_ipynbs(books: list[Path], dest: Path, timeout: int = 180) -> None:
    """Each notebook executed, with outputs, as ``.ipynb`` (for classroom use)."""
    import jupytext
    import nbclient
    import nbformat

    sys.path.insert(0, str(DOCS))
    from _nbreader import with_inline_figures

    dest.mkdir(parents=True, exist_ok=True)
    for b in books:
        nb = with_inline_figures(jupytext.read(b))
        nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(ROOT)}}).execute()
        nbformat.write(nb, dest / f"{b.stem}.ipynb")


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if key in a and a[key]:
                self.hrefs.append(a[key])


def broken_internal_links(site: Path) -> list[str]:
    """Every ``href``/``src`` of the built site that points inside it and does not resolve
    (a missing file, or a missing ``#anchor`` in an existing page)."""
    pages = {}
    for page in site.rglob("*.html"):
        p = _Links()
        p.feed(page.read_text(encoding="utf-8", errors="replace"))
        pages[page.resolve()] = p
    broken = []
    for page, parsed in pages.items():
        for href in parsed.hrefs:
            url = urlparse(href)
            if url.scheme or url.netloc or href.startswith(("mailto:", "javascript:")):
                continue
            target = page if not url.path else (page.parent / unquote(url.path)).resolve()
            if not target.exists():
                broken.append(f"{page.relative_to(site.resolve())}: {href}")
                continue
            if url.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else set()
                if url.fragment not in ids:
                    broken.append(f"{page.relative_to(site.resolve())}: {href} (no anchor)")
    return broken


def build(execute: bool = False, results: Path | None = None, out: Path = BUILD,
          jobs: str = "1") -> Path:
    for sub in GENERATED:
        shutil.rmtree(DOCS / sub, ignore_errors=True)
    mods = write_api(DOCS / "api")
    write_areas(DOCS / "areas", mods, results)
    books = write_gallery(DOCS / "gallery")
    env = dict(os.environ, TOYTHEORY_DOCS_EXECUTE="1" if execute else "0",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-j", jobs, "-b",
           "html", str(DOCS), str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"sphinx-build failed (warnings are errors):\n{proc.stderr[-6000:]}")
    broken = broken_internal_links(out)
    if broken:
        raise RuntimeError("broken internal links:\n" + "\n".join(broken[:50]))
    if execute:
        write_ipynbs(books, out / "notebooks")
        missing = [b.stem for b in books
                   if "<img" not in (out / "gallery" / f"{b.stem}.html").read_text()]
        if missing:
            raise RuntimeError(f"executed gallery pages without a figure: {missing}")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--execute", action="store_true",
                        help="execute the notebooks (figures in the gallery, .ipynb files)")
    parser.add_argument("--results", type=Path, default=ROOT / "report" / "results.json",
                        help="a results.json whose verdicts the area pages show")
    parser.add_argument("--out", type=Path, default=BUILD)
    args = parser.parse_args(argv)
    out = build(args.execute, args.results, args.out)
    print(f"documentation built in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

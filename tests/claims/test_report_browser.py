"""report.html drawn by headless Chromium (issue 21, item 4).

Checks, in a real browser: every figure loads (``complete`` with a natural width), the
summary table's rows are the claims of results.json with their verdicts, every internal
link resolves (``#id`` to an element of the page, a relative link to a file beside it),
and the page logs no console error and raises no error event (a script error or a
resource that fails to load). Playwright is not needed: the page gets a small probe
script, and Chromium's ``--dump-dom`` returns what it measured. Each check is also shown
to see a planted fault (a broken figure, a missing row, a dangling link, a console
error). Skipped, with the reason, where no Chromium is installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .test_report import report_dir  # noqa: F401  (the module-scoped report fixture)

_PROBE_HEAD = """<script>
window.__toy = {errors: [], console: []};
window.addEventListener("error", function (ev) {
  var t = ev.target || {};
  window.__toy.errors.push(ev.message || ("failed to load " + (t.src || t.href || t.tagName)));
}, true);
["error", "warn"].forEach(function (k) {
  var orig = console[k];
  console[k] = function () {
    window.__toy.console.push(k + ": " + Array.prototype.join.call(arguments, " "));
    return orig.apply(console, arguments);
  };
});
</script>"""

_PROBE_BODY = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.map.call(document.images, function (im) {
    return {src: im.getAttribute("src").slice(0, 60), ok: im.complete && im.naturalWidth > 0};
  });
  var h = document.getElementById("summary"), rows = [];
  var box = h ? h.nextElementSibling : null;
  if (box) {
    Array.prototype.forEach.call(box.querySelectorAll("tbody tr"), function (tr) {
      var td = tr.querySelectorAll("td");
      rows.push([td[0].textContent.trim(), td[3].textContent.trim()]);
    });
  }
  var links = Array.prototype.map.call(document.querySelectorAll("a[href]"), function (a) {
    var href = a.getAttribute("href");
    return {href: href, ok: href.charAt(0) !== "#" ||
            document.getElementById(decodeURIComponent(href.slice(1))) !== null};
  });
  var out = document.createElement("pre");
  out.id = "toytheory-probe";
  out.textContent = JSON.stringify({images: imgs, rows: rows, links: links,
                                    errors: window.__toy.errors, console: window.__toy.console});
  document.body.appendChild(out);
});
</script>"""


def _browser():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _draw(page: Path) -> dict:
    """Load ``page`` in headless Chromium with the probe; return what the probe measured,
    with the console lines Chromium itself logged (``CONSOLE(...)``) added."""
    browser = _browser()
    if browser is None:
        pytest.skip("no headless Chromium here (apt-get install -y chromium to run this)")
    text = page.read_text()
    probed = page.with_name("probed-" + page.name)
    probed.write_text(text.replace("</head>", _PROBE_HEAD + "</head>", 1)
                      .replace("</body>", _PROBE_BODY + "</body>", 1))
    proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
                           "--dump-dom", probed.as_uri()],
                          capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="toytheory-probe">([^<]*)</pre>', proc.stdout)
    assert found, proc.stderr[-2000:]
    measured = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&")
                          .replace("&lt;", "<").replace("&gt;", ">"))
    measured["chromium_console"] = [line for line in proc.stderr.splitlines()
                                    if ":CONSOLE(" in line]
    return measured


def _problems(measured: dict, results: dict, folder: Path) -> list[str]:
    """Everything wrong with the drawn page (empty when the report is sound)."""
    bad = []
    if not measured["images"]:
        bad.append("no figure on the page")
    bad += [f"figure did not load: {im['src']}" for im in measured["images"] if not im["ok"]]
    want = sorted((c["id"], c["verdict"]) for c in results["claims"])
    got = sorted(tuple(r) for r in measured["rows"])
    if got != want:
        bad.append(f"summary rows {got} != results.json {want}")
    for link in measured["links"]:
        href = link["href"]
        if href.startswith("#"):
            if not link["ok"]:
                bad.append(f"internal link {href} has no target")
        elif not re.match(r"^[a-z]+:", href) and not (folder / href.split("#")[0]).exists():
            bad.append(f"relative link {href} has no file")
    bad += [f"error event: {e}" for e in measured["errors"]]
    bad += [f"console: {c}" for c in measured["console"]]
    bad += [f"chromium console: {c}" for c in measured["chromium_console"]]
    return bad


def _results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


def test_the_report_draws_cleanly_in_chromium(report_dir):  # noqa: F811
    measured = _draw(report_dir / "report.html")
    assert _problems(measured, _results(report_dir), report_dir) == []
    assert measured["links"], "the summary links each claim to its section"


def test_the_browser_checks_see_planted_faults(report_dir, tmp_path):  # noqa: F811
    """A figure that does not load, a summary row removed, a dangling internal link and a
    console error, planted in one copy of the page: each is reported. Power: deterministic —
    fixed page edits, no random draw."""
    page = (report_dir / "report.html").read_text()
    results = _results(report_dir)
    first = results["claims"][0]["id"]
    # the first summary row (each row starts with a link to its claim's section)
    page, n_rows = re.subn(r"<tr><td><a href=\"#claim-[^\"]*\">.*?</tr>", "", page, count=1)
    assert n_rows == 1
    page = re.sub(r'<img src="[^"]*"', '<img src="figures/missing.png"', page, count=1)
    page = page.replace("</body>", '<a href="#nowhere">x</a>'
                                   '<script>console.error("planted")</script></body>', 1)
    (tmp_path / "report.html").write_text(page)
    problems = "\n".join(_problems(_draw(tmp_path / "report.html"), results, tmp_path))
    assert "figure did not load: figures/missing.png" in problems
    assert "summary rows" in problems and first.split(".")[0] in problems
    assert "internal link #nowhere has no target" in problems
    assert "console: error: planted" in problems

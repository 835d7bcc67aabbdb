"""Reports as a reader's browser shows them: headless Chromium at a page width, for layout checks and PNGs.

:func:`layout_problems` opens a report at 1,280 px (the width a manager's laptop browser gives a page) and
lists what a reader would stumble on: a table, figure or output wider than its column (a hidden column or a
horizontal scroll bar), and a Python traceback or warning printed into the report. :func:`screenshot` writes
a whole-page PNG for review. Both drive Debian's ``chromium`` package through its command line (no driver
library): a small script added to a temporary copy of the page measures the laid-out page and writes its
findings into the DOM, which ``--dump-dom`` returns.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

#: the page width every report must fit, in CSS pixels
PAGE_WIDTH = 1280

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")

# Measures the laid-out page. A problem is any table, image or svg whose right edge passes the page's, and
# any output area whose content is wider than the area (it would scroll or clip: the nbconvert lab template
# gives outputs overflow-x auto, so the page itself never scrolls and a page-level check alone misses it).
_PROBE = r"""
<script>
window.addEventListener('load', function () {
  var W = document.documentElement.clientWidth, out = [];
  function where(el) {
    var h = null, n = el;
    while (n && !h) {
      var p = n.previousElementSibling;
      while (p && !h) {
        var hs = p.matches && p.matches('h1,h2,h3') ? [p] : (p.querySelectorAll ? p.querySelectorAll('h1,h2,h3') : []);
        if (hs.length) { h = hs[hs.length - 1]; }
        p = p.previousElementSibling;
      }
      n = n.parentElement;
    }
    return h ? h.textContent.replace(/\u00b6/g, '').trim() : '(top of page)';
  }
  document.querySelectorAll('table, img, svg').forEach(function (el) {
    if (el.closest('svg') && el.tagName.toLowerCase() !== 'svg') return;
    var r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > W + 1) {
      out.push({kind: el.tagName.toLowerCase() + ' wider than the page', where: where(el),
                width: Math.round(r.width), right: Math.round(r.right)});
    }
  });
  document.querySelectorAll('.jp-OutputArea-output').forEach(function (el) {
    if (el.scrollWidth > el.clientWidth + 1) {
      out.push({kind: 'output wider than its column', where: where(el),
                width: el.scrollWidth, right: el.clientWidth});
    }
  });
  document.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]').forEach(function (el) {
    var t = el.textContent;
    out.push({kind: /Traceback|Error/.test(t) ? 'traceback' : 'warning printed', where: where(el),
              text: t.trim().slice(0, 200)});
  });
  if (document.body.innerText.indexOf('Traceback (most recent call ' + 'last)') >= 0 &&
      !out.some(function (p) { return p.kind === 'traceback'; })) {
    out.push({kind: 'traceback', where: '(page)', text: 'Traceback (most recent call last)'});
  }
  var pre = document.createElement('pre');
  pre.id = 'cmlib-layout-probe';
  pre.textContent = JSON.stringify({width: W, height: document.documentElement.scrollHeight,
                                    problems: out});
  document.body.appendChild(pre);
});
</script>
"""


def find_chromium() -> str | None:
    """The path of a Chromium or Chrome executable on PATH (``CMLIB_CHROMIUM`` overrides), else None."""
    override = os.environ.get("CMLIB_CHROMIUM")
    if override:
        return override
    for name in _CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _chromium(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError(
            "no Chromium on PATH: install Debian's 'chromium' package (apt-get install chromium)"
        )
    with tempfile.TemporaryDirectory(prefix="cmlib-chromium-") as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
            f"--user-data-dir={profile}",
            *args,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def measure(html_path: Path | str, width: int = PAGE_WIDTH, timeout: float = 120) -> dict:
    """Lay out ``html_path`` at ``width`` CSS pixels; returns ``{width, height, problems: [...]}``.

    Each problem is a dict with ``kind`` ('table wider than the page', 'img wider than the page', 'output
    wider than its column', 'traceback', 'warning printed'), ``where`` (the heading above it) and the
    measured ``width``/``right`` in pixels or the ``text`` shown."""
    src = Path(html_path)
    page = src.read_text(encoding="utf-8")
    probe = page.replace("</body>", _PROBE + "</body>", 1) if "</body>" in page else page + _PROBE
    # the copy sits beside the original so relative links resolve the same way
    fd, tmp = tempfile.mkstemp(prefix=".probe-", suffix=".html", dir=src.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(probe)
        res = _chromium(
            [f"--window-size={width},900", "--virtual-time-budget=10000", "--dump-dom", Path(tmp).as_uri()],
            timeout,
        )
    finally:
        os.unlink(tmp)
    start = res.stdout.find('<pre id="cmlib-layout-probe">')
    if start < 0:
        raise RuntimeError(
            f"Chromium did not lay out {src.name} (exit {res.returncode}): {res.stderr[-500:]}"
        )
    body = res.stdout[start + len('<pre id="cmlib-layout-probe">') : res.stdout.find("</pre>", start)]
    import html as _html

    return json.loads(_html.unescape(body))


def layout_problems(html_path: Path | str, width: int = PAGE_WIDTH, found: dict | None = None) -> list[str]:
    """One readable line per layout problem of a report at ``width`` px (empty when the page is clean);
    ``found``: a :func:`measure` of the page already made at that width."""
    found = found if found is not None else measure(html_path, width)
    lines = []
    for p in found["problems"]:
        if "text" in p:
            lines.append(f"{Path(html_path).name}: {p['kind']} under '{p['where']}': {p['text'][:120]!r}")
        else:
            lines.append(
                f"{Path(html_path).name}: {p['kind']} under '{p['where']}' ({p['width']} px, page {width} px)"
            )
    return lines


def screenshot(
    html_path: Path | str, png_path: Path | str, width: int = PAGE_WIDTH, found: dict | None = None
) -> Path:
    """A whole-page PNG of a report at ``width`` px (its height from ``found``, a :func:`measure` of the page,
    else measured first)."""
    found = found if found is not None else measure(html_path, width)
    height = min(int(found["height"]) + 20, 30000)
    out = Path(png_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    res = _chromium(
        [
            f"--window-size={width},{height}",
            "--virtual-time-budget=10000",
            f"--screenshot={out.resolve()}",
            Path(html_path).resolve().as_uri(),
        ],
        120,
    )
    if not out.exists():
        raise RuntimeError(f"Chromium wrote no screenshot of {html_path} (exit {res.returncode})")
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m cmlib.report.browser [RUN_FOLDER] [--out DIR]``: a PNG of every report of a published run
    (default ``reports/latest``) and the index, and its layout problems; exit 1 when there are any."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m cmlib.report.browser", description=main.__doc__)
    ap.add_argument("run", nargs="?", default="reports/latest", help="a published run folder")
    ap.add_argument("--out", default=None, help="folder for the PNGs (default: RUN/screenshots)")
    ap.add_argument("--width", type=int, default=PAGE_WIDTH, help="page width in CSS pixels")
    a = ap.parse_args(argv)
    run = Path(a.run).resolve()
    pages = sorted(run.glob("*.html"))
    if not pages:
        ap.error(f"no HTML reports in {a.run} (run `make reports` first)")
    index = run.parent / "index.html"
    pages += [index] if index.exists() else []
    out = Path(a.out) if a.out else run / "screenshots"
    problems = []
    for page in pages:
        stem = "dashboard" if page == index else ("run" if page.stem == "index" else page.stem)
        found = measure(page, a.width)  # one layout serves the PNG's height and the problems
        png = screenshot(page, out / f"{stem}.png", a.width, found)
        problems += layout_problems(page, a.width, found)
        print(f"{png}")
    for line in problems:
        print(line)
    print(f"{len(pages)} pages at {a.width} px: {len(problems)} layout problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

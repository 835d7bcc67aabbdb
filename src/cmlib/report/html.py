"""Notebook → self-contained HTML that opens offline.

The summary-tagged cells come first (right after the title); code is hidden unless asked for, except the
cell that failed, so a reader sees what broke. nbconvert's templates load MathJax, require.js and mermaid
from a CDN even without code: those script tags are removed (the reports use no LaTeX or diagrams).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

SUMMARY_TAG = "summary"
_CDN_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=[\"']https?://[^>]*>\s*</script>", re.I | re.S)
_CDN_BLOCK = re.compile(
    r"<script\b[^>]*>(?:(?!</script>).)*?https?://cdn(?:(?!</script>).)*?</script>", re.I | re.S
)
_CDN_LINK = re.compile(r"<link\b[^>]*\bhref=[\"']https?://[^>]*>", re.I)


def summary_first(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Move the summary-tagged cells right after the title cell (and papermill's error banner)."""
    cells = nb.cells
    summary = [c for c in cells if SUMMARY_TAG in c.get("metadata", {}).get("tags", [])]
    if not summary:
        return nb
    rest = [c for c in cells if c not in summary]
    head = 0
    # keep papermill's error banner and the notebook's title on top
    while (
        head < len(rest)
        and rest[head].cell_type == "markdown"
        and head < 2
        and (head == 0 or "papermill-error-cell-tag" in rest[head - 1].get("metadata", {}).get("tags", []))
    ):
        head += 1
    nb.cells = rest[:head] + summary + rest[head:]
    return nb


def summary_lines(ipynb: Path | str) -> list[str]:
    """The text an executed notebook's summary-tagged cells showed (markdown outputs), one entry per bullet
    or paragraph, as markdown (``**bold**`` kept): what the dashboard repeats for each report."""
    nb = nbformat.read(str(ipynb), as_version=4)
    lines: list[str] = []
    for c in nb.cells:
        if SUMMARY_TAG not in c.get("metadata", {}).get("tags", []) or c.cell_type != "code":
            continue
        for o in c.get("outputs", []):
            text = o.get("data", {}).get("text/markdown")
            if not text:
                continue
            for line in (text if isinstance(text, str) else "".join(text)).splitlines():
                line = line.strip()
                if line:
                    lines.append(line[2:] if line.startswith("- ") else line)
    return lines


def failed_cell_index(nb: nbformat.NotebookNode) -> int | None:
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code" and any(o.get("output_type") == "error" for o in c.get("outputs", [])):
            return i
    return None


def strip_cdn(html: str) -> str:
    """Remove every script or stylesheet that would be fetched from the network."""
    html = _CDN_SCRIPT.sub("", html)
    html = _CDN_BLOCK.sub("", html)
    return _CDN_LINK.sub("", html)


def to_html(
    ipynb: Path | str, html_path: Path | str, *, with_code: bool = False, title: str | None = None
) -> Path:
    """Export an executed notebook to ``html_path`` (summary first, offline, code hidden by default)."""
    nb = nbformat.read(str(ipynb), as_version=4)
    failed = failed_cell_index(nb)
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code":
            tags = c.get("metadata", {}).get("tags", [])
            if not with_code and (i != failed or "injected-parameters" in tags):
                c.metadata.setdefault("transient", {})["remove_source"] = True
    nb = summary_first(nb)
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input_prompt = not with_code
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title or Path(ipynb).stem}})
    out = Path(html_path)
    out.write_text(strip_cdn(body), encoding="utf-8")
    return out

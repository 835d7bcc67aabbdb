"""Reporting: theme, formatters, metric recording, the papermill runner and its HTML reports.

The names below are loaded on first use (PEP 562): the runner's executor imports ``cmlib.report.html`` and
``cmlib.report._execute`` once per notebook and should not pay for pandas (~1 s) to do so.
"""

from cmlib.lazy import lazy_exports

_EXPORTS = {
    "amount": "format",
    "bullets": "format",
    "count": "format",
    "escape": "format",
    "md": "format",
    "money": "format",
    "p_is": "format",
    "pct": "format",
    "pp": "format",
    "pvalue": "format",
    "set_currency": "format",
    "table": "format",
    "table_by_row": "format",
    "artefact_dir": "metrics",
    "find_artefact": "metrics",
    "fingerprint": "metrics",
    "glossary": "glossary",
    "locate_artefacts": "metrics",
    "note_fallback": "metrics",
    "private_dir": "metrics",
    "record": "metrics",
    "record_input": "metrics",
    "recorded": "metrics",
    "colors": "theme",
    "set_theme": "theme",
}


def _set_renderer() -> None:
    from cmlib.base import set_html_renderer
    from cmlib.report.format import table

    # a result named in a notebook cell shows the same formatted table as the report
    set_html_renderer(lambda summary: table(summary).to_html())


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, on_first=_set_renderer)

__all__ = sorted(_EXPORTS)

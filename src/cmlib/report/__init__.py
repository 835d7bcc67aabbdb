"""Reporting: theme, formatters, metric recording, the papermill runner and its HTML reports.

The names below are loaded on first use (PEP 562): the runner's executor imports ``cmlib.report.html`` and
``cmlib.report._execute`` once per notebook and should not pay for pandas (~1 s) to do so.
"""

from importlib import import_module

_EXPORTS = {
    "bullets": "format",
    "count": "format",
    "escape": "format",
    "md": "format",
    "money": "format",
    "pct": "format",
    "pp": "format",
    "pvalue": "format",
    "table": "format",
    "table_by_row": "format",
    "artefact_dir": "metrics",
    "find_artefact": "metrics",
    "fingerprint": "metrics",
    "locate_artefacts": "metrics",
    "note_fallback": "metrics",
    "private_dir": "metrics",
    "record": "metrics",
    "record_input": "metrics",
    "recorded": "metrics",
    "colors": "theme",
    "set_theme": "theme",
}
_renderer_set = False


def __getattr__(name: str):
    global _renderer_set
    if name not in _EXPORTS:
        raise AttributeError(f"module 'cmlib.report' has no attribute {name!r}")
    if not _renderer_set:
        from cmlib.base import set_html_renderer
        from cmlib.report.format import table

        # a result named in a notebook cell shows the same formatted table as the report
        set_html_renderer(lambda summary: table(summary).to_html())
        _renderer_set = True
    value = getattr(import_module(f"cmlib.report.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_EXPORTS])


__all__ = sorted(_EXPORTS)

"""Reporting: theme, formatters, metric recording, the papermill runner and its HTML reports."""

from cmlib.base import set_html_renderer
from cmlib.report.format import bullets, count, escape, md, money, pct, pp, pvalue, table, table_by_row
from cmlib.report.metrics import (
    artefact_dir,
    find_artefact,
    fingerprint,
    locate_artefacts,
    note_fallback,
    private_dir,
    record,
    record_input,
    recorded,
)
from cmlib.report.theme import colors, set_theme

# a result named in a notebook cell shows the same formatted table as the report
set_html_renderer(lambda summary: table(summary).to_html())

__all__ = [
    "artefact_dir",
    "bullets",
    "colors",
    "count",
    "escape",
    "find_artefact",
    "fingerprint",
    "locate_artefacts",
    "md",
    "note_fallback",
    "money",
    "pct",
    "pp",
    "private_dir",
    "pvalue",
    "record",
    "record_input",
    "recorded",
    "set_theme",
    "table",
    "table_by_row",
]

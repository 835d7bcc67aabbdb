"""Reporting: theme, formatters, metric recording, the papermill runner and its HTML reports."""

from cmlib.report.format import bullets, count, escape, md, money, pct, pp, pvalue, table
from cmlib.report.metrics import (
    artefact_dir,
    find_artefact,
    fingerprint,
    record,
    record_input,
    recorded,
)
from cmlib.report.theme import colors, set_theme

__all__ = ["artefact_dir", "bullets", "colors", "count", "escape", "find_artefact", "fingerprint", "md", "money",
           "pct", "pp", "pvalue", "record", "record_input", "recorded", "set_theme", "table"]

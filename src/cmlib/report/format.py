"""Formatters: rates are fractions in code and percentages only here; money carries no symbol.

Text that comes from data is HTML-escaped before it reaches a report (:func:`md`, :func:`table`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from typing import Any

import pandas as pd
from IPython.display import Markdown


def _missing(x) -> bool:
    """None or NaN: shown as an en dash by every formatter."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def pct(x: float, digits: int = 1, signed: bool = False) -> str:
    """0.0213 → '2.1%' (``signed`` adds '+' to positive values: for lifts)."""
    if _missing(x):
        return "–"
    return f"{x * 100:{'+' if signed else ''}.{digits}f}%"


def pp(x: float, digits: int = 1) -> str:
    """A difference of two rates in percentage points: 0.012 → '+1.2 pp'."""
    if _missing(x):
        return "–"
    return f"{x * 100:+.{digits}f} pp"


def money(x: float, digits: int = 0) -> str:
    """1234567.8 → '1,234,568' (no currency symbol: the portfolio currency is the reader's)."""
    if _missing(x):
        return "–"
    return f"{x:,.{digits}f}"


def count(x: float) -> str:
    """12345 → '12,345'."""
    if _missing(x):
        return "–"
    return f"{int(round(x)):,}"


def num(x: float, digits: int = 3) -> str:
    if _missing(x):
        return "–"
    return f"{x:,.{digits}f}"


def pvalue(p: float) -> str:
    """A p-value for prose: two significant digits, '< 1e-16' below double precision's resolution."""
    if _missing(p):
        return "–"
    return "< 1e-16" if p < 1e-16 else f"{p:.2g}"


def escape(x: Any) -> str:
    """HTML-escape any value's text (for data-derived strings in markdown/HTML)."""
    return html.escape(str(x), quote=True)


def md(template: str, **values: Any) -> Markdown:
    """Markdown from a template written in the notebook and values computed by code.

    Values are escaped (and also neutralised for markdown emphasis) so a customer-supplied string such
    as ``<script>`` or ``*`` cannot change the report.
    """
    safe = {
        k: escape(v).replace("*", "&#42;").replace("_", "&#95;").replace("`", "&#96;")
        for k, v in values.items()
    }
    return Markdown(template.format(**safe))


def bullets(lines: Iterable[str]) -> Markdown:
    """A markdown bullet list of sentences composed in code; each line is HTML-escaped, so data-derived
    text (segment or arm names) cannot inject markup, while ``**bold**`` written by the notebook stays."""
    return Markdown("\n".join(f"- {escape(line)}" for line in lines))


def table(
    df: pd.DataFrame,
    percent: Iterable[str] = (),
    money_cols: Iterable[str] = (),
    counts: Iterable[str] = (),
    digits: int = 3,
    caption: str | None = None,
):
    """A display-ready Styler: percent/money/count columns formatted, every text cell escaped."""
    fmt: dict[str, Any] = {}
    for c in df.columns:
        if c in set(percent):
            fmt[c] = pct
        elif c in set(money_cols):
            # large amounts to the unit, per-contact amounts to the cent
            big = pd.to_numeric(df[c], errors="coerce").abs().median() >= 1000
            fmt[c] = (lambda v: money(v, 0)) if big else (lambda v: money(v, 2))
        elif pd.api.types.is_datetime64_any_dtype(df[c]):
            fmt[c] = lambda v: "–" if pd.isna(v) else v.strftime("%Y-%m-%d")
        elif c in set(counts):
            fmt[c] = count
        elif pd.api.types.is_float_dtype(df[c]):
            fmt[c] = lambda v, d=digits: num(v, d)
    sty = df.style.format(fmt, escape="html", na_rep="–").format_index(escape="html", axis=0)
    sty = sty.format_index(escape="html", axis=1)
    if isinstance(df.index, pd.RangeIndex):
        sty = sty.hide(axis="index")  # a row number is noise in a report
    if caption:
        sty = sty.set_caption(escape(caption))
    return sty

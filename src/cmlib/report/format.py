"""Formatters: rates are fractions in code and percentages only here; money in prose carries the report's
currency and a scale (:func:`money`), in tables only its digits (:func:`amount`: the currency is stated once).

Text that comes from data is HTML-escaped before it reaches a report (:func:`md`, :func:`table`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from IPython.display import Markdown


def _missing(x) -> bool:
    """None or NaN: shown as an en dash by every formatter."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def pct(x: float, digits: int = 1, signed: bool = False) -> str:
    """0.0213 → '2.1%' (``signed`` adds '+' to positive values: for lifts)."""
    if _missing(x):
        return "–"
    v = round(x * 100, digits) + 0.0  # + 0.0: a change that rounds to zero is "0.0%", never "-0.0%"
    return f"{v:{'+' if signed else ''}.{digits}f}%"


def pp(x: float, digits: int = 1) -> str:
    """A difference of two rates in percentage points: 0.012 → '+1.2 pp'."""
    if _missing(x):
        return "–"
    return f"{round(x * 100, digits) + 0.0:+.{digits}f} pp"


#: the portfolio currency of the report being written (ISO code, e.g. "EUR"): :func:`set_currency`
_currency = {"code": ""}


def set_currency(code: str) -> str:
    """Set the currency every :func:`money` in this report is stated in (a notebook parameter, once per
    report); returns the sentence that states it, for the report's introduction."""
    code = str(code).strip()
    if not code or len(code) > 5 or not code.replace(".", "").isalpha():
        from cmlib.errors import ParameterError

        raise ParameterError("currency", "a currency code such as EUR, USD or GBP", code)
    _currency["code"] = code.upper()
    return f"Amounts are in {_currency['code']}."


def amount(x: float, digits: int = 0) -> str:
    """A money amount in a table cell: 1234567.8 → '1,234,568' (the currency is stated once per report)."""
    if _missing(x):
        return "–"
    return f"{x:,.{digits}f}"


def money(x: float, digits: int | None = None) -> str:
    """A money amount in prose, with the report's currency (:func:`set_currency`) and scale:
    71.2e9 → 'EUR 71.2bn', 3.41e6 → 'EUR 3.4M', 24,972 → 'EUR 24,972', 8 → 'EUR 8.00'. ``digits``
    below a million: decimals (default 0, or 2 under 100, where cents matter)."""
    if _missing(x):
        return "–"
    a = abs(x)
    if a >= 1e9:
        body = f"{x / 1e9:,.1f}bn"
    elif a >= 1e6:
        body = f"{x / 1e6:,.1f}M"
    else:
        body = amount(x, (2 if a < 100 else 0) if digits is None else digits)
    return f"{_currency['code']} {body}" if _currency["code"] else body


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


def p_is(p: float) -> str:
    """A p-value after the letter p in prose: '= 0.086', or '< 1e-16' (never 'p = < 1e-16')."""
    text = pvalue(p)
    return text if text.startswith("<") or text == "–" else f"= {text}"


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


#: business labels for result columns, one registry for every report (a column not listed keeps its name,
#: underscores read as spaces)
LABELS = {
    "abs_lift": "difference",
    "abs_ci_low": "difference, low",
    "abs_ci_high": "difference, high",
    "rel_lift": "relative lift",
    "rel_ci_low": "relative lift, low",
    "rel_ci_high": "relative lift, high",
    "ci_low": "interval low",
    "ci_high": "interval high",
    "hr_ci_low": "hazard ratio, low",
    "hr_ci_high": "hazard ratio, high",
    "n_control": "n, control",
    "n_arm": "n, offer",
    "control_mean": "control",
    "arm_mean": "offer",
    "p_value": "p-value",
    "p_adjusted": "p-value (Holm)",
    "npv_per_unit_spent": "NPV per unit spent",
    "cost_per_acquisition": "cost per booking",
    "bad_rate_12m": "bad rate (90+ DPD in 12 months)",
    "mape": "MAPE",
    "auuc": "AUUC",
    "psi": "PSI",
    "iv": "IV",
    "woe": "WoE",
    "rmst": "RMST (months)",
    "rmst_se": "RMST s.e.",
    "early_dpd30_rate": "30+ DPD in 3 months",
    "complaints_per_10k": "complaints per 10k contacts",
    "per_10k": "per 10k contacts",
    "ratio_to_others": "× other campaigns",
    "nps": "NPS",
    "apr_advertised": "APR advertised",
    "apr_max_disclosed": "APR max. disclosed",
    "kpi": "KPI",
    "approval_rate_n": "applications",
    "approval_rate_ci_low": "approval, interval low",
    "approval_rate_ci_high": "approval, interval high",
    "early_dpd30_rate_n": "bookings 13+ weeks old",
    "early_dpd30_rate_ci_low": "30+ DPD, interval low",
    "early_dpd30_rate_ci_high": "30+ DPD, interval high",
    "net_value": "value booked net of spend",
    "net_value_high": "the same, bookings at their upper bound",
    "losing": "loses money beyond doubt",
    "apr": "APR, % a year",
    "our_gap_pp": "our APR minus theirs, points",
    "move_12m_pp": "their move over 12 months, points",
    "share_change": "effect of this gap on our share",
    "latest_move_pp": "latest month's move, points",
    "bookings_control": "bookings, control",
    "bookings_offer": "bookings, offer",
    "early_dpd30_3m": "30+ DPD within 3 months",
    "smd": "standardised difference",
    "bound": "one-sided bound of the difference",
    # row labels (index values) as well: model terms and states a reader should not have to decode
    "price_gap_pp": "price gap (our APR − competitors' average, points)",
    "ar.L1": "autocorrelation of the residual (AR1)",
    "policy_rate": "policy rate",
    "trend": "trend (log a month)",
    "level_change": "level change (log)",
    "slope_change": "slope change (log a month)",
    "from_state": "from",
    "to_state": "to",
    "current": "current",
    "dpd30": "30 DPD",
    "dpd60": "60 DPD",
    "dpd90": "90+ DPD",
    "charged_off": "charged off",
    "clv": "lifetime value",
    "response_rate": "response rate",
    "misleading_rate_or_fees": "misleading rate or fees",
}

#: columns that hold a difference of two rates: shown in percentage points when formatted as rates
DIFFERENCES = {
    "abs_lift",
    "abs_ci_low",
    "abs_ci_high",
    "difference",
    "save_rate",
    "share_change",
    "bound",
    "margin",
    "lift_abs",
}


def label(column: str) -> str:
    """The business label of a result column (:data:`LABELS`), else its name with spaces."""
    return LABELS.get(column, str(column).replace("_", " "))


def _is_pvalue(column: str) -> bool:
    c = str(column).lower()
    return (
        c in {"p", "pvalue"}
        or c.startswith("p_value")
        or c in {"p_adjusted", "logrank_p"}
        or c.endswith("_p_value")
        or c.endswith("p_adjusted")
    )


def table_pvalue(p: float) -> str:
    """A p-value in a table: three decimals, '< 0.001' below that (never '0.000')."""
    if _missing(p):
        return "–"
    # the Styler does not escape a formatter's output: the entity keeps the HTML valid
    return "&lt; 0.001" if p < 0.001 else f"{p:.3f}"


def _whole(values: pd.Series) -> bool:
    v = pd.to_numeric(values, errors="coerce").dropna()
    v = v[v.abs() != float("inf")]
    return len(v) > 0 and bool((v == v.round()).all()) and bool((v.abs() < 1e15).all())


def _digits_for(values: pd.Series, digits: int) -> int:
    """Decimals that show a column's precision: small numbers (a monthly trend of 0.0041, its standard error)
    get three significant digits instead of collapsing to '0.004 to 0.004' or '0.000'; large ones (an AIC
    of 12,345.678) one decimal at most."""
    v = pd.to_numeric(values, errors="coerce").abs()
    v = v[np.isfinite(v) & (v > 0)]
    if v.empty:
        return digits
    m = float(v.median())
    if m < 10.0 ** (1 - digits):
        return int(min(6, np.ceil(-np.log10(m)) + 2))
    if m >= 1000:
        return min(digits, 1)
    return digits


def table(
    df: pd.DataFrame,
    percent: Iterable[str] = (),
    money_cols: Iterable[str] = (),
    counts: Iterable[str] = (),
    digits: int = 3,
    caption: str | None = None,
    labels: bool = True,
    max_rows: int | None = 30,
):
    """A display-ready Styler, the same rules in every report: a table longer than ``max_rows`` shows its
    first rows with "top N of M" in the caption and is written whole as a CSV beside the run's artefacts
    (``tables/<notebook>-<k>.csv``, named in the caption); percent/money/count columns formatted; rate
    differences (:data:`DIFFERENCES`) in percentage points; p-values '< 0.001' rather than '0.000';
    float columns of whole numbers (scores, months) without decimals; infinite values (a median never
    reached) as '–'; business labels for the column headers (:data:`LABELS`; ``labels=False`` keeps the
    names); no index column unless it is named (a row number is noise); every text cell escaped."""
    if max_rows is not None and len(df) > max_rows:
        whole = _write_whole_table(df)
        caption = f"{caption + ' — ' if caption else ''}top {max_rows} of {len(df):,} rows; the whole table: {whole}"
        df = df.head(max_rows)
    fmt: dict[str, Any] = {}
    pcts, monies, cnts = set(percent), set(money_cols), set(counts)
    for c in df.columns:
        if c in pcts:
            fmt[c] = pp if c in DIFFERENCES else pct
        elif c in monies:
            # large amounts to the unit, per-contact amounts to the cent
            big = pd.to_numeric(df[c], errors="coerce").abs().median() >= 1000
            fmt[c] = (lambda v: amount(v, 0)) if big else (lambda v: amount(v, 2))
        elif pd.api.types.is_datetime64_any_dtype(df[c]):
            fmt[c] = lambda v: "–" if pd.isna(v) else v.strftime("%Y-%m-%d")
        elif c in cnts:
            fmt[c] = count
        elif _is_pvalue(c) and pd.api.types.is_numeric_dtype(df[c]):
            fmt[c] = table_pvalue
        elif pd.api.types.is_float_dtype(df[c]):
            if _whole(df[c]):
                fmt[c] = lambda v: "–" if _missing(v) or abs(v) == float("inf") else f"{v:,.0f}"
            else:
                d = _digits_for(df[c], digits)
                fmt[c] = lambda v, d=d: "–" if not _missing(v) and abs(v) == float("inf") else num(v, d)
    # row labels: registry entries only (a segment or arm name keeps its spelling, as the prose writes it)
    sty = df.style.format(fmt, escape="html", na_rep="–").format_index(
        lambda v: escape(LABELS.get(v, v) if isinstance(v, str) else v), axis=0
    )
    if labels:
        sty = sty.format_index(lambda c: escape(label(c)), axis=1)
        # the names of the index and column axes too ("from_state" over a transition matrix's rows)
        sty = sty.format_index_names(lambda n: escape(label(n)), axis=0)
        sty = sty.format_index_names(lambda n: escape(label(n)), axis=1)
    else:
        sty = sty.format_index(escape="html", axis=1)
    if df.index.name is None and pd.api.types.is_integer_dtype(df.index):
        sty = sty.hide(axis="index")  # a row number is noise in a report
    if caption:
        sty = sty.set_caption(escape(caption))
    return sty


_tables_written = {"n": 0}


def _write_whole_table(df: pd.DataFrame) -> str:
    """Write a long table whole as CSV under the artefact folder's ``tables/``; returns its relative name."""
    from cmlib.report.metrics import artefact_dir, current_notebook

    _tables_written["n"] += 1
    name = f"tables/{current_notebook()}-{_tables_written['n']}.csv"
    path = artefact_dir() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=df.index.name is not None or not pd.api.types.is_integer_dtype(df.index))
    return f"artefacts/{name}"


def table_by_row(
    df: pd.DataFrame,
    units: dict[str, str],
    changes: Iterable[str] = (),
    digits: int = 2,
    muted: pd.DataFrame | None = None,
    caption: str | None = None,
):
    """A Styler for a table whose rows carry different units (a KPI tree: counts, rates, money): each row of
    ``units`` ("count", "percent", "money", "number") formatted by its unit in every column except ``changes``
    (relative changes, signed percent). ``muted``: cells (True) shown in grey, such as changes within noise.
    Labels and escaping as :func:`table`."""
    fns = {
        "count": count,
        "percent": pct,
        "money": lambda v: amount(v, 2) if not _missing(v) and abs(v) < 1000 else amount(v),
        "number": lambda v: num(v, digits),
    }
    chg = [c for c in changes if c in df.columns]
    sty = df.style.format(na_rep="–", escape="html")
    for row, unit in units.items():
        if row in df.index:
            sty = sty.format(
                fns[unit], subset=pd.IndexSlice[[row], [c for c in df.columns if c not in chg]], na_rep="–"
            )
    if chg:
        sty = sty.format(lambda v: pct(v, 1, signed=True), subset=chg, na_rep="–")
    sty = sty.format_index(lambda c: escape(label(c)), axis=0).format_index(
        lambda c: escape(label(c)), axis=1
    )
    if muted is not None:
        grey = muted.reindex(index=df.index, columns=df.columns).fillna(False).astype(bool)
        sty = sty.apply(lambda _: np.where(grey, "color: #9a9a9a", ""), axis=None)
    if caption:
        sty = sty.set_caption(escape(caption))
    return sty

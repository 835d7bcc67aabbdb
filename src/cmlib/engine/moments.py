"""cmlib.engine — funnel, moments (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import pandas as pd

from cmlib.engine.core import _bool_count, _columns_exist, execute, table


def funnel_counts(
    data: Any, stages: Sequence[str], by: Sequence[str] = (), backend: str = "duckdb"
) -> pd.DataFrame:
    """Per group: ``n`` rows and ``n_<stage>`` = rows where the stage flag is true (NULL counts as false).

    Stages are boolean (or 0/1) columns in funnel order, e.g. responded, applied, approved, booked.
    """
    t = table(data, backend)
    _columns_exist(t, [*stages, *by])
    aggs = {"n": t.count().cast("int64")}
    for s in stages:
        aggs[f"n_{s}"] = _bool_count(t[s].cast("boolean").fill_null(False))
    expr = t.group_by(list(by)).aggregate(**aggs).order_by(list(by)) if by else t.aggregate(**aggs)
    return execute(expr, backend).reset_index(drop=True)


def moments(
    data: Any,
    columns: Sequence[str],
    by: Sequence[str] = (),
    pairs: Sequence[tuple[str, str]] = (),
    backend: str = "duckdb",
) -> pd.DataFrame:
    """Per group sufficient statistics of numeric columns, numerically stable, in one query.

    For each column ``c``: ``n_c`` (non-null rows), ``mean_c``, ``m2_c`` = Σ(c − mean)² and ``sum_c``.
    For each pair ``(y, x)``: ``n_y_x`` (rows where both are non-null), ``mean_y_x``/``mean_x_y`` on those
    rows, ``m2x_y_x`` = Σ(x − x̄)² and ``c_y_x`` = Σ(y − ȳ)(x − x̄) on those rows (CUPED, ratio metrics).

    Second moments come from the engines' population variance and covariance aggregates, which are
    computed with streaming (Welford/Chan) updates on DuckDB and Spark alike — never as Σx² − (Σx)²/n,
    which cancels catastrophically for large means. Values are cast to float64 first.
    """
    t = table(data, backend)
    cols = list(dict.fromkeys([*columns, *(c for p in pairs for c in p)]))
    _columns_exist(t, [*cols, *by])
    aggs: dict[str, Any] = {}
    for c in columns:
        x = t[c].cast("float64")
        aggs[f"n_{c}"] = t[c].count().cast("int64")
        aggs[f"mean_{c}"] = x.mean()
        aggs[f"var_{c}"] = x.var(how="pop")
    for y, x in pairs:
        both = t[y].notnull() & t[x].notnull()
        yy = ibis.ifelse(both, t[y].cast("float64"), None)
        xx = ibis.ifelse(both, t[x].cast("float64"), None)
        k = f"{y}_{x}"
        aggs[f"n_{k}"] = _bool_count(both)
        aggs[f"my_{k}"] = yy.mean()
        aggs[f"mx_{k}"] = xx.mean()
        aggs[f"vx_{k}"] = xx.var(how="pop")
        aggs[f"cov_{k}"] = yy.cov(xx, how="pop")
    expr = t.group_by(list(by)).aggregate(**aggs).order_by(list(by)) if by else t.aggregate(**aggs)
    raw = execute(expr, backend).reset_index(drop=True)
    out = raw[list(by)].copy()
    for c in columns:
        n = raw[f"n_{c}"].astype("int64")
        out[f"n_{c}"] = n
        out[f"mean_{c}"] = raw[f"mean_{c}"].astype(float)
        out[f"m2_{c}"] = (raw[f"var_{c}"].astype(float) * n).clip(lower=0.0)
        out[f"sum_{c}"] = (out[f"mean_{c}"] * n).fillna(0.0)
    for y, x in pairs:
        k = f"{y}_{x}"
        n = raw[f"n_{k}"].astype("int64")
        out[f"n_{k}"] = n
        out[f"mean_{y}_{x}"] = raw[f"my_{k}"].astype(float)
        out[f"mean_{x}_{y}"] = raw[f"mx_{k}"].astype(float)
        out[f"m2x_{k}"] = (raw[f"vx_{k}"].astype(float) * n).clip(lower=0.0)
        out[f"c_{k}"] = raw[f"cov_{k}"].astype(float) * n
    return out

"""cmlib.engine — binning (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from cmlib.engine.core import _as_float, _columns_exist, execute, in_threads, table
from cmlib.errors import ParameterError
from cmlib.vocab import special_label


def column_profile(data: Any, features: Sequence[str], backend: str = "duckdb") -> pd.DataFrame:
    """Per feature (rows of the result): ``numeric`` (a number or a boolean), ``n_values`` (non-NULL
    count), ``min``, ``max`` and ``n_distinct``, an *approximate* count of distinct non-NULL values
    (HyperLogLog on the engine; on a frame exact up to 1,000 and a lower bound above) — enough to tell a
    flag or a count from a continuous feature; callers that need the exact values ask
    :func:`distinct_values_many`. Exact COUNT DISTINCT of every column would cost more than a binning."""
    features = list(features)
    if isinstance(data, pd.DataFrame):
        _columns_exist(data, features, "training data")

        def one(f):
            col = data[f]
            if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
                x = _as_float(col)
                x = x[~np.isnan(x)]
                if not len(x):
                    return True, 0, None, None, 0
                sample = np.unique(x[:: max(1, len(x) // 10_000)])
                nd = len(sample) if len(sample) > 1_000 else len(np.unique(x))
                return True, len(x), float(x.min()), float(x.max()), nd
            v = col.dropna()
            nd = int(v.nunique())
            if not nd:
                return False, 0, None, None, 0
            try:
                return False, len(v), v.min(), v.max(), nd
            except TypeError:  # an unordered categorical, mixed objects: compare as the engine does, as text
                v = v.astype("string")
                return False, len(v), v.min(), v.max(), nd

        rows = in_threads(one, features)
    else:
        t = table(data, backend)
        _columns_exist(t, features, "training data")
        schema = t.schema()
        r = execute(
            t.aggregate(
                **{f"c{i}": t[f].count() for i, f in enumerate(features)},
                **{f"lo{i}": t[f].min() for i, f in enumerate(features)},
                **{f"hi{i}": t[f].max() for i, f in enumerate(features)},
                **{f"u{i}": t[f].approx_nunique() for i, f in enumerate(features)},
            ),
            backend,
        ).iloc[0]
        rows = [
            (
                schema[f].is_numeric() or schema[f].is_boolean(),
                int(r[f"c{i}"]),
                r[f"lo{i}"],
                r[f"hi{i}"],
                int(r[f"u{i}"] or 0),
            )
            for i, f in enumerate(features)
        ]
    return pd.DataFrame(
        rows,
        columns=["numeric", "n_values", "min", "max", "n_distinct"],
        index=pd.Index(features, name="feature"),
    )


def quantile_edges(
    data: Any, feature: str, n_bins: int = 20, special_values: Sequence[float] = (), backend: str = "duckdb"
) -> list[float]:
    """Interior cut points at ``n_bins`` quantiles of a numeric feature (special values and NULL excluded)."""
    return quantile_edges_many(data, {feature: special_values}, n_bins, backend)[feature]


def quantile_edges_many(
    data: Any, features: dict[str, Sequence[float]], n_bins: int = 20, backend: str = "duckdb"
) -> dict[str, list[float]]:
    """:func:`quantile_edges` of several features (feature → its special values) in one query."""
    if n_bins < 2:
        raise ParameterError("n_bins", "an integer ≥ 2", n_bins)
    qs = [i / n_bins for i in range(1, n_bins)]
    if isinstance(data, pd.DataFrame):
        _columns_exist(data, list(features), "training data")

        def edges(item):
            f, specials = item
            x = _as_float(data[f])
            x = x[~np.isnan(x) & ~np.isin(x, [float(v) for v in specials])]
            # linear interpolation between order statistics, as DuckDB's and Spark's quantile_cont
            return sorted({float(v) for v in np.quantile(x, qs)}) if len(x) else []

        return dict(zip(features, in_threads(edges, list(features.items())), strict=True))
    t = table(data, backend)
    _columns_exist(t, list(features), "training data")
    aggs = {}
    for k, (f, specials) in enumerate(features.items()):
        x = t[f].cast("float64")
        if specials:  # a special code is not a value: NULL it out of the quantiles
            x = ibis.ifelse(x.isin([float(v) for v in specials]), ibis.null("float64"), x)
        aggs[f"f{k}"] = x.quantile(qs)  # one multi-quantile aggregate per feature: one sort, not one per q
    if not aggs:
        return {}
    row = execute(t.aggregate(**aggs), backend).iloc[0]
    return {
        f: sorted({float(v) for v in (row[f"f{k}"] if row[f"f{k}"] is not None else []) if pd.notna(v)})
        for k, f in enumerate(features)
    }


def distinct_values_many(
    data: Any, features: Sequence[str], backend: str = "duckdb"
) -> dict[str, list[float]]:
    """Sorted distinct non-NULL values of several numeric features, in one query (for features with few
    values, such as flags and counts, where every value can be its own pre-bin)."""
    if not features:
        return {}
    if isinstance(data, pd.DataFrame):
        _columns_exist(data, list(features), "training data")

        def values(f):
            x = _as_float(data[f])
            return np.unique(x[~np.isnan(x)]).tolist()

        return dict(zip(features, in_threads(values, features), strict=True))
    t = table(data, backend)
    _columns_exist(t, list(features), "training data")
    cols = {f"v{k}": t[f].cast("float64") for k, f in enumerate(features)}
    long = t.select(**cols).pivot_longer(list(cols), names_to="_f", values_to="_v")
    # GROUP BY rather than DISTINCT: Ibis cannot compile DISTINCT over an unpivot for Spark (KeyError '__pivoted__')
    long = long.filter(long._v.notnull())
    res = execute(long.group_by(["_f", "_v"]).aggregate(n=long.count()).order_by(["_f", "_v"]), backend)
    return {f: res.loc[res["_f"] == f"v{k}", "_v"].astype(float).tolist() for k, f in enumerate(features)}


def _bin_index(
    x: ir.NumericValue, edges: Sequence[float], special_values: Sequence[float]
) -> ir.IntegerValue:
    branches = [(x.isnull(), -1)]
    branches += [(x == float(v), -2 - k) for k, v in enumerate(special_values)]
    branches += [(x < v, i) for i, v in enumerate(edges)]
    return ibis.cases(*branches, else_=len(edges))


def _interval_labels(
    res: pd.DataFrame, edges: Sequence[float], special_values: Sequence[float], at: int = 0
) -> pd.DataFrame:
    lower, upper = [-np.inf, *edges], [*edges, np.inf]

    def label(i: int) -> tuple[str, float, float]:
        if i == -1:
            return "missing", np.nan, np.nan
        if i <= -2:
            v = special_values[-2 - i]
            return special_label(v), np.nan, np.nan
        return f"[{lower[i]:g}, {upper[i]:g})", lower[i], upper[i]

    labs = [label(int(i)) for i in res["bin_index"]]
    res.insert(at, "bin", [lab[0] for lab in labs])
    res["lower"] = [lab[1] for lab in labs]
    res["upper"] = [lab[2] for lab in labs]
    return res


def _check_edges(edges: Sequence[float]) -> list[float]:
    e = [float(v) for v in edges]
    if any(b <= a for a, b in zip(e, e[1:], strict=False)):
        raise ParameterError("edges", "strictly increasing cut points", list(edges))
    return e


def _unpivoted_counts(
    t: ir.Table, y: ir.IntegerValue, values: dict[str, ir.Value], backend: str
) -> dict[str, pd.DataFrame]:
    """Rows and events per value of each expression (feature → expression), in one query: the columns are
    unpivoted to (feature, value) pairs and grouped. Per feature a frame with ``_v``, ``n``, ``n_event``."""
    cols = {f"c{k}": v for k, v in enumerate(values.values())}
    long = t.select(_y=y, **cols).pivot_longer(list(cols), names_to="_f", values_to="_v")
    res = execute(
        long.group_by(["_f", "_v"])
        .aggregate(n=long.count().cast("int64"), n_event=long._y.sum().fill_null(0).cast("int64"))
        .order_by(["_f", "_v"]),
        backend,
    )
    return {
        f: res[res["_f"] == f"c{k}"].drop(columns="_f").reset_index(drop=True) for k, f in enumerate(values)
    }


def bin_counts_many(
    data: Any,
    target: str,
    numeric: dict[str, tuple[Sequence[float], Sequence[float]]],
    categorical: Sequence[str] = (),
    backend: str = "duckdb",
) -> dict[str, pd.DataFrame]:
    """:func:`bin_counts` of many features in (at most) two queries — one over the bin indices of every
    numeric feature (feature → (edges, special values)), one over every categorical feature's values —
    by unpivoting to (feature, bin) pairs. Same columns per feature as :func:`bin_counts`."""
    if isinstance(data, pd.DataFrame):
        return _bin_counts_frame(data, target, numeric, categorical)
    t = table(data, backend)
    _columns_exist(t, [target, *numeric, *categorical], "training data")
    t = t.filter(t[target].notnull())
    y = t[target].cast("int64")
    out: dict[str, pd.DataFrame] = {}
    if numeric:
        specs = {f: (_check_edges(e), list(sp)) for f, (e, sp) in numeric.items()}
        counts = _unpivoted_counts(
            t, y, {f: _bin_index(t[f].cast("float64"), *specs[f]) for f in specs}, backend
        )
        for f, r in counts.items():
            out[f] = _interval_labels(r.rename(columns={"_v": "bin_index"}), *specs[f])
    if categorical:
        missing = "\x00missing"  # NULL survives the unpivot as a sentinel, mapped back below
        counts = _unpivoted_counts(
            t, y, {f: t[f].cast("string").fill_null(missing) for f in categorical}, backend
        )
        for f, r in counts.items():
            r = r.rename(columns={"_v": "bin"})
            r["bin_index"] = np.where(r["bin"] == missing, -1, 0)
            r["bin"] = r["bin"].astype(object).where(r["bin"] != missing, "missing")
            r["lower"] = np.nan
            r["upper"] = np.nan
            out[f] = r
    return _finish_bin_counts(out, numeric)


def _finish_bin_counts(out: dict[str, pd.DataFrame], numeric) -> dict[str, pd.DataFrame]:
    for f, r in out.items():
        r["n_nonevent"] = r["n"] - r["n_event"]
        if f in numeric:
            r = r.sort_values("bin_index", kind="stable")
        out[f] = r[["bin", "bin_index", "lower", "upper", "n", "n_event", "n_nonevent"]].reset_index(
            drop=True
        )
    return out


def _bin_counts_frame(
    df: pd.DataFrame,
    target: str,
    numeric: dict[str, tuple[Sequence[float], Sequence[float]]],
    categorical: Sequence[str],
) -> dict[str, pd.DataFrame]:
    """:func:`bin_counts_many` of an in-memory frame, counted in numpy: the same bins (NULL first, then
    special values, then right-open intervals), the same rows (only non-empty bins) and the same order."""
    _columns_exist(df, [target, *numeric, *categorical], "training data")
    yv = _as_float(df[target])
    keep = ~np.isnan(yv)
    y = yv[keep]

    def counted(idx: np.ndarray, offset: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = np.bincount(idx + offset, minlength=size).astype(np.int64)
        e = np.rint(np.bincount(idx + offset, weights=y, minlength=size)).astype(np.int64)
        at = np.flatnonzero(n)
        return at - offset, n[at], e[at]

    def one_numeric(item):
        f, (edges, specials) = item
        e, sp = _check_edges(edges), list(specials)
        x = _as_float(df[f])[keep]
        idx = np.zeros(len(x), dtype=np.int64)
        for v in e:  # bin i = number of cut points ≤ x (a few passes beat a binary search per row)
            idx += x >= v
        for k in range(len(sp) - 1, -1, -1):  # the first listed special wins, as in the engine's CASE
            idx[x == float(sp[k])] = -2 - k
        idx[np.isnan(x)] = -1
        b, n, ev = counted(idx, 2 + len(sp), len(e) + 3 + len(sp))
        return _interval_labels(pd.DataFrame({"bin_index": b, "n": n, "n_event": ev}), e, sp)

    def one_categorical(f):
        codes, levels = pd.factorize(df[f].astype("string")[keep], sort=True)
        b, n, ev = counted(codes, 1, len(levels) + 1)
        # the engine orders by value with NULL as a sentinel that sorts first: the same here
        return pd.DataFrame(
            {
                "bin": ["missing" if i < 0 else str(levels[i]) for i in b],
                "bin_index": np.where(b < 0, -1, 0),
                "lower": np.nan,
                "upper": np.nan,
                "n": n,
                "n_event": ev,
            }
        )

    num = in_threads(one_numeric, list(numeric.items()))
    cat = in_threads(one_categorical, list(categorical))
    return _finish_bin_counts(
        {**dict(zip(numeric, num, strict=True)), **dict(zip(categorical, cat, strict=True))}, numeric
    )


def bin_counts(
    data: Any,
    feature: str,
    target: str,
    edges: Sequence[float] | None = None,
    special_values: Sequence[float] = (),
    by: Sequence[str] = (),
    backend: str = "duckdb",
) -> pd.DataFrame:
    """Good/bad counts per bin of ``feature`` for a 0/1 ``target`` (rows with a NULL target are left out).

    With ``edges`` (sorted interior cut points) a numeric feature is cut into right-open intervals
    ``[e_i, e_{i+1})``; without, every distinct value is its own bin (categoricals, pre-binned codes).
    NULL gets bin ``missing`` and each special value its own bin ``special:<v>``, tested before the
    intervals so neither lands in the top bin. Columns: ``bin``, ``bin_index`` (−1 missing, −2−k special
    k, 0.. intervals or value order), ``lower``, ``upper``, ``n``, ``n_event``, ``n_nonevent``.
    """
    t = table(data, backend)
    _columns_exist(t, [feature, target, *by], "training data")
    t = t.filter(t[target].notnull())
    y = t[target].cast("int64")
    if edges is not None:
        e = _check_edges(edges)
        idx = _bin_index(t[feature].cast("float64"), e, special_values)
    else:
        if special_values:
            raise ParameterError("special_values", "only with numeric edges", list(special_values))
        idx = None
    if idx is not None:
        g = t.mutate(_bin=idx, _y=y)
        expr = (
            g.group_by([*by, "_bin"])
            .aggregate(n=g.count().cast("int64"), n_event=g._y.sum().fill_null(0).cast("int64"))
            .order_by([*by, "_bin"])
        )
        res = _interval_labels(
            execute(expr, backend).rename(columns={"_bin": "bin_index"}), e, special_values, at=len(by)
        )
    else:
        g = t.mutate(_v=t[feature], _y=y)
        expr = (
            g.group_by([*by, "_v"])
            .aggregate(n=g.count().cast("int64"), n_event=g._y.sum().fill_null(0).cast("int64"))
            .order_by([*by, "_v"])
        )
        res = execute(expr, backend).rename(columns={"_v": "bin"})
        res["bin_index"] = np.where(res["bin"].isna(), -1, 0)
        res["bin"] = res["bin"].astype(object).where(res["bin"].notna(), "missing")
        res["lower"] = np.nan
        res["upper"] = np.nan
    res["n_nonevent"] = res["n"] - res["n_event"]
    res = res.sort_values([*by, "bin_index"], kind="stable") if edges is not None else res
    cols = [*by, "bin", "bin_index", "lower", "upper", "n", "n_event", "n_nonevent"]
    return res[cols].reset_index(drop=True)

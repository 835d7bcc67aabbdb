"""Where aggregation runs: Ibis expressions, on DuckDB in-process by default and unchanged on Spark.

Every heavy step of the analyses is an aggregation — funnel counts, per-arm moments, per-bin good/bad
counts, events and at-risk counts, vintage and roll-rate counts. Each is written once here as an Ibis
expression; the small result comes back as pandas and the statistics are computed in Python.

Rules kept throughout (DESIGN.md §9): NaN is NULL at ingest (Arrow conversion); values are cast to
float64 before any second moment; second moments use the engines' streaming variance/covariance
aggregates, so they do not cancel catastrophically for large means; count-like sums are
``fill_null(0)``; no division is written into an engine expression (means and variances are the
engines' own aggregates, NULL on empty groups); every result is ordered.

The binning aggregates (:func:`column_profile`, :func:`quantile_edges_many`, :func:`distinct_values_many`,
:func:`bin_counts_many`) and :func:`survival_counts` also take a pandas frame that is already in memory and
then count it in numpy (one thread per core where there are many columns): handing a frame of a million rows
to DuckDB costs an Arrow conversion and a query compilation that are slower than the counting itself.
Both paths give the same numbers (tests); tables that do not fit in memory take the engine path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from cmlib.errors import DataError, ParameterError
from cmlib.validation import require_columns
from cmlib.vocab import special_label

_DUCKDB = None


def duckdb() -> ibis.BaseBackend:
    """The shared in-process DuckDB connection (UTC time zone)."""
    global _DUCKDB
    if _DUCKDB is None:
        _DUCKDB = ibis.duckdb.connect()
        _DUCKDB.raw_sql("SET TimeZone='UTC'")
    return _DUCKDB


_SPARK = None


def spark() -> ibis.BaseBackend:
    """A local Spark session behind Ibis (the ``spark`` extra): Arrow on, UTC, shared by every caller."""
    global _SPARK
    if _SPARK is None:
        from pyspark.sql import SparkSession

        os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
        session = (
            SparkSession.builder.master(os.environ.get("CMLIB_SPARK_MASTER", "local[2]"))
            .appName("cmlib")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", "2g")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        _SPARK = ibis.pyspark.connect(session)
    return _SPARK


def connect(backend: str = "duckdb") -> ibis.BaseBackend:
    if backend == "duckdb":
        return duckdb()
    if backend == "spark":
        return spark()
    raise ParameterError("backend", "'duckdb' or 'spark'", backend)


def to_arrow(df: pd.DataFrame) -> pa.Table:
    """pandas → Arrow with NaN as NULL (Arrow's pandas conversion treats float NaN as missing)."""
    return pa.Table.from_pandas(df, preserve_index=False)


def table(data: Any, backend: str = "duckdb", name: str | None = None) -> ir.Table:
    """An Ibis table from a pandas frame, an Arrow table, a Parquet path/folder, or an Ibis table.

    pandas frames are registered on the chosen backend with NaN as NULL; a folder of Parquet files is
    read lazily (nothing is loaded into Python memory).
    """
    if isinstance(data, ir.Table):
        return data
    con = connect(backend)
    if isinstance(data, str | Path):
        p = Path(data)
        if p.is_dir():
            return con.read_parquet(str(p / "*.parquet"))
        if p.suffix == ".parquet":
            return con.read_parquet(str(p))
        if p.suffix == ".csv":
            return con.read_csv(str(p))
        raise ParameterError(
            "data", "a Parquet file or folder, a CSV file, a DataFrame or an Ibis table", str(p)
        )
    if isinstance(data, pd.DataFrame):
        data = to_arrow(data)
    if isinstance(data, pa.Table):
        # unbound: the backend that executes it registers it (execute(expr, backend))
        return ibis.memtable(data)
    raise ParameterError("data", "a DataFrame, Arrow table, Parquet path or Ibis table", type(data).__name__)


def _columns_exist(t: ir.Table | pd.DataFrame, cols: Sequence[str], what: str = "input") -> None:
    require_columns(t, cols, what)


def in_threads(fn: Callable, items: Sequence) -> list:
    """``[fn(i) for i in items]`` on one thread per core: numpy releases the GIL in partition, comparisons
    and bincount, so per-column work scales with the cores. Order of results = order of items."""
    items = list(items)
    if len(items) < 2:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(min(len(items), os.cpu_count() or 1)) as pool:
        return list(pool.map(fn, items))


def _as_float(col: pd.Series) -> np.ndarray:
    """A numeric or boolean column as float64 with NaN for missing (pd.NA included)."""
    return col.to_numpy(dtype=np.float64, na_value=np.nan)


def execute(expr: ir.Table, backend: str = "duckdb") -> pd.DataFrame:
    """Run an expression on ``backend`` and return pandas (ordered by the expression's order_by)."""
    return connect(backend).to_pandas(expr)


def execute_numeric(expr: ir.Table, backend: str = "duckdb") -> pd.DataFrame:
    """:func:`execute` for a result of counts and sums, converted by Arrow rather than by Ibis.

    Ibis's pandas conversion handles every type (dates, decimals, nested) column by column and costs
    about 1 µs per cell; for a numeric aggregate of tens of thousands of rows that is most of the query's
    time. Arrow's conversion is exact for integers and floats (an integer column with NULLs becomes float
    with NaN, as with :func:`execute`). Use it only where every column is numeric or a group key."""
    return connect(backend).to_pyarrow(expr).to_pandas()


def _bool_count(col: ir.Column) -> ir.Scalar:
    # SUM of a boolean is DECIMAL on DuckDB and NULL on an all-NULL group: cast and fill
    return col.cast("int64").sum().fill_null(0).cast("int64")


# --- funnel ---------------------------------------------------------------------------------------


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


# --- moments --------------------------------------------------------------------------------------


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


# --- binning --------------------------------------------------------------------------------------


def column_profile(data: Any, features: Sequence[str], backend: str = "duckdb") -> pd.DataFrame:
    """Per feature (rows of the result): ``numeric`` (a number or a boolean), ``n_values`` (non-NULL
    count), ``min``, ``max`` and ``n_distinct``, an *approximate* count of distinct non-NULL values
    (HyperLogLog on the engine; on a frame exact up to 1,000 and a lower bound above) — enough to tell a
    flag or a count from a continuous feature; callers that need the exact values ask
    :func:`distinct_values_many`. Exact COUNT DISTINCT of every column would cost more than a binning."""
    features = list(features)
    if isinstance(data, pd.DataFrame):
        _columns_exist(data, features)

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
        _columns_exist(t, features)
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
        _columns_exist(data, list(features))

        def edges(item):
            f, specials = item
            x = _as_float(data[f])
            x = x[~np.isnan(x) & ~np.isin(x, [float(v) for v in specials])]
            # linear interpolation between order statistics, as DuckDB's and Spark's quantile_cont
            return sorted({float(v) for v in np.quantile(x, qs)}) if len(x) else []

        return dict(zip(features, in_threads(edges, list(features.items())), strict=True))
    t = table(data, backend)
    _columns_exist(t, list(features))
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
        _columns_exist(data, list(features))

        def values(f):
            x = _as_float(data[f])
            return np.unique(x[~np.isnan(x)]).tolist()

        return dict(zip(features, in_threads(values, features), strict=True))
    t = table(data, backend)
    _columns_exist(t, list(features))
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
    _columns_exist(t, [target, *numeric, *categorical])
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
    _columns_exist(df, [target, *numeric, *categorical])
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
    _columns_exist(t, [feature, target, *by])
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


# --- survival -------------------------------------------------------------------------------------


def survival_counts(
    data: Any,
    duration: str,
    event: str,
    by: Sequence[str] = (),
    entry: str | None = None,
    backend: str = "duckdb",
) -> pd.DataFrame:
    """Events and at-risk counts per distinct time (and group) — the input of Kaplan–Meier, Nelson–Aalen
    and discrete-time hazard models.

    ``duration`` is the exit time, ``event`` 1 for the event and 0 for censoring. With ``entry`` (left
    truncation, an account observed from a later month) a subject is at risk at time t when
    ``entry < t ≤ duration``. Columns: ``time``, ``n_event``, ``n_censored``, ``n_entry``, ``at_risk``.
    An in-memory frame is counted in numpy (:func:`group_counts`), with the same result.
    """
    # rows and events per exit time, entries per entry time: GROUP BY on the engine, a count in numpy for a frame
    ex = group_counts(data, [*by, duration], event, backend).rename(columns={duration: "time", "n": "n_exit"})
    ent = None
    if entry:
        ent = (
            group_counts(data, [*by, entry], backend=backend)
            .rename(columns={entry: "time", "n": "n_entry"})
            .sort_values([*by, "time"])
        )
    groups = [((), ex)] if not by else list(ex.groupby(list(by), sort=True))
    out = []
    for key, g in groups:
        g = g.sort_values("time")
        e = None
        if ent is not None:
            e = (
                ent
                if not by
                else ent.merge(
                    pd.DataFrame([key] if isinstance(key, tuple) else [[key]], columns=list(by)), on=list(by)
                )
            )
            e = (e["time"].to_numpy(), e["n_entry"].to_numpy())
        r = _risk_table(g["time"].to_numpy(), g["n_exit"].to_numpy(), g["n_event"].to_numpy(), e)
        for k, col in enumerate(by):
            r.insert(k, col, key[k] if isinstance(key, tuple) else key)
        out.append(r)
    return out[0] if len(out) == 1 else pd.concat(out, ignore_index=True)


def group_counts(
    data: Any, by: Sequence[str], event: str | None = None, backend: str = "duckdb"
) -> pd.DataFrame:
    """Rows (``n``) and, with ``event``, the sum of that 0/1 column (``n_event``) per distinct combination of
    ``by`` (NULL is a key value of its own); only combinations that occur, in no particular order.

    An in-memory frame is counted in numpy: whole-number key columns with a small range are used as they are,
    other key columns are factorised, and the combinations counted by one ``bincount`` — the same counts as the
    engine's GROUP BY (tested), without handing the rows to DuckDB."""
    by = list(by)
    cols = by + ([event] if event else [])
    if isinstance(data, pd.DataFrame):
        _columns_exist(data, cols)
        res = _group_counts_frame(data, by, event)
        if res is not None:
            return res
    t = table(data, backend)
    _columns_exist(t, cols)
    aggs = {"n": ibis._.count().cast("int64")}
    if event:
        aggs["n_event"] = t[event].cast("int64").sum().fill_null(0).cast("int64")
    return execute_numeric(t.group_by(by).aggregate(**aggs), backend)


def _group_counts_frame(df: pd.DataFrame, by: list[str], event: str | None) -> pd.DataFrame | None:
    codes, values, size = [], [], 1
    for c in by:
        x = df[c].to_numpy()
        if x.dtype.kind in "iub" and len(x):
            x = x.view(np.int8) if x.dtype.kind == "b" else x
            lo, hi = int(x.min()), int(x.max())
            if 0 <= lo and hi < 1_000_000:
                lo = (
                    0  # small non-negative whole numbers (months on book, flags) are their own codes: no copy
                )
            if hi - lo < 1_000_000:
                # x − lo stays in x's range when lo ≥ 0; a negative lo could overflow a narrow type
                codes.append(x if lo == 0 else x - lo if lo > 0 else np.subtract(x, lo, dtype=np.int32))
                values.append(np.arange(lo, hi + 1).astype(df[c].to_numpy().dtype))
                size *= hi - lo + 1
                continue
        code, uniq = pd.factorize(df[c], sort=True, use_na_sentinel=False)
        codes.append(code)
        values.append(uniq)
        size *= max(len(uniq), 1)
    if size > 50_000_000:  # too many combinations for a dense count: let the engine group them
        return None
    w = None
    if event:
        w = df[event].to_numpy()
        if w.dtype.kind not in "iub":
            w = _as_float(df[event])
            w = np.where(np.isnan(w), 0.0, w)
    pairs = w is not None and w.dtype.kind in "iub" and w.min() >= 0 and w.max() <= 1
    # one integer key per combination (mixed radix), times 2 plus the event when the event is 0/1: a
    # single bincount then gives rows and events (intp, the type bincount counts in: no hidden copy)
    radix = [len(v) for v in values] + ([2] if pairs else [])
    key = np.multiply(codes[0], radix[1] if len(radix) > 1 else 1, dtype=np.intp)
    for i, code in enumerate(codes[1:], start=1):
        key += code
        if i + 1 < len(radix):
            key *= radix[i + 1]
    if pairs:
        key += w
        both = np.bincount(key, minlength=2 * size)
        n, n_ev = both[0::2] + both[1::2], both[1::2]
    else:
        n = np.bincount(key, minlength=size)
        n_ev = None if w is None else np.bincount(key, weights=w, minlength=size)
    at = np.flatnonzero(n)
    out, rest = {}, at.copy()
    for c, v in zip(reversed(by), reversed(values), strict=True):  # decode the mixed-radix key
        out[c] = v.take(rest % len(v))  # an array or an Index: both take positions
        rest //= len(v)
    counts = {"n": n[at].astype(np.int64)} | (
        {"n_event": np.rint(n_ev[at]).astype(np.int64)} if event else {}
    )
    return pd.DataFrame({c: out[c] for c in by} | counts)


def _risk_table(
    times: np.ndarray, n_exit: np.ndarray, n_event: np.ndarray, entries: tuple[np.ndarray, np.ndarray] | None
) -> pd.DataFrame:
    """The :func:`survival_counts` table of one group from exits per sorted time and, with left
    truncation, entries per sorted entry time: at risk at t = entered before t − exited before t."""
    n_exit = np.asarray(n_exit, dtype=np.int64)
    n_event = np.asarray(n_event, dtype=np.int64)
    if entries is None:
        n_entry = np.zeros(len(times), dtype=np.int64)
        at_risk = np.cumsum(n_exit[::-1])[::-1]
    else:
        e_t, e_n = np.asarray(entries[0], dtype=float), np.asarray(entries[1], dtype=np.int64)
        cum = np.concatenate([[0], np.cumsum(e_n)])
        left, right = np.searchsorted(e_t, times, "left"), np.searchsorted(e_t, times, "right")
        n_entry = cum[right] - cum[left]
        at_risk = cum[left] - (np.cumsum(n_exit) - n_exit)
    return pd.DataFrame(
        {
            "time": np.asarray(times, dtype=float),
            "n_event": n_event,
            "n_censored": n_exit - n_event,
            "n_entry": n_entry,
            "at_risk": at_risk,
        }
    )


# --- vintages and roll rates ----------------------------------------------------------------------


def vintage_counts(
    panel: Any,
    account: str = "account_id",
    month: str = "month",
    mob: str = "mob",
    dpd: str = "dpd",
    bad_dpd: int = 90,
    backend: str = "duckdb",
) -> pd.DataFrame:
    """Per origination cohort (month of MOB 1) × MOB: accounts in the cohort, accounts first reaching
    ``bad_dpd``+ at that MOB, and accounts still observed at that MOB. Cumulative bad rate =
    cumsum(n_new_bad) / n_accounts, defined while the cohort is observed."""
    t = table(panel, backend)
    _columns_exist(t, [account, month, mob, dpd])
    per_acc = (
        t.mutate(_bad=t[dpd] >= bad_dpd)
        .group_by(account)
        .aggregate(
            cohort=ibis.ifelse(t[mob] == 1, t[month], None).min(),
            first_mob=t[mob].min(),
            last_mob=t[mob].max(),
            first_bad=ibis.ifelse(t[dpd] >= bad_dpd, t[mob], None).min(),
        )
    )
    size = per_acc.group_by("cohort").aggregate(n_accounts=per_acc.count().cast("int64"))
    newbad = (
        per_acc.filter(per_acc.first_bad.notnull())
        .group_by(["cohort", "first_bad"])
        .aggregate(n_new_bad=ibis._.count().cast("int64"))
    )
    observed = per_acc.group_by(["cohort", "last_mob"]).aggregate(n_last=ibis._.count().cast("int64"))
    s = execute(size.order_by("cohort"), backend)
    nb = execute(newbad.order_by(["cohort", "first_bad"]), backend)
    ob = execute(observed.order_by(["cohort", "last_mob"]), backend)
    if s["cohort"].isna().any():
        n = int(s.loc[s["cohort"].isna(), "n_accounts"].sum())
        raise DataError.single("performance", mob, "every account has a MOB 1 row (origination)", n)
    rows = []
    for _, r in s.iterrows():
        c = r["cohort"]
        o = ob[ob["cohort"] == c]
        max_mob = int(o["last_mob"].max())
        b = nb[nb["cohort"] == c].set_index("first_bad")["n_new_bad"]
        ended = o.set_index("last_mob")["n_last"]
        still = int(r["n_accounts"])
        for m in range(1, max_mob + 1):
            rows.append(
                {
                    "cohort": c,
                    "mob": m,
                    "n_accounts": int(r["n_accounts"]),
                    "n_new_bad": int(b.get(m, 0)),
                    "n_observed": still,
                }
            )
            still -= int(ended.get(m, 0))
    return pd.DataFrame(rows)


def roll_counts(
    panel: Any, account: str = "account_id", mob: str = "mob", state: str = "state", backend: str = "duckdb"
) -> pd.DataFrame:
    """Month-to-month transition counts: ``from_state``, ``to_state``, ``n`` over consecutive MOBs of the
    same account (a gap in an account's months is not a transition)."""
    t = table(panel, backend)
    _columns_exist(t, [account, mob, state])
    a = t.select(_acc=t[account], _mob=t[mob], from_state=t[state])
    b = t.select(_acc2=t[account], _mob2=t[mob] - 1, to_state=t[state])
    j = a.inner_join(b, [a._acc == b._acc2, a._mob == b._mob2])
    expr = (
        j.group_by(["from_state", "to_state"])
        .aggregate(n=ibis._.count().cast("int64"))
        .order_by(["from_state", "to_state"])
    )
    return execute(expr, backend).reset_index(drop=True)

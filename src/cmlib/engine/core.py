"""cmlib.engine — connections, tables and query execution on DuckDB or Spark (the package re-exports every name)."""

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

from cmlib.errors import ParameterError
from cmlib.validation import require_columns

_DUCKDB = None

#: DuckDB on one thread: with several, each adds its share of the rows and the partial sums are combined in
#: whatever order the threads finish, so a float sum over millions of rows changes in its last digits from run
#: to run (a 15M-row grouped sum gave 6 different results in 6 runs; at 10M customers the benchmark's cold
#: and warm runs differed) and a report must give the same numbers for the same parameters. The engine's
#: queries are seconds of a run, and the runner already keeps both cores busy with two notebooks.
DUCKDB_CONFIG = {"threads": 1}


def duckdb() -> ibis.BaseBackend:
    """The shared in-process DuckDB connection (UTC time zone, :data:`DUCKDB_CONFIG`)."""
    global _DUCKDB
    if _DUCKDB is None:
        _DUCKDB = ibis.duckdb.connect(**DUCKDB_CONFIG)
        _DUCKDB.raw_sql("SET TimeZone='UTC'")
    return _DUCKDB


_SPARK = None


def spark() -> ibis.BaseBackend:
    """A local Spark session behind Ibis (the ``spark`` extra): Arrow on, UTC, shared by every caller."""
    global _SPARK
    if _SPARK is None:
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise ParameterError(
                "backend",
                "'duckdb', or 'spark' with the spark extra installed (pip install '.[spark]')",
                "spark",
            ) from None

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


def spark_table(name: str) -> ir.Table:
    """A table of Spark's catalog by name: ``table``, ``database.table`` or ``catalog.database.table``. A
    name that is not there is one DataError naming it (not Spark's analysis trace)."""
    from cmlib.errors import DataError

    *db, tbl = str(name).split(".")
    con = spark()
    try:
        if len(db) > 1:
            return con.table(tbl, database=(db[0], ".".join(db[1:])))
        return con.table(tbl, database=db[0]) if db else con.table(tbl)
    except Exception as exc:  # pyspark's AnalysisException, or Ibis's TableNotFound
        if "not found" not in str(exc).lower() and "cannot be found" not in str(exc).lower():
            raise
        raise DataError.single(str(name), "*", "a table in Spark's catalog", None) from None


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

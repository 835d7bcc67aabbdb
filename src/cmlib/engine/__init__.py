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

# the package's modules follow the sections this module once had; everything is re-exported
from cmlib.engine.binning import (  # noqa: F401
    _bin_counts_frame,
    _bin_index,
    _check_edges,
    _finish_bin_counts,
    _interval_labels,
    _unpivoted_counts,
    bin_counts,
    bin_counts_many,
    column_profile,
    distinct_values_many,
    quantile_edges,
    quantile_edges_many,
)
from cmlib.engine.book import (  # noqa: F401
    roll_counts,
    vintage_counts,
)
from cmlib.engine.core import (  # noqa: F401
    DUCKDB_CONFIG,
    _as_float,
    _bool_count,
    _columns_exist,
    connect,
    duckdb,
    execute,
    execute_numeric,
    in_threads,
    spark,
    spark_table,
    table,
    to_arrow,
)
from cmlib.engine.moments import (  # noqa: F401
    funnel_counts,
    moments,
)
from cmlib.engine.survival import (  # noqa: F401
    _group_counts_frame,
    _risk_table,
    group_counts,
    survival_counts,
)

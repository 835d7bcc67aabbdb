"""A/B readout benchmark (issue: A/B testing).

1. The full readout inputs of a 20M-row contact table — funnel counts for five stages and per-arm moments of
   spend with the pre-period covariate — through the engine on DuckDB against the pandas groupby a user would
   write, from the same Parquet file, in one run, as a ratio (goal ≥ 4×, readout in a few seconds).
2. The cost of one comparison's statistics on sufficient statistics (goal < 1 ms).

Run: ``make bench`` or ``python -m benchmarks.experiments [--quick]``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import best_of, size_from_args, write
from benchmarks.data import STAGES, contact_table, pandas_readout


def main(argv=None) -> None:
    from cmlib import engine
    from cmlib import experiments as ex

    quick, n = size_from_args(argv, 2_000_000, 20_000_000)
    tmp = Path(tempfile.mkdtemp(prefix="cmlib-bench-ab-"))
    try:
        contact_table(n, seed=1).to_parquet(tmp / "c.parquet", row_group_size=1_000_000)

        def cmlib_readout():
            t = engine.table(tmp / "c.parquet")
            engine.funnel_counts(t, STAGES, by=["arm"])
            return ex.arm_moments(t, "arm", ["spend_90d", "booked"])

        def pandas_user():
            return pandas_readout(pd.read_parquet(tmp / "c.parquet"))

        t_engine = best_of(cmlib_readout)
        t_pandas = best_of(pandas_user)
        m = cmlib_readout()
        k = 2_000
        t0 = time.perf_counter()
        for _ in range(k):
            ex.compare(m, "spend_90d", "control")
        per_compare_ms = (time.perf_counter() - t0) / k * 1e3
        # the same statistics, as a user would compute them in numpy (the floor to compare with)
        t0 = time.perf_counter()
        for _ in range(k):
            mm = m["mean_spend_90d"].to_numpy()
            v = (m["m2_spend_90d"] / (m["n_spend_90d"] - 1) / m["n_spend_90d"]).to_numpy()
            _ = (mm[1:] - mm[0]) / np.sqrt(v[1:] + v[0])
        numpy_ms = (time.perf_counter() - t0) / k * 1e3
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    res = {
        "rows": n,
        "readout_engine_duckdb_s": t_engine,
        "readout_pandas_s": t_pandas,
        "ratio": t_pandas / t_engine,
        "compare_ms": per_compare_ms,
        "numpy_floor_ms": numpy_ms,
        "goals": {"ratio": 4, "compare_ms": 1.0},
    }
    print(
        f"readout of {n:,} rows from Parquet: engine {t_engine:.2f} s, pandas {t_pandas:.2f} s, "
        f"ratio {res['ratio']:.1f}x; one comparison {per_compare_ms:.3f} ms"
    )
    print(f"results: {write('experiments' if not quick else 'experiments_quick', res)}")


if __name__ == "__main__":
    main()

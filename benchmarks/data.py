"""Data and engine benchmarks (issue: data and engine).

1. Generation of the simulated bank to Parquet at 1M and 10M customers: wall time and peak memory
   (goal: 10M in under 10 minutes and under 8 GB).
2. Aggregation of a 20M-row contact table — funnel counts and per-arm moments — through the engine on
   DuckDB against the pandas groupby a user would write, in one run, as a ratio (goal ≥ 4×). Both start
   from the same Parquet file (end to end) and, separately, from the same in-memory frame.

Run: ``make bench`` (all benchmarks) or ``python -m benchmarks.data [--quick]``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import best_of, run_child, size_from_args, write

STAGES = ["responded", "applied", "approved", "booked", "activated"]


def contact_table(n: int, seed: int = 0) -> pd.DataFrame:
    """A contacts-shaped table of n rows with the funnel's rates (synthetic, for timing only)."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 4, n)
    responded = rng.random(n) < 0.04
    applied = responded & (rng.random(n) < 0.6)
    approved = applied & (rng.random(n) < 0.6)
    booked = approved & (rng.random(n) < 0.85)
    activated = booked & (rng.random(n) < 0.7)
    return pd.DataFrame(
        {
            "arm": pd.Categorical.from_codes(
                arm, ["control", "lower_apr", "cashback", "no_fee_high_limit"]
            ).astype(str),
            "channel": pd.Categorical.from_codes(rng.integers(0, 8, n), list("abcdefgh")).astype(str),
            "responded": responded,
            "applied": applied,
            "approved": approved,
            "booked": booked,
            "activated": activated,
            "spend_90d": np.where(activated, rng.lognormal(5.5, 0.7, n), 0.0),
            "pre_spend_90d": rng.lognormal(6.0, 0.8, n),
        }
    )


def pandas_readout(df: pd.DataFrame) -> pd.DataFrame:
    """What an analyst would write: one groupby with counts, sums, means and variances, plus the
    covariance term for CUPED."""
    g = df.groupby(["arm", "channel"], observed=True)
    out = g.agg(
        n=("responded", "size"),
        **{f"n_{s}": (s, "sum") for s in STAGES},
        mean_spend=("spend_90d", "mean"),
        var_spend=("spend_90d", "var"),
        mean_pre=("pre_spend_90d", "mean"),
        var_pre=("pre_spend_90d", "var"),
    )
    cov = g[["spend_90d", "pre_spend_90d"]].cov().xs("pre_spend_90d", level=-1)["spend_90d"]
    return out.assign(cov=cov)


def engine_readout(data) -> tuple[pd.DataFrame, pd.DataFrame]:
    from cmlib import engine

    f = engine.funnel_counts(data, STAGES, by=["arm", "channel"])
    m = engine.moments(
        data, ["spend_90d", "pre_spend_90d"], by=["arm", "channel"], pairs=[("spend_90d", "pre_spend_90d")]
    )
    return f, m


def bench_aggregation(n_rows: int) -> dict:
    from cmlib import engine

    tmp = Path(tempfile.mkdtemp(prefix="cmlib-bench-"))
    try:
        df = contact_table(n_rows)
        path = tmp / "contacts.parquet"
        df.to_parquet(path, row_group_size=1_000_000)
        # same answers first
        f, m = engine_readout(df)
        ref = pandas_readout(df)
        m = m.set_index(["arm", "channel"])
        assert np.allclose(m["mean_spend_90d"], ref["mean_spend"], rtol=1e-9)
        assert np.allclose(m["m2_spend_90d"] / (m["n_spend_90d"] - 1), ref["var_spend"], rtol=1e-9)
        assert np.allclose(m["c_spend_90d_pre_spend_90d"] / (m["n_spend_90d"] - 1), ref["cov"], rtol=1e-9)
        assert (f.set_index(["arm", "channel"])["n_booked"] == ref["n_booked"]).all()

        t_pd_mem = best_of(lambda: pandas_readout(df))
        mt = engine.table(df)  # registered once, as an analyst's session would
        t_en_mem = best_of(lambda: engine_readout(mt))
        t_pd_file = best_of(lambda: pandas_readout(pd.read_parquet(path)))
        t_en_file = best_of(lambda: engine_readout(engine.table(path)))
        return {
            "rows": n_rows,
            "in_memory": {"pandas_s": t_pd_mem, "engine_duckdb_s": t_en_mem, "ratio": t_pd_mem / t_en_mem},
            "from_parquet": {
                "pandas_s": t_pd_file,
                "engine_duckdb_s": t_en_file,
                "ratio": t_pd_file / t_en_file,
            },
            "what": "funnel counts (5 stages) + moments of spend and pre-period spend with their co-moment, "
            "by arm x channel; best of 3",
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_generation(n_customers: int) -> dict:
    tmp = tempfile.mkdtemp(prefix="cmlib-gen-")
    try:
        code = (
            f"from cmlib.data.synthetic import write_bank\n"
            f"write_bank({tmp!r}, n_customers={n_customers}, random_state=1, chunk_size=1_000_000)\n"
        )
        secs, peak_gb, _ = run_child(code)
        size = sum(f.stat().st_size for f in Path(tmp).rglob("*.parquet")) / 1024**3
        return {"customers": n_customers, "seconds": secs, "peak_rss_gb": peak_gb, "parquet_gb": size}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> None:
    quick, _ = size_from_args(argv, 0, 0)
    sizes = [100_000, 1_000_000] if quick else [1_000_000, 10_000_000]
    gen = [bench_generation(n) for n in sizes]  # the biggest last: peak RSS of children is a running max
    for g in gen:
        print(
            f"generate {g['customers']:>12,} customers: {g['seconds']:7.1f} s, peak {g['peak_rss_gb']:.2f} GB"
        )
    agg = bench_aggregation(2_000_000 if quick else 20_000_000)
    for k in ("in_memory", "from_parquet"):
        r = agg[k]
        print(
            f"aggregate {agg['rows']:,} rows {k:<12}: pandas {r['pandas_s']:.2f} s, "
            f"engine {r['engine_duckdb_s']:.2f} s, ratio {r['ratio']:.1f}x"
        )
    path = write(
        "data" if not quick else "data_quick",
        {
            "generation": gen,
            "aggregation": agg,
            "goals": {"generate_10M_s": 600, "generate_10M_peak_gb": 8, "aggregation_ratio": 4},
        },
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()

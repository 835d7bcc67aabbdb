"""Engine aggregations equal a plain pandas computation (1e-9), on DuckDB and on Spark (marker spark)."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from cmlib import engine
from cmlib.data import synthetic as syn
from cmlib.errors import DataError, ParameterError

BACKENDS = ["duckdb", pytest.param("spark", marks=pytest.mark.spark)]
STAGES = ["responded", "applied", "approved", "booked", "activated"]


@pytest.fixture(scope="module")
def world():
    return syn.simulate_bank(n_customers=5_000, random_state=5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_funnel_counts(world, backend):
    c = world.contacts.assign(arm=world.contacts["arm"].fillna("bau"))
    got = engine.funnel_counts(c, STAGES, by=["arm", "channel"], backend=backend)
    want = c.groupby(["arm", "channel"]).agg(
        n=("contact_id", "size"), **{f"n_{s}": (s, "sum") for s in STAGES}
    )
    want = want.reset_index()
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_moments_match_pandas_and_survive_large_means(world, backend):
    c = world.contacts.assign(arm=world.contacts["arm"].fillna("bau"))
    c["big"] = 1e9 + c["spend_90d"]  # raw sums of squares would cancel catastrophically here
    got = engine.moments(
        c,
        ["spend_90d", "early_dpd30_3m", "big"],
        by=["arm"],
        pairs=[("spend_90d", "pre_spend_90d")],
        backend=backend,
    ).set_index("arm")
    for arm, g in c.groupby("arm"):
        r = got.loc[arm]
        for col in ("spend_90d", "early_dpd30_3m", "big"):
            v = g[col].dropna()
            assert r[f"n_{col}"] == len(v)
            if len(v):
                assert r[f"mean_{col}"] == pytest.approx(v.mean(), rel=1e-9, abs=1e-9)
                assert r[f"m2_{col}"] == pytest.approx(((v - v.mean()) ** 2).sum(), rel=1e-9, abs=1e-9)
        assert r["m2_big"] == pytest.approx(r["m2_spend_90d"], rel=1e-9)
        y, x = g["spend_90d"], g["pre_spend_90d"]
        assert r["c_spend_90d_pre_spend_90d"] == pytest.approx(
            ((y - y.mean()) * (x - x.mean())).sum(), rel=1e-9
        )
        assert r["m2x_spend_90d_pre_spend_90d"] == pytest.approx(((x - x.mean()) ** 2).sum(), rel=1e-9)


def test_moments_treat_nan_as_null():
    df = pd.DataFrame({"g": ["a", "a", "a", "b"], "x": [1.0, np.nan, 3.0, np.nan]})
    got = engine.moments(df, ["x"], by=["g"]).set_index("g")
    assert got.loc["a", "n_x"] == 2 and got.loc["a", "mean_x"] == 2.0
    assert got.loc["b", "n_x"] == 0 and np.isnan(got.loc["b", "mean_x"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_bin_counts_numeric_special_missing(world, backend):
    a = world.applications.dropna(subset=["bad_12m"]).copy()
    a.loc[a.index[:7], "utilisation"] = np.nan
    a.loc[a.index[7:10], "bureau_score"] = syn.NO_FILE  # specials must not land in the top bin
    edges = engine.quantile_edges(
        a, "bureau_score", 5, special_values=[syn.NO_FILE, syn.THIN_FILE], backend=backend
    )
    assert len(edges) == 4
    got = engine.bin_counts(
        a,
        "bureau_score",
        "bad_12m",
        edges=edges,
        special_values=[syn.NO_FILE, syn.THIN_FILE],
        backend=backend,
    )
    x = a["bureau_score"]
    idx = np.where(
        x == syn.NO_FILE, -2, np.where(x == syn.THIN_FILE, -3, np.searchsorted(edges, x, side="right"))
    )
    want = a.groupby(idx)["bad_12m"].agg(["size", "sum"])
    g = got.set_index("bin_index")
    assert g["n"].to_dict() == want["size"].to_dict()
    assert g["n_event"].to_dict() == want["sum"].astype(int).to_dict()
    assert (g["n"] == g["n_event"] + g["n_nonevent"]).all()
    got_u = engine.bin_counts(a, "utilisation", "bad_12m", edges=[0.2, 0.5], backend=backend)
    assert got_u.loc[got_u["bin"] == "missing", "n"].item() == a["utilisation"].isna().sum()
    cat = engine.bin_counts(a, "housing", "bad_12m", backend=backend).set_index("bin")
    assert cat["n_event"].to_dict() == a.groupby("housing")["bad_12m"].sum().astype(int).to_dict()


@pytest.mark.parametrize("backend", BACKENDS)
def test_frames_are_counted_in_numpy_like_the_engine(world, backend):
    """The binning aggregates count an in-memory frame in numpy; an engine table of the same rows gives
    the same profile, cut points, distinct values and bin counts."""
    a = world.applications.dropna(subset=["bad_12m"]).reset_index(drop=True)
    a = a.assign(
        bad=a["bad_12m"].astype(int),
        util=a["utilisation"].where(a.index % 11 > 0),
        score=a["bureau_score"].astype("float32"),
        n_inq=pd.array(a.index % 4, dtype="Int64"),
        flag=a.index % 3 == 0,
        housing=a["housing"].astype("category"),
        region=a["region"].astype("string").where(a.index % 13 > 0),
    )
    a.loc[a.index[:5], "n_inq"] = pd.NA
    a.loc[a.index[5:9], "score"] = syn.THIN_FILE
    a.loc[a.index[9:12], "score"] = syn.NO_FILE
    df = a[["bad", "util", "score", "n_inq", "flag", "housing", "region"]]
    t = engine.table(df, backend)
    num = ["util", "score", "n_inq", "flag"]
    p_frame = engine.column_profile(df, num + ["housing", "region"])
    p_engine = engine.column_profile(t, num + ["housing", "region"], backend=backend)
    pd.testing.assert_frame_equal(
        p_frame.drop(columns="n_distinct"), p_engine.drop(columns="n_distinct"), check_dtype=False
    )
    assert p_frame.loc[["n_inq", "flag", "housing"], "n_distinct"].tolist() == [4, 2, a["housing"].nunique()]
    specials = {"util": [], "score": [float(syn.NO_FILE), float(syn.THIN_FILE)], "n_inq": [], "flag": []}
    q_frame, q_engine = (
        engine.quantile_edges_many(df, specials, 10),
        engine.quantile_edges_many(t, specials, 10, backend),
    )
    assert q_frame.keys() == q_engine.keys()
    for f in q_frame:
        assert q_frame[f] == pytest.approx(q_engine[f], rel=1e-12, abs=1e-12)
    assert engine.distinct_values_many(df, ["n_inq", "flag"]) == engine.distinct_values_many(
        t, ["n_inq", "flag"], backend
    )
    spec = {f: (q_engine[f], specials[f]) for f in num}
    c_frame = engine.bin_counts_many(df, "bad", spec, ["housing", "region"])
    c_engine = engine.bin_counts_many(t, "bad", spec, ["housing", "region"], backend)
    for f in [*num, "housing", "region"]:
        pd.testing.assert_frame_equal(c_frame[f], c_engine[f], check_dtype=False)
    assert c_frame["score"]["bin"].str.startswith("special:").sum() == 2
    assert c_frame["region"]["bin"].iloc[0] == "missing"


@pytest.mark.parametrize("backend", BACKENDS)
def test_group_counts_of_a_frame_equal_the_engine(backend):
    """Counted in numpy (whole-number keys as they are, others factorised, NULL a key of its own) or by the
    engine's GROUP BY: the same combinations and counts."""
    rng = np.random.default_rng(2)
    n = 3000
    df = pd.DataFrame(
        {
            "small": rng.integers(-100, 101, n).astype(np.int8),
            "flag": rng.random(n) < 0.3,
            "grade": pd.Series(rng.choice(["a", "b", None], n), dtype="string"),
            "x": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 3, n).astype(float)),
            "cnt": pd.array(np.where(rng.random(n) < 0.05, None, rng.integers(0, 4, n)), dtype="Int64"),
            "ev": rng.random(n) < 0.2,
        }
    )
    df["ev_float"] = np.where(rng.random(n) < 0.05, np.nan, df["ev"].astype(float))
    for keys, event in ((["small", "flag"], "ev"), (["grade", "x", "cnt"], "ev_float"), (["flag"], None)):
        got = engine.group_counts(df, keys, event)
        ref = engine.group_counts(engine.table(df, backend), keys, event, backend)
        want = df.groupby(keys, dropna=False).size()
        assert len(got) == len(ref) == len(want) and got["n"].sum() == n
        cols = ["n"] + (["n_event"] if event else [])
        a = got.astype({k: "string" for k in keys}).sort_values(keys).reset_index(drop=True)[cols]
        b = ref.astype({k: "string" for k in keys}).sort_values(keys).reset_index(drop=True)[cols]
        pd.testing.assert_frame_equal(a, b, check_dtype=False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_survival_counts_match_lifelines_table(world, backend):
    from lifelines import KaplanMeierFitter

    a = world.applications.assign(
        d=world.applications["age"] % 17 + 1, e=world.applications["booked"].astype(int)
    )
    a["s"] = (a["d"] - 3).clip(lower=0)
    a = a[["d", "e", "s"]]
    kmf = KaplanMeierFitter().fit(a["d"], a["e"])
    tab = kmf.event_table.loc[kmf.event_table.index > 0]
    # the frame itself (counted in numpy), the same rows as an engine table, and non-integer times (sorted)
    variants = [
        (a, 0.0),
        (engine.table(a, backend), 0.0),
        (a.astype({"d": float, "e": bool, "s": float}), 0.0),
        (a.assign(d=a["d"] + 0.5, s=a["s"] + 0.5), 0.5),
    ]
    for data, shift in variants:
        got = engine.survival_counts(data, "d", "e", backend=backend)
        assert got["time"].tolist() == (tab.index.to_numpy() + shift).tolist()
        assert got["at_risk"].tolist() == tab["at_risk"].astype(int).tolist()
        assert got["n_event"].tolist() == tab["observed"].astype(int).tolist()
        # left truncation: at risk when entry < t <= exit
        got = engine.survival_counts(data, "d", "e", entry="s", backend=backend)
        for _, r in got.iterrows():
            t = r["time"] - shift
            assert r["at_risk"] == ((a["s"] < t) & (a["d"] >= t)).sum()


@pytest.mark.parametrize("backend", BACKENDS)
def test_vintage_and_roll_counts(world, backend):
    p = world.performance
    v = engine.vintage_counts(p, backend=backend)
    acc = p.groupby("account_id").agg(cohort=("month", "min"), first_bad=("dpd", lambda s: np.nan))
    first_bad = p[p["dpd"] >= 90].groupby("account_id")["mob"].min()
    acc["first_bad"] = first_bad
    for (cohort, mob), n in acc.dropna().groupby(["cohort", "first_bad"]).size().items():
        assert v.loc[(v["cohort"] == cohort) & (v["mob"] == mob), "n_new_bad"].item() == n
    assert v.groupby("cohort")["n_accounts"].first().to_dict() == acc.groupby("cohort").size().to_dict()
    r = engine.roll_counts(p, backend=backend)
    nxt = p.assign(mob=p["mob"] - 1)[["account_id", "mob", "state"]].rename(columns={"state": "to_state"})
    j = p.merge(nxt, on=["account_id", "mob"]).groupby(["state", "to_state"]).size()
    assert dict(zip(zip(r["from_state"], r["to_state"], strict=True), r["n"], strict=True)) == j.to_dict()


def test_engine_errors_are_clear(world):
    with pytest.raises(DataError, match="'nope'"):
        engine.funnel_counts(world.contacts, ["nope"])
    with pytest.raises(ParameterError, match="edges"):
        engine.bin_counts(world.applications, "age", "bad_12m", edges=[50, 30])
    with pytest.raises(ParameterError, match="backend"):
        engine.funnel_counts(world.contacts, ["responded"], backend="oracle")


def test_parquet_folder_runs_lazily(tmp_path):
    syn.write_bank(tmp_path, n_customers=5_000, random_state=5, chunk_size=syn.BLOCK)
    got = engine.funnel_counts(tmp_path / "contacts", STAGES)
    c = pd.read_parquet(tmp_path / "contacts")
    assert got["n"].item() == len(c) and got["n_booked"].item() == c["booked"].sum()


@pytest.mark.spark
def test_a_spark_database_is_a_source_by_its_tables_names(tmp_path):
    """``spark:<database>.<table>`` reads that table (Ibis would quote a dotted name as one identifier); 06's
    ``spark:<database>`` reads its six tables by name and gives the folder's feed; a table that is not in the
    catalog is one DataError naming it."""
    from cmlib import monitoring as mo
    from cmlib.data import load, write_bank
    from cmlib.errors import DataError

    out = write_bank(tmp_path / "w", n_customers=2_000, random_state=4)
    session = engine.spark()._session
    db = f"cm_{tmp_path.name.replace('-', '_')}"
    session.sql(f"CREATE DATABASE IF NOT EXISTS {db} LOCATION '{tmp_path / 'db'}'")
    for t in (
        "monitoring_contacts",
        "monitoring_plan",
        "complaints",
        "survey",
        "monitoring_campaigns",
        "customers",
    ):
        df = session.read.parquet(str(out / t))
        df.write.mode("overwrite").option("path", str(tmp_path / "db" / t)).saveAsTable(f"{db}.{t}")
    plan = load(f"spark:{db}.monitoring_plan", table="monitoring_plan")
    assert len(plan) == len(pd.read_parquet(out / "monitoring_plan"))
    from_spark, from_folder = mo.monitoring_data(f"spark:{db}"), mo.monitoring_data(str(out))
    pd.testing.assert_frame_equal(
        mo.weekly_funnel(from_spark.contacts, from_spark.complaints, from_spark.cells),
        mo.weekly_funnel(from_folder.contacts, from_folder.complaints, from_folder.cells),
        check_dtype=False,  # Spark returns nanosecond dates, Parquet microsecond ones
    )
    with pytest.raises(DataError, match=r"table 'nowhere\.contacts'.*a table in Spark's catalog"):
        load("spark:nowhere.contacts", table="contacts")


def test_duckdb_float_sums_are_the_same_in_every_run():
    """The engine's DuckDB runs on one thread: a grouped float sum over 15M rows gives the same bits every
    time (on several threads it gave a different last digit in each of 6 runs), so reports are deterministic."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"k": rng.integers(0, 6, 15_000_000), "v": rng.lognormal(3, 1, 15_000_000)})
    con = engine.duckdb()
    assert con.raw_sql("SELECT current_setting('threads')").fetchall() == [(1,)]
    t = ibis.memtable(df)
    expr = t.group_by("k").aggregate(s=t.v.sum()).order_by("k")
    runs = {tuple(con.to_pandas(expr)["s"]) for _ in range(3)}
    assert len(runs) == 1
    ref = df.groupby("k")["v"].sum().to_numpy()
    np.testing.assert_allclose(next(iter(runs)), ref, rtol=1e-12)

"""cmlib.market against statsmodels and hand calculations, the simulator's truth, false-alarm rates by
simulation, and pinned results on fpp2/debitcards."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cmlib import market as mk
from cmlib.data import synthetic as syn
from cmlib.data.public import load_public
from cmlib.errors import DataError, ParameterError

COMPS = ["competitor_a_apr", "competitor_b_apr", "competitor_c_apr"]


@pytest.fixture(scope="module")
def world():
    return syn.simulate_bank(n_customers=5_000, random_state=1)


@pytest.fixture(scope="module")
def total(world):
    return mk.monthly(world.market, value="market_balance")


@pytest.fixture(scope="module")
def debit():
    return mk.monthly(load_public("debitcards").frame, value="debit_card_use_million_isk")


def test_growth_and_cagr_equal_hand_calculation(total):
    g = mk.growth(total)
    assert g.table["yoy"].iloc[-1] == pytest.approx(total.iloc[-1] / total.iloc[-13] - 1, rel=1e-12)
    assert g.table["mom"].iloc[-1] == pytest.approx(total.iloc[-1] / total.iloc[-2] - 1, rel=1e-12)
    years = (len(total) - 1) / 12
    assert g.summary["cagr_full"].item() == pytest.approx((total.iloc[-1] / total.iloc[0]) ** (1 / years) - 1)
    assert mk.cagr(100, 121, 2) == pytest.approx(0.1)


def test_stl_equals_statsmodels(total):
    from statsmodels.tsa.seasonal import STL

    ours = mk.stl(total)
    ref = STL(np.log(total), period=12, robust=True).fit()
    assert np.allclose(ours.trend, ref.trend, atol=1e-12) and np.allclose(
        ours.seasonal, ref.seasonal, atol=1e-12
    )


def test_forecast_equals_statsmodels_sarimax_and_backtest_beats_naive(total):
    f = mk.forecast(total, horizon=12)
    assert f.model in mk.MODELS and len(f.forecast) == 12
    b = f.backtest.set_index("model")
    assert (
        b.loc[f.model, "mape"] == b["mape"].min() and b.loc[f.model, "mape"] < b.loc["seasonal_naive", "mape"]
    )
    ref = sm.tsa.SARIMAX(np.log(total), order=(1, 1, 1), seasonal_order=(0, 1, 1, 12)).fit(disp=False)
    ours = mk._fit_forecast(np.log(total), "sarimax", 12, 0.05)
    assert np.allclose(ours["mean"], ref.get_forecast(12).predicted_mean, atol=1e-9)
    assert (f.forecast["ci_low"] < f.forecast["mean"]).all() and (
        f.forecast["mean"] < f.forecast["ci_high"]
    ).all()


def test_its_equals_statsmodels_and_recovers_truth(world):
    mass = mk.monthly(world.market[world.market["segment"] == "mass"], value="market_balance")
    its = mk.interrupted_time_series(mass, world.truth["market"]["break_date"])
    X = mk._its_design(mass.index, mass.index.get_loc(pd.Timestamp("2020-04-01")), True)
    ref = sm.OLS(np.log(mass), X).fit(cov_type="HAC", cov_kwds={"maxlags": 6})
    assert its.summary.loc["level_change", "coef"] == pytest.approx(ref.params["level_change"], abs=1e-12)
    assert its.summary.loc["slope_change", "se"] == pytest.approx(ref.bse["slope_change"], abs=1e-12)
    t = world.truth["market"]
    for row, true in (("level_change", t["level_change"]), ("slope_change", t["slope_change"])):
        r = its.summary.loc[row]
        assert r["ci_low"] <= true <= r["ci_high"], (row, r.to_dict(), true)
    g = its.annual_growth()  # the statsmodels slopes as yearly growth, by hand
    assert g["growth_before"] == pytest.approx(np.expm1(12 * ref.params["trend"]), rel=1e-9)
    assert g["growth_after"] == pytest.approx(
        np.expm1(12 * (ref.params["trend"] + ref.params["slope_change"])), rel=1e-9
    )


def test_detect_break_recovers_true_date_and_effect(world):
    mass = mk.monthly(world.market[world.market["segment"] == "mass"], value="market_balance")
    b = mk.detect_breaks(mass, max_breaks=2)
    assert b.n_breaks == 1 and b.p_value < 0.05
    r = b.summary.iloc[0]
    true = pd.Timestamp(world.truth["market"]["break_date"])
    assert abs((r["date"].to_period("M") - true.to_period("M")).n) <= 1
    assert r["date_ci_low"] <= true <= r["date_ci_high"]
    assert r["level_change"] == pytest.approx(world.truth["market"]["level_change"], abs=0.02)


def test_no_break_false_alarm_rate_is_bounded():
    """Series with trend, seasonality and noise but no break: breaks reported in at most ~alpha of them."""
    rng = np.random.default_rng(12)
    idx = pd.date_range("2015-01-01", periods=132, freq="MS")
    k, alarms = 60, 0
    for _ in range(k):
        log_y = (
            10 + 0.004 * np.arange(132) + 0.03 * np.cos(2 * np.pi * idx.month / 12) + rng.normal(0, 0.01, 132)
        )
        alarms += mk.detect_breaks(
            pd.Series(np.exp(log_y), index=idx),
            max_breaks=2,
            n_boot=99,
            random_state=int(rng.integers(1 << 30)),
        ).detected
    # nominal 5 %; with 60 series, 8 or more alarms would happen by chance < 1 % of the time at 5 %
    assert alarms / k <= 8 / 60


def test_price_effect_equals_statsmodels_and_covers_truth(world):
    mass = world.market[world.market["segment"] == "mass"]
    pe = mk.price_effect(mass, "own_share", "own_apr", COMPS, controls=["policy_rate"])
    gap = mass["own_apr"] - mass[COMPS].mean(axis=1)
    X = pd.DataFrame({"price_gap_pp": gap.to_numpy(), "policy_rate": mass["policy_rate"].to_numpy()})
    y = np.log(mass["own_share"] / (1 - mass["own_share"])).to_numpy()
    ref = sm.tsa.SARIMAX(y, exog=X, order=(1, 0, 0), trend="c").fit(disp=False, maxiter=1000)
    assert pe.summary.loc["price_gap_pp", "coef"] == pytest.approx(ref.params["price_gap_pp"], abs=1e-6)
    r = pe.summary.loc["price_gap_pp"]
    assert r["ci_low"] <= world.truth["market"]["price_gap_pp"] <= r["ci_high"]
    assert len(pe.share_at_risk) == 3
    # who we are losing to: by hand, today's share minus the share with the gap to one competitor closed
    by = pe.by_competitor
    last = mass.sort_values("month").iloc[-1]
    sh = last["own_share"]
    for c in COMPS:
        gap_c = last["own_apr"] - last[c]
        closed = 1 / (1 + np.exp(-(np.log(sh / (1 - sh)) - r["coef"] * gap_c / len(COMPS))))
        assert by.loc[c, "our_gap_pp"] == pytest.approx(gap_c)
        assert by.loc[c, "share_change"] == pytest.approx(sh - closed, rel=1e-9)
    assert by["share_change"].is_monotonic_increasing  # the most costly competitor first


def test_attractiveness_and_alerts(world):
    sm_ = mk.segment_metrics(
        world.market, world.customers, world.contacts, world.applications, world.performance
    ).summary
    assert set(sm_.index) == set(syn.SEGMENTS)
    a = mk.attractiveness(sm_, {"size": 1, "growth": 1, "bad_rate_12m": -1})
    z = (sm_ - sm_.mean()) / sm_.std(ddof=0)
    best = (z["size"] + z["growth"] - z["bad_rate_12m"]).idxmax()
    assert a.summary.index[0] == best and list(a.summary["rank"]) == list(range(1, 6))
    mass = world.market[world.market["segment"] == "mass"]
    al = mk.price_alerts(mass, COMPS, 1.0).summary
    moves = mass.set_index("month")[COMPS].diff()
    assert len(al) == int((moves.abs() > 1.0).sum().sum())


def test_segment_rates_by_hand_and_from_parquet_through_the_engine(world, tmp_path):
    """Each rate is counted by the engine (a join on customer_id and a group-by): it equals pandas by hand, and
    a bank written as Parquet folders gives the same table without reading its rows into Python."""
    got = mk.segment_metrics(
        world.market, world.customers, world.contacts, world.applications, world.performance
    ).summary
    seg_of = world.customers.set_index("customer_id")["segment"]

    def by_segment(df, col):
        return df[col].astype(float).groupby(df["customer_id"].map(seg_of)).mean()

    apps = world.applications.assign(ok=world.applications["decision"] == "approved")
    expected = {
        "responses_per_contact": by_segment(world.contacts, "responded"),
        "approvals_per_application": by_segment(apps, "ok"),
        "bad_rate_12m": by_segment(world.applications, "bad_12m"),
        "margin_per_account_month": by_segment(world.performance, "margin"),
    }
    for col, e in expected.items():
        assert got[col].to_numpy() == pytest.approx(e.reindex(got.index).to_numpy(), rel=1e-12), col
    names = ["customers", "contacts", "applications", "performance"]
    for n in names:
        (tmp_path / n).mkdir()
        getattr(world, n).to_parquet(tmp_path / n / "part-0.parquet")
    lake = mk.segment_metrics(world.market, *(tmp_path / n for n in names)).summary
    pd.testing.assert_frame_equal(lake, got, rtol=1e-12)


def test_pinned_on_debitcards(debit):
    f = mk.forecast(debit, horizon=12)
    b = f.backtest.set_index("model")
    assert f.model == "ets"
    assert b.loc["ets", "mape"] == pytest.approx(0.0280, abs=0.0005)
    assert b.loc["seasonal_naive", "mape"] == pytest.approx(0.0494, abs=0.0005)
    br = mk.detect_breaks(debit, max_breaks=2)
    assert br.n_breaks == 2
    assert [str(d.date()) for d in br.summary["date"]] == ["2004-11-01", "2008-03-01"]


def test_bad_input_errors(total):
    gappy = total.drop(total.index[[10, 11, 40]])
    with pytest.raises(DataError, match=r"no gaps in the monthly index' in 3 row"):
        mk.growth(gappy)
    with pytest.raises(DataError, match="at least 13 months"):
        mk.growth(total.iloc[:10])
    with pytest.raises(DataError, match=r"> 0 \(logs are taken\)"):
        mk.stl(total.where(total.index != total.index[5], -1.0))
    with pytest.raises(DataError, match="at least 25 months"):
        mk.stl(total.iloc[:20])
    with pytest.raises(ParameterError, match="weights"):
        mk.attractiveness(pd.DataFrame({"size": [1, 2]}, index=["a", "b"]), {"unknown_segment_metric": 1})
    with pytest.raises(ParameterError, match=r"'segments'.*\['platinum'\]"):
        mk.select_segments(pd.DataFrame({"segment": ["mass", "affluent"]}), ["mass", "platinum"])
    assert len(mk.select_segments(pd.DataFrame({"segment": ["mass", "affluent"]}), ["mass"])) == 1
    with pytest.raises(ParameterError, match="break_date"):
        mk.interrupted_time_series(total, "1999-01-01")


def test_a_plain_monthly_series_is_a_market_source(tmp_path):
    """Real data as a user has it: debitcards written as a two-column CSV (month, value). It loads as the
    market source with only those two columns checked; a quarterly series and text in the value column are
    refused with one line each."""
    d = load_public("debitcards").frame.rename(columns={"debit_card_use_million_isk": "market_balance"})
    d[["month", "market_balance"]].astype({"month": str}).to_csv(tmp_path / "series.csv", index=False)
    src = mk.market_data(str(tmp_path / "series.csv"))
    s = mk.monthly(src.panel, value="market_balance", positive=True)
    pd.testing.assert_series_equal(s, mk.monthly(d, value="market_balance", positive=True))
    d.iloc[::3][["month", "market_balance"]].to_csv(tmp_path / "quarterly.csv", index=False)
    q = mk.market_data(str(tmp_path / "quarterly.csv")).panel
    with pytest.raises(DataError, match=r"monthly dates \(these are 3 months apart"):
        mk.monthly(q, value="market_balance")
    d.assign(market_balance=d["market_balance"].astype(object).where(d.index != 5, "twelve")).to_csv(
        tmp_path / "text.csv", index=False
    )
    with pytest.raises(DataError, match=r"'market_balance' breaks rule 'a number' in 1 row"):
        mk.market_data(str(tmp_path / "text.csv"))
    with pytest.raises(DataError, match="'balance' breaks rule 'required column is missing'"):
        mk.market_data(str(tmp_path / "series.csv"), value_column="balance")
    # a generated bank's folder: the full market schema, read from its market/ subfolder and validated
    (tmp_path / "bank" / "market").mkdir(parents=True)
    world_market = syn.simulate_bank(2_000, random_state=3).market
    world_market.to_parquet(tmp_path / "bank" / "market" / "part-0.parquet")
    pd.testing.assert_frame_equal(mk.market_data(str(tmp_path / "bank")).panel, world_market)


def test_a_series_with_inf_or_absurd_values_is_refused(tmp_path):
    """#16: inf or 1e300 in the value column would reach the forecast as a solver error; one DataError."""
    from cmlib.errors import DataError
    from cmlib.market.sources import market_data

    d = load_public("debitcards").frame.rename(columns={"debit_card_use_million_isk": "v"})
    d.loc[[5, 9], "v"] = [np.inf, 1e300]
    d.to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(
        DataError, match=r"column 'v' breaks rule 'a finite number of at most 1e\+15 in size' in 2 row"
    ):
        market_data(str(tmp_path / "s.csv"), value_column="v")

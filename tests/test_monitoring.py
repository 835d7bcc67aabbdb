"""cmlib.monitoring: control charts (simulation properties), the KPI tree and its decomposition (exact identities),
complaint rates and NPS (scipy formulas, coverage by simulation), compliance monitors (the simulator's planted
breaches), the forecast artefact, and the monitoring feed of the simulated bank."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cmlib import monitoring as mo
from cmlib.errors import DataError, ParameterError


@pytest.fixture(scope="module")
def feed():
    from cmlib.data import simulate_bank
    from cmlib.data.synthetic import simulate_monitoring

    world = simulate_bank(60_000, random_state=3)
    return world.customers, simulate_monitoring(world.customers, 3)


# --- charts -----------------------------------------------------------------------------------------------


def test_quantile_residuals_are_the_normal_scores_of_the_mid_p_value():
    x, n, p = np.array([0, 3, 7]), np.array([20, 20, 20]), 0.15
    want = stats.norm.ppf(stats.binom.cdf(x - 1, 20, p) + 0.5 * stats.binom.pmf(x, 20, p))
    assert mo.quantile_residuals(x, n, p) == pytest.approx(want, abs=1e-12)
    want_p = stats.norm.ppf(stats.poisson.cdf(x - 1, 20 * p) + 0.5 * stats.poisson.pmf(x, 20 * p))
    assert mo.quantile_residuals(x, n, p, "poisson") == pytest.approx(want_p, abs=1e-12)
    assert mo.quantile_residuals([0], [0], p)[0] == 0.0  # no contacts: no information


def test_ewma_and_its_limits():
    rng = np.random.default_rng(0)
    z = rng.normal(size=50)
    e, loop = mo.ewma(z, 0.3), []
    prev = 0.0
    for v in z:
        prev = 0.3 * v + 0.7 * prev
        loop.append(prev)
    assert e == pytest.approx(loop, abs=1e-12)
    lim = mo.ewma_limit(np.array([1, 1000]), 0.3, 3.0)
    assert lim[0] == pytest.approx(3.0 * 0.3)  # first week: the score itself, weighted by lambda
    assert lim[1] == pytest.approx(3.0 * np.sqrt(0.3 / 1.7))


def test_cusum_dates_a_step_and_finds_none_without_one():
    z = np.r_[np.zeros(20), np.full(6, -2.0)]
    assert mo.cusum_start(z, -1) == 20
    assert mo.cusum_start(np.zeros(10), -1) is None


def _stable_far(n, p, kind, seeds=300, rng=None):
    rng = rng or np.random.default_rng(1)
    flagged = total = 0
    for _ in range(seeds):
        nn = rng.poisson(n, 104)
        x = rng.binomial(nn, p) if kind == "binomial" else rng.poisson(nn * p)
        m = mo.RateChart(kind=kind).fit(x[:52], nn[:52]).monitor(x[52:], nn[52:])
        flagged += int(m["alarm"].sum())
        total += 52
    return flagged / total


@pytest.mark.parametrize(
    "n, p, kind",
    [(1500, 0.02, "binomial"), (25, 0.7, "binomial"), (20, 0.03, "binomial"), (1500, 4e-4, "poisson")],
    ids=["responses", "small-approvals", "rare-delinquency", "complaints"],
)
def test_stable_rates_raise_under_one_false_alarm_per_100_weeks(n, p, kind):
    # 300 x 52 weeks: a false-alarm rate of 1 % would show ~156 flagged weeks; the bound holds with margin
    assert _stable_far(n, p, kind) < 0.01


def test_a_40_percent_response_drop_is_caught_within_two_weeks():
    """The default world's email volume (~7,000 contacts a week in the autumn, 1.3 % response) dropping by 40 %."""
    rng = np.random.default_rng(2)
    caught = 0
    for _ in range(200):
        nn = rng.poisson(7000, 100)
        p = np.where(np.arange(100) >= 98, 0.013 * 0.60, 0.013)
        x = rng.binomial(nn, p)
        m = mo.RateChart().fit(x[:52], nn[:52]).monitor(x[52:], nn[52:])
        caught += bool(m["alarm"].iloc[-2:].any())
    assert caught / 200 >= 0.9


def test_rate_chart_checks_its_parameters():
    with pytest.raises(ParameterError, match="lam"):
        mo.RateChart(lam=0).fit([1], [10])
    with pytest.raises(ParameterError, match="kind"):
        mo.RateChart(kind="normal").fit([1], [10])


# --- KPI tree ---------------------------------------------------------------------------------------------


def test_bookings_are_contacts_times_the_stage_rates(feed):
    _, m = feed
    w = mo.weekly_funnel(m.contacts, m.complaints, m.campaigns)
    k = mo.kpi_values(w.drop(columns=["campaign", "channel"]).groupby("week").sum())
    k = k[k["bookings"] > 0]
    prod = k["contacts"] * k[list(mo.STAGE_RATES)[:4]].prod(axis=1)
    assert prod.to_numpy() == pytest.approx(k["bookings"].to_numpy(), rel=1e-12)
    # the weekly funnel holds every contact and every complaint dated in the data's weeks
    assert w["contacts"].sum() == len(m.contacts)
    assert w["complaints"].sum() == len(m.complaints)


def test_the_weekly_funnel_counted_by_the_engine_equals_the_one_counted_in_memory(feed):
    """A table (here DuckDB's; Spark's in the runner's parity test) gives the same weekly counts, order and
    dtypes as a frame, early outcomes still unknown included (NULL early_dpd30 and spend_90d)."""
    from cmlib import engine

    _, m = feed
    assert m.contacts["early_dpd30"].isna().any() and m.contacts["spend_90d"].isna().any()
    in_memory = mo.weekly_funnel(m.contacts, m.complaints, m.campaigns)
    counted = mo.weekly_funnel(engine.table(m.contacts), m.complaints, m.campaigns)
    pd.testing.assert_frame_equal(counted, in_memory, rtol=1e-12)
    with pytest.raises(ParameterError, match="backend"):
        mo.weekly_funnel(m.contacts, backend="polars")


def test_decomposition_is_exact_and_attributes_a_single_change_to_its_factor():
    b = {"a": 100.0, "b": 0.05, "c": 0.4}
    a = {"a": 120.0, "b": 0.04, "c": 0.45}
    d = mo.decompose(b, a, ["a", "b", "c"])
    assert d.summary["contribution"].sum() == pytest.approx(d.change, abs=1e-12)
    assert d.change == pytest.approx(120 * 0.04 * 0.45 - 100 * 0.05 * 0.4)
    rev = mo.decompose(b, a, ["c", "b", "a"]).summary["contribution"]
    assert rev.reindex(["a", "b", "c"]).to_numpy() == pytest.approx(d.summary["contribution"].to_numpy())
    only = mo.decompose(b, {**b, "b": 0.06}, ["a", "b", "c"]).summary["contribution"]
    assert only["b"] == pytest.approx(100 * 0.01 * 0.4) and only[["a", "c"]].abs().max() == 0
    with pytest.raises(ParameterError, match="positive"):
        mo.decompose(b, {**a, "b": 0.0}, ["a", "b", "c"])


def test_week_view_compares_with_plan_last_week_and_last_year(feed):
    _, m = feed
    w = mo.weekly_funnel(m.contacts, m.complaints, m.campaigns)
    last = w["week"].max()
    v = mo.week_view(w, m.plan, last)
    s = v.summary
    assert list(s.columns[:4]) == ["this week", "plan", "last week", "same week last year"]
    assert s.loc["contacts", "this week"] == (m.contacts["week"] == last).sum()
    assert s.loc["contacts", "plan"] == pytest.approx(m.plan.loc[m.plan["week"] == last, "contacts"].sum())
    assert s.loc["bookings", "vs last week"] == pytest.approx(
        s.loc["bookings", "this week"] / s.loc["bookings", "last week"] - 1
    )
    d = v.decomposition()
    total = d.loc["bookings (total change)"]
    assert total["last week"] == pytest.approx(
        s.loc["bookings", "this week"] - s.loc["bookings", "last week"]
    )
    assert total["plan"] == pytest.approx(s.loc["bookings", "this week"] - s.loc["bookings", "plan"])


def test_resolve_week():
    weeks = pd.Series(pd.date_range("2025-01-06", periods=10, freq="W-MON"))
    assert mo.resolve_week("latest", weeks) == weeks.iloc[-1]
    assert mo.resolve_week("2025-01-16", weeks) == pd.Timestamp("2025-01-13")  # a Thursday → its Monday
    for bad in ("2030-01-01", "yesterday", "2025-01-06"):
        with pytest.raises(ParameterError, match="as_of_week"):
            mo.resolve_week(bad, weeks)


# --- feedback ---------------------------------------------------------------------------------------------


def test_complaint_rates_have_garwood_intervals():
    c = pd.DataFrame({"campaign": ["a"] * 7 + ["b"] * 2})
    r = mo.complaint_rates(c, pd.Series({"a": 10_000, "b": 20_000, "c": 5_000}), "campaign", alpha=0.05)
    lo = stats.chi2.ppf(0.025, 14) / 2 / 10_000 * 1e4
    hi = stats.chi2.ppf(0.975, 16) / 2 / 10_000 * 1e4
    assert r.loc["a", "per_10k"] == pytest.approx(7.0)
    assert (r.loc["a", "ci_low"], r.loc["a", "ci_high"]) == pytest.approx((lo, hi), rel=1e-9)
    assert r.loc["c", "complaints"] == 0 and r.loc["c", "ci_low"] == 0


def test_complaint_outliers_flag_a_campaign_several_times_the_others_and_rarely_an_equal_one():
    rng = np.random.default_rng(5)
    n = pd.Series({"a": 50_000, "b": 60_000, "c": 40_000, "d": 30_000})
    false = 0
    for _ in range(200):
        k = rng.poisson(n * 4e-4)
        rates = pd.DataFrame({"complaints": k, "contacts": n})
        false += int(mo.complaint_outliers(rates, 2.0)["flagged"].sum())
    assert false == 0
    k = pd.Series({"a": 120, "b": 24, "c": 16, "d": 12})  # a: 24 per 10k, the others 4
    f = mo.complaint_outliers(pd.DataFrame({"complaints": k, "contacts": n}), 2.0)
    assert f["flagged"].tolist() == [True, False, False, False]


def test_nps_and_its_interval_coverage():
    s = pd.DataFrame({"g": ["x"] * 10, "score": [10, 9, 9, 8, 7, 6, 5, 0, 10, 9]})
    r = mo.net_promoter(s, "g").summary.loc["x"]
    assert r["nps"] == pytest.approx(100 * (5 / 10 - 3 / 10))
    rng = np.random.default_rng(7)
    p = [0.2, 0.35, 0.45]  # detractor, passive, promoter: true NPS 25
    hits = 0
    for _ in range(2000):
        cat = rng.choice(3, size=150, p=p)
        score = np.array([3, 8, 10])[cat]
        ci = mo.net_promoter(pd.DataFrame({"g": 1, "score": score}), "g").summary.iloc[0]
        hits += ci["ci_low"] <= 25 <= ci["ci_high"]
    assert 0.93 <= hits / 2000 <= 0.97
    with pytest.raises(DataError, match="survey"):
        mo.net_promoter(pd.DataFrame({"g": [1], "score": [11]}), "g")


# --- compliance -------------------------------------------------------------------------------------------


def test_every_planted_breach_is_found_and_none_invented(feed):
    customers, m = feed
    br = mo.contact_breaches(m.contacts, customers)
    p = m.truth["planted"]
    assert set(br.loc[br["rule"] == "do-not-contact customer", "contact_id"]) == set(
        p["do_not_contact_breach_contact_ids"]
    )
    assert set(br.loc[br["rule"].str.startswith("no permission"), "contact_id"]) == set(
        p["permission_breach_contact_ids"]
    )


def test_approval_ratio_and_apr_check():
    apps = pd.DataFrame(
        {
            "channel": ["x"] * 200,
            "g": ["A"] * 100 + ["B"] * 100,
            "approved": [1] * 80 + [0] * 20 + [1] * 40 + [0] * 60,
        }
    )
    r = mo.approval_ratio(apps, "g", "A", "channel").loc["x"]
    assert r["ratio"] == pytest.approx(0.5)
    se = np.sqrt(0.6 / 40 + 0.2 / 80)
    assert r["ci_high"] == pytest.approx(0.5 * np.exp(1.959964 * se), rel=1e-5)
    assert bool(r["flagged"])
    cells = pd.DataFrame({"campaign": ["c"], "apr_advertised": [10.0], "apr_max_disclosed": [12.0]})
    b = pd.DataFrame({"campaign": ["c"] * 3, "apr_charged": [10.0, 12.0, 12.5]})
    a = mo.apr_check(b, cells, apr_cap=12.2).loc["c"]
    assert (a["above_disclosed"], a["above_cap"], a["apr_max"]) == (1, 1, 12.5)


def test_actions_put_pauses_first_and_name_the_evidence():
    flags = pd.DataFrame(
        {"ratio_to_others": [5.0], "ci_low": [3.2], "ci_high": [7.0], "flagged": [True]}, index=["BT"]
    )
    alarms = pd.DataFrame(
        [
            {
                "kpi": "response_rate",
                "channel": "email",
                "direction": "down",
                "start_week": pd.Timestamp("2025-10-20"),
                "weeks_running": 6,
                "reference_rate": 0.03,
                "rate_since_start": 0.02,
                "relative_change": -0.33,
                "ci_low": -0.4,
                "ci_high": -0.25,
                "campaigns_moved": "A, B",
            }
        ]
    )
    br = pd.DataFrame(
        {"contact_id": [7123457], "channel": ["sms"], "campaign": ["C"], "rule": ["no permission for sms"]}
    )
    a = mo.action_list(alarms, flags, br)
    assert a["action"].tolist() == ["pause", "fix", "investigate"]
    assert (
        "2025-10-20" in a.loc[2, "evidence"]
        and "5.0×" in a.loc[0, "evidence"]
        and "1 contact(s) on sms (campaigns C)" in a.loc[1, "evidence"]
    )
    assert "7123457" not in " ".join(a["evidence"])  # identifiers stay out of the forwarded report


# --- forecast ---------------------------------------------------------------------------------------------


def test_forecast_artefact_round_trip_and_variance_is_exact(feed, tmp_path):
    from cmlib.artefacts import write_artefact

    _, m = feed
    w = mo.weekly_funnel(m.contacts, m.complaints, m.campaigns)
    wk = w["week"].max()
    f = mo.weekly_forecast(w, m.plan, wk, 8)
    assert f["bookings"].to_numpy() == pytest.approx(
        (f["contacts"] * f["response_rate"] * f["bookings_per_response"]).to_numpy()
    )
    cells, dec = mo.forecast_variance(f, w[w["week"] == wk])
    assert dec["contribution"].sum() == pytest.approx(cells["actual_bookings"].sum() - f["bookings"].sum())
    path = write_artefact(tmp_path / "f.json", mo.forecast_document(wk - pd.Timedelta(weeks=1), wk, f))
    got, where = mo.previous_forecast(path, w, m.plan, wk, 8)
    assert "last good run" in where and got["bookings"].to_numpy() == pytest.approx(f["bookings"].to_numpy())
    other, where = mo.previous_forecast(path, w, m.plan, wk - pd.Timedelta(weeks=1), 8)
    assert "recomputed" in where and "not this one" in where
    # a damaged file is recomputed, and said on the fallback line (console and run index), not only in the report
    notes = []
    path.write_text('{"kind": "monitoring_forecast"')
    again, where = mo.previous_forecast(path, w, m.plan, wk, 8, on_unreadable=notes.append)
    assert "could not be read" in where and len(notes) == 1 and "recomputed" in notes[0]
    assert again["bookings"].to_numpy() == pytest.approx(f["bookings"].to_numpy())
    # the plan runs past the data, so the next week has a forecast
    assert len(mo.weekly_forecast(w, m.plan, wk + pd.Timedelta(weeks=1), 8)) == len(m.campaigns)


# --- the simulated feed and the user's own tables ---------------------------------------------------------


def test_the_feed_is_deterministic_and_its_rates_are_stable_but_for_the_planted_drop(feed):
    from cmlib.data.synthetic import simulate_monitoring

    customers, m = feed
    again = simulate_monitoring(customers, 3)
    pd.testing.assert_frame_equal(m.contacts, again.contacts)
    pd.testing.assert_frame_equal(m.complaints, again.complaints)
    drop = m.truth["planted"]["response_drop"]
    c = m.contacts[m.contacts["channel"] == drop["channel"]]
    after = c["week"] >= drop["start_week"]
    rel = c.loc[after, "responded"].mean() / c.loc[~after, "responded"].mean() - 1
    assert rel == pytest.approx(drop["relative_change"], abs=0.2)  # 60k customers: ~480 email contacts a week


def test_a_written_world_reads_back_through_the_user_route(tmp_path):
    from cmlib.data import write_bank

    out = write_bank(tmp_path / "w", n_customers=2_000, random_state=4)
    d = mo.monitoring_data(str(out), random_state=4)
    syn = mo.monitoring_data("synthetic", 2_000, 4)
    assert len(d.contacts) == len(syn.contacts) and d.truth is None
    assert d.contacts["booked"].sum() == syn.contacts["booked"].sum()
    bad = pd.read_parquet(out / "survey")
    bad.loc[bad.index[:3], "score"] = 11
    bad.to_parquet(out / "survey" / "part-00000.parquet")
    with pytest.raises(DataError, match=r"survey.*score.*3"):
        mo.monitoring_data(str(out))


def test_a_contacts_table_with_its_own_column_names_is_read_through_the_columns_mapping(tmp_path):
    """#16 (06's roles): a warehouse export calls the week send_week and the cost unit_cost; ``columns`` maps
    them, the feed equals the one with the canonical names, and an error names the user's column."""
    from cmlib.data import write_bank

    out = write_bank(tmp_path / "w", n_customers=2_000, random_state=4)
    plain = mo.monitoring_data(str(out))
    part = out / "monitoring_contacts" / "part-00000.parquet"
    c = pd.read_parquet(out / "monitoring_contacts")
    c.rename(columns={"week": "send_week", "cost": "unit_cost"}).to_parquet(part)
    with pytest.raises(DataError, match="column 'week' breaks rule 'required column is missing'"):
        mo.monitoring_data(str(out))
    mapping = {"week": "send_week", "cost": "unit_cost"}
    mapped = mo.monitoring_data(str(out), columns=mapping)
    pd.testing.assert_frame_equal(mapped.contacts, plain.contacts)
    pd.testing.assert_frame_equal(
        mo.weekly_funnel(mapped.contacts, mapped.complaints, mapped.cells),
        mo.weekly_funnel(plain.contacts, plain.complaints, plain.cells),
    )
    c.loc[c.index[:4], "cost"] = -1.0
    c.rename(columns={"week": "send_week", "cost": "unit_cost"}).to_parquet(part)
    with pytest.raises(DataError, match=r"column 'unit_cost' breaks rule '>= 0' in 4 row"):
        mo.monitoring_data(str(out), columns=mapping)
    with pytest.raises(
        ParameterError, match="a folder of the feed's tables"
    ):  # one file cannot be six tables
        mo.monitoring_data(str(next((out / "survey").glob("*.parquet"))))
    with pytest.raises(ParameterError, match="roles among the monitoring_contacts columns"):
        mo.monitoring_data(str(out), columns={"sent": "send_week"})
    with pytest.raises(DataError, match="sendweek"):
        mo.monitoring_data(str(out), columns={"week": "sendweek"})


def test_the_cached_feed_equals_the_simulated_one(tmp_path, monkeypatch):
    from cmlib.data import cached_bank, read_bank
    from cmlib.data.synthetic import simulate_monitoring
    from cmlib.monitoring.sources import cached_monitoring

    monkeypatch.setenv("CMLIB_CACHE_DIR", str(tmp_path))
    path, _ = cached_bank(3_000, 5)
    disk = cached_monitoring(3_000, 5)
    mem = simulate_monitoring(read_bank(path).customers, 5)
    for name in mem.TABLES:
        pd.testing.assert_frame_equal(getattr(disk, name), getattr(mem, name), obj=name)
    assert disk.truth == mem.truth


def test_only_an_offer_the_test_rejected_is_flagged():
    cells = pd.DataFrame({"campaign": ["A", "B", "C", "D"], "arm": ["x", "y", "z", None]})
    dec = pd.DataFrame({"arm": ["x", "y"], "decision": ["do not ship", "keep running"]})
    o = mo.offers_against_decision(cells, dec)
    assert o["flagged"].to_dict() == {"A": True, "B": False, "C": False}
    assert o.loc["C", "decision"] == "not in the test's decision"
    # no decision artefact at all (notebook 02 not run yet): nothing flagged, and the table says why
    none = mo.offers_against_decision(cells, pd.DataFrame(columns=["arm", "decision"]))
    assert not none["flagged"].any() and set(none["decision"]) == {"no decision from the A/B test"}


def test_a_forecast_after_a_dated_shift_uses_only_the_weeks_since(feed):
    _, m = feed
    w = mo.weekly_funnel(m.contacts, m.complaints, m.campaigns)
    wk = w["week"].max()
    start = wk - pd.Timedelta(weeks=3)
    f = mo.weekly_forecast(w, m.plan, wk, 8, since={"email": start})
    h = (
        w[(w["channel"] == "email") & (w["week"] >= start) & (w["week"] < wk)]
        .groupby("campaign")[["contacts", "responded"]]
        .sum()
    )
    got = f.xs("email", level="channel")["response_rate"]
    assert got.to_numpy() == pytest.approx((h["responded"] / h["contacts"]).reindex(got.index).to_numpy())
    other = mo.weekly_forecast(w, m.plan, wk, 8)
    pd.testing.assert_series_equal(
        f.xs("sms", level="channel")["response_rate"], other.xs("sms", level="channel")["response_rate"]
    )


def test_cell_economics_cuts_only_a_cell_that_loses_money_beyond_doubt():
    w = pd.DataFrame(
        {
            "campaign": ["A", "A", "B"],
            "channel": ["x", "y", "x"],
            "spend": [10_000.0, 1_000.0, 3_000.0],
            "booked": [10, 20, 10],
        }
    )
    e = mo.cell_economics(w, {"A": 300.0, "B": 300.0})
    # A/x: 1,000 per booking against 300: loses even with bookings at their upper bound (about 18.4)
    assert bool(e.loc[("A", "x"), "losing"]) and not e.loc[("A", "y"), "losing"]
    # B/x: 300 per booking, break-even: not beyond doubt
    assert e.loc[("B", "x"), "net_value"] == 0 and not e.loc[("B", "x"), "losing"]
    assert e.loc[("A", "x"), "net_value_high"] == pytest.approx(stats.chi2.ppf(0.975, 22) / 2 * 300 - 10_000)

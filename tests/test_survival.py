"""cmlib.survival against lifelines, the simulator's truth, pinned results on wa_churn, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import AalenJohansenFitter, CoxPHFitter, KaplanMeierFitter, NelsonAalenFitter
from lifelines.statistics import multivariate_logrank_test

from cmlib import engine
from cmlib import survival as sv
from cmlib.data import synthetic as syn
from cmlib.data.public import load_public
from cmlib.errors import ArtefactError, DataError, ParameterError


@pytest.fixture(scope="module")
def world():
    return syn.simulate_bank(n_customers=100_000, random_state=1)


@pytest.fixture(scope="module")
def durations(world):
    d = sv.duration_table(world.performance)
    apps = world.applications.set_index("application_id")
    d = d.join(
        apps[["segment", "product", "bureau_score", "dti", "age", "existing_relationship"]], on="account_id"
    )
    x = syn.default_features(apps.loc[d["account_id"]].reset_index())
    return d.reset_index(drop=True), x


@pytest.fixture(scope="module")
def churn():
    c = load_public("wa_churn").frame
    return c[c["tenure"] > 0].reset_index(drop=True)  # 11 customers with tenure 0 have no time at risk


def test_duration_table_matches_the_panel(world, durations):
    d, _ = durations
    p = world.performance
    last = p.sort_values("mob").groupby("account_id").last()
    closed = d[d["cause"] == "closure"].set_index("account_id")
    assert (last.loc[closed.index, "state"] == "closed").all()
    assert (last.loc[closed.index, "mob"] == closed["duration"]).all()
    dflt = d[d["cause"] == "default"].set_index("account_id")
    first90 = p[p["dpd"] >= 90].groupby("account_id")["mob"].min()
    assert (first90.loc[dflt.index] == dflt["duration"]).all()
    onset = world.truth_tables["applications"].set_index("application_id")["default_onset_mob"]
    assert (onset.loc[dflt.index] + 2 == dflt["duration"]).all()  # 90+ two months after onset
    assert (d["entry"] == 0).all() and set(d["cause"]) == {"default", "closure", "prepayment", "censored"}


def test_curves_equal_lifelines(churn):
    res = sv.curves(churn, "tenure", "churned", by="contract", horizon=72)
    for g, sub in churn.groupby("contract"):
        kmf = KaplanMeierFitter().fit(sub["tenure"], sub["churned"])
        assert np.allclose(
            res.fitters[g].survival_function_.to_numpy(), kmf.survival_function_.to_numpy(), atol=1e-12
        )
        naf = NelsonAalenFitter().fit(sub["tenure"], sub["churned"])
        assert np.allclose(
            res.hazards[g].cumulative_hazard_.to_numpy(), naf.cumulative_hazard_.to_numpy(), atol=1e-12
        )
    ref = multivariate_logrank_test(churn["tenure"], churn["contract"], churn["churned"]).p_value
    assert res.logrank_p == pytest.approx(ref, abs=1e-12)


def test_km_from_engine_counts_equals_lifelines(churn):
    for backend in ("duckdb",):
        counts = engine.survival_counts(churn, "tenure", "churned", backend=backend)
        km = sv.km_from_counts(counts).summary.set_index("time")["survival"]
        ref = KaplanMeierFitter().fit(churn["tenure"], churn["churned"]).survival_function_.iloc[:, 0]
        assert np.allclose(km.to_numpy(), ref.loc[km.index].to_numpy(), atol=1e-9)


def test_rmst_variance_is_of_the_estimate_checked_by_bootstrap(churn):
    sub = churn[churn["contract"] == "Month-to-month"]
    kmf = KaplanMeierFitter().fit(sub["tenure"], sub["churned"])
    res = sv.rmst(kmf, 36)
    r, se = res.rmst, res.se
    from lifelines.utils import restricted_mean_survival_time

    assert r == pytest.approx(restricted_mean_survival_time(kmf, t=36), rel=1e-9)
    rng = np.random.default_rng(0)
    boots = []
    for _ in range(300):
        b = sub.sample(len(sub), replace=True, random_state=rng)
        boots.append(sv.rmst(KaplanMeierFitter().fit(b["tenure"], b["churned"]), 36).rmst)
    assert se == pytest.approx(np.std(boots, ddof=1), rel=0.15)  # 300 bootstrap draws: ±~8 % sampling error


def test_pinned_on_wa_churn(churn):
    res = sv.curves(churn, "tenure", "churned", by="contract", horizon=72).summary
    assert res.loc["Month-to-month", "median"] == 35.0
    assert np.isinf(res.loc["Two year", "median"])
    assert res.loc["Month-to-month", "rmst"] == pytest.approx(36.298, abs=0.001)
    assert res.loc["One year", "rmst"] == pytest.approx(66.417, abs=0.001)
    X = pd.get_dummies(
        churn[["tenure", "churned", "contract", "monthly_charges"]],
        columns=["contract"],
        drop_first=True,
        dtype=float,
    )
    cx = sv.cox(
        X, "tenure", "churned", [c for c in X.columns if c.startswith("contract_") or c == "monthly_charges"]
    )
    ref = CoxPHFitter().fit(X, "tenure", "churned")
    assert np.allclose(cx.summary["coef"], ref.params_.loc[cx.summary.index], atol=1e-6)
    assert cx.summary.loc["contract_Two year", "hazard_ratio"] == pytest.approx(0.01467, abs=0.0001)


def test_aalen_johansen_equals_lifelines_without_ties():
    rng = np.random.default_rng(1)
    n = 400
    df = pd.DataFrame(
        {
            "duration": rng.exponential(10, n) + 0.01,
            "cause": rng.choice(["default", "closure", "censored"], n),
        }
    )
    ours = sv.cumulative_incidence(df, causes=("default", "closure")).summary
    codes = df["cause"].map({"default": 1, "closure": 2, "censored": 0})
    for k, c in ((1, "default"), (2, "closure")):
        ref = AalenJohansenFitter(calculate_variance=False).fit(df["duration"], codes, event_of_interest=k)
        ref_at = ref.cumulative_density_.iloc[:, 0].reindex(ours.index, method="ffill")
        assert np.allclose(ours[c].to_numpy(), ref_at.to_numpy(), atol=1e-12)
    total = ours.sum(axis=1).iloc[-1]
    km_all = (
        1 - KaplanMeierFitter().fit(df["duration"], df["cause"] != "censored").survival_function_.iloc[-1, 0]
    )
    assert total == pytest.approx(km_all, abs=1e-12)


def test_default_hazard_ratios_recover_truth(world, durations):
    """Time-varying Cox with every covariate of the generator, the macro series (lagged two months: 90+
    DPD shows two months after onset) and the trap arm's early effect: every hazard ratio near its truth.
    Tolerance |z| < 3 for 15 ratios (about 4 % family-wise by Bonferroni): Cox's tie handling on monthly
    data is an approximation of the generator's grouped-time model, which leaves small biases."""
    d, _ = durations
    apps = world.applications.set_index("application_id")
    x = syn.default_features(apps.loc[d["account_id"]].reset_index())
    x.index = d["account_id"]
    vary = [c for c in x.columns if x[c].nunique() > 1]
    arm_of = world.contacts.dropna(subset=["application_id"]).set_index("application_id")["arm"]
    x["trap_early"] = x.index.map(arm_of).isin(["no_fee_high_limit"]).astype(float)
    macro = syn.unemployment(syn.Calendar()).shift(2)
    long = sv.time_varying_panel(world.performance, d, macro, "default", x[[*vary, "trap_early"]])
    long["trap_early"] = long["trap_early"] * (long["stop"] <= 8)  # onset in MOB 1-6 shows by MOB 8
    res = sv.cox_time_varying(long, [*vary, "macro", "trap_early"]).summary
    hz = world.truth["hazards"]["default"]
    truth = {**syn.DEFAULT_BETA, "macro": hz["macro"], "trap_early": hz["trap_early"]}
    se = (np.log(res["hr_ci_high"]) - np.log(res["hr_ci_low"])) / (2 * 1.959964)
    z = (np.log(res["hazard_ratio"]) - pd.Series(truth).loc[res.index]) / se
    assert (z.abs() < 3).all(), z.to_dict()


def test_time_varying_panel_equals_a_merge_and_join():
    """The start/stop rows built by position equal the merge-and-join they replaced: rows of accounts with no
    duration are dropped, months after the account's duration are dropped, the event is the cause's month, a
    covariate missing for an account is NaN; two durations for one account are refused."""
    panel = pd.DataFrame(
        {
            "account_id": [7, 7, 7, 3, 3, 9, 9, 5],
            "month": pd.to_datetime(["2024-01-31", "2024-02-29", "2024-03-31"] * 2 + ["2024-01-31"] * 2),
            "mob": [1, 2, 3, 1, 2, 1, 2, 1],
        }
    )
    d = pd.DataFrame(
        {"account_id": [3, 7, 9], "duration": [2, 2, 2], "cause": ["default", "default", "churn"]}
    )
    macro = pd.Series([5.0, 5.5, 6.0], index=pd.to_datetime(["2024-01-31", "2024-02-29", "2024-03-31"]))
    cov = pd.DataFrame({"x": [0.5, -1.0]}, index=pd.Index([7, 9], name="account_id"))
    got = sv.time_varying_panel(panel, d, macro, "default", cov)
    p = panel.merge(d, on="account_id")
    p = p[p["mob"] <= p["duration"]]
    ref = pd.DataFrame(
        {
            "id": p["account_id"].to_numpy(),
            "start": p["mob"].to_numpy() - 1,
            "stop": p["mob"].to_numpy(),
            "event": ((p["mob"] == p["duration"]) & (p["cause"] == "default")).astype(int).to_numpy(),
            "macro": macro.reindex(p["month"]).to_numpy(),
        }
    ).join(cov.reindex(p["account_id"]).reset_index(drop=True))
    pd.testing.assert_frame_equal(got, ref)
    assert got["id"].tolist() == [7, 7, 3, 3, 9, 9] and got["event"].tolist() == [0, 1, 0, 1, 0, 0]
    assert got["x"].isna().tolist() == [False, False, True, True, False, False]
    with pytest.raises(DataError, match="one row per account"):
        sv.time_varying_panel(panel, pd.concat([d, d.head(1)]), macro, "default", cov)


def test_time_varying_cox_on_monthly_rows_equals_lifelines():
    """One row per account-month (unit intervals on an integer clock, with ties): the fast path's estimates,
    intervals and p-values equal lifelines' CoxTimeVaryingFitter; other intervals go to lifelines itself."""
    from lifelines import CoxTimeVaryingFitter

    rng = np.random.default_rng(11)
    rows = []
    for i in range(1_500):
        x1, x2 = rng.normal(), float(rng.random() < 0.3)
        for m in range(1, 25):
            macro = np.sin(m / 4) + rng.normal(0, 0.1)
            h = 0.02 * np.exp(0.5 * x1 - 0.4 * x2 + 0.3 * macro)
            event = rng.random() < h
            rows.append((i, m - 1, m, int(event), x1, x2, macro))
            if event:
                break
    long = pd.DataFrame(rows, columns=["id", "start", "stop", "event", "x1", "x2", "macro"])
    ours = sv.cox_time_varying(long, ["x1", "x2", "macro"], alpha=0.1).summary
    ref = CoxTimeVaryingFitter(alpha=0.1).fit(
        long, id_col="id", event_col="event", start_col="start", stop_col="stop"
    )
    r = ref.summary.loc[ours.index]
    assert long.groupby("stop")["event"].sum().max() > 1  # tied event times: Efron's correction is exercised
    np.testing.assert_allclose(ours["hazard_ratio"], r["exp(coef)"], rtol=1e-6)
    np.testing.assert_allclose(ours["hr_ci_low"], r["exp(coef) lower 90%"], rtol=1e-6)
    np.testing.assert_allclose(ours["hr_ci_high"], r["exp(coef) upper 90%"], rtol=1e-6)
    np.testing.assert_allclose(ours["p_value"], r["p"], rtol=1e-5, atol=1e-12)
    two = long.assign(stop=long["stop"] + 0.5)  # not unit intervals: lifelines fits it
    ref2 = CoxTimeVaryingFitter().fit(two, id_col="id", event_col="event", start_col="start", stop_col="stop")
    got2 = sv.cox_time_varying(two, ["x1", "x2", "macro"]).summary
    np.testing.assert_allclose(got2["hazard_ratio"], ref2.summary.loc[got2.index, "exp(coef)"], rtol=1e-9)


def test_discrete_hazard_from_counts_agrees_with_cox(durations):
    d, _ = durations
    d = d.assign(
        band=pd.cut(
            np.where(d["bureau_score"] >= 9998, 690, d["bureau_score"]), [0, 650, 700, 750, 900]
        ).astype(str)
    )
    counts = sv.person_period_counts(d, "duration", "default", ["band"])
    dh = sv.discrete_hazard(counts, ["band"]).summary
    X = pd.get_dummies(d[["duration", "default", "band"]], columns=["band"], drop_first=True, dtype=float)
    cx = sv.cox(X, "duration", "default", [c for c in X.columns if c.startswith("band_")]).summary
    for name in cx.index:
        a, b = dh.loc[name], cx.loc[name]
        se = (np.log(b["hr_ci_high"]) - np.log(b["hr_ci_low"])) / (2 * 1.96)
        assert abs(a["coef"] - b["coef"]) < 0.25 * se  # same data, same model up to tie handling


@pytest.mark.parametrize("bands", [None, [2, 4, 8]])
def test_discrete_hazard_equals_statsmodels_glm(bands):
    """The hand-rolled Fisher scoring is statsmodels' binomial GLM with a cloglog link, on the uncollapsed
    person-period rows: same coefficients and standard errors."""
    import statsmodels.api as sm

    rng = np.random.default_rng(5)
    n = 4000
    df = pd.DataFrame({"grade": rng.choice(["a", "b", "c"], n), "flag": rng.integers(0, 2, n), "entry": 0})
    lam = 0.08 * np.exp(np.select([df.grade == "b", df.grade == "c"], [0.4, 0.9], 0.0) - 0.5 * df.flag)
    t = np.ceil(rng.exponential(1 / lam))
    c = rng.integers(3, 12, n)
    df["duration"], df["event"] = np.minimum(t, c), (t <= c).astype(int)
    df.loc[:99, "entry"] = 2  # some left truncation
    df = df[df.duration > df.entry]
    pp = sv.person_period_counts(df, "duration", "event", ["grade", "flag"], entry="entry")
    got = sv.discrete_hazard(pp, ["grade", "flag"], time_bands=bands)
    band = pp["time"] if bands is None else pd.cut(pp["time"], [-np.inf, *bands, np.inf])
    X = pd.concat(
        [
            pd.get_dummies(band, dtype=float),
            pd.get_dummies(pp[["grade"]], dtype=float).iloc[:, 1:],
            pp[["flag"]].astype(float),
        ],
        axis=1,
    )
    ref = sm.GLM(
        pp["n_event"] / pp["at_risk"],
        X,
        var_weights=pp["at_risk"],
        family=sm.families.Binomial(sm.families.links.CLogLog()),
    ).fit()
    for mine, theirs in [("grade_b", "grade_b"), ("grade_c", "grade_c"), ("flag_1", "flag")]:
        assert got.summary.loc[mine, "coef"] == pytest.approx(ref.params[theirs], abs=1e-7)
        assert got.summary.loc[mine, "se"] == pytest.approx(ref.bse[theirs], rel=1e-6)
        assert got.summary.loc[mine, "p_value"] == pytest.approx(ref.pvalues[theirs], rel=1e-5, abs=1e-300)
    assert got.baseline["coef"].to_numpy() == pytest.approx(
        ref.params.iloc[: len(got.baseline)].to_numpy(), abs=1e-7
    )
    assert np.exp(got.summary.loc["grade_c", "coef"]) == pytest.approx(np.exp(0.9), rel=0.2)


def test_vintages_and_roll_rates_match_generator(world):
    v = sv.vintage_curves(world.performance).summary
    assert (v.diff(axis=1).fillna(0) >= -1e-12).all().all()  # cumulative
    m = sv.roll_rate_matrix(world.performance).summary
    assert np.allclose(m.sum(axis=1), 1.0)
    # 60 DPD either rolls on (the spell of a default) or cures (an episode drawn to go one month deeper):
    # the matrix's roll rate is the truth's share of 60 DPD months that belong to a default's spell
    p = world.performance.sort_values(["account_id", "mob"])
    nxt = p.groupby("account_id")["state"].shift(-1)
    at60 = p[(p["state"] == "dpd60") & nxt.notna()]
    onset = world.truth_tables["applications"].set_index("application_id")["default_onset_mob"]
    in_default = onset.reindex(at60["account_id"]).to_numpy() == at60["mob"].to_numpy() - 1
    assert m.loc["dpd60", "dpd90"] == pytest.approx(in_default.mean(), abs=1e-12)
    cures = 1 - in_default.mean()  # most go back to current; a few close or start a new episode next month
    assert 0.9 * cures < m.loc["dpd60", "current"] <= cures
    # realism: a card book's 60 → 90 roll rate is typically between about 40% and 85%
    assert 0.4 < m.loc["dpd60", "dpd90"] < 0.85
    # of the cured episodes, the generator's share reaches 60 DPD first (unless the next month is taken by
    # a new episode, a default or an exit: a few percent); binomial tolerance of 4 standard errors
    at30 = p[(p["state"] == "dpd30") & nxt.notna()]
    cured30 = at30[onset.reindex(at30["account_id"]).to_numpy() != at30["mob"].to_numpy()]
    deeper = (nxt[cured30.index] == "dpd60").mean()
    se = np.sqrt(syn.DEEP_CURE_SHARE * (1 - syn.DEEP_CURE_SHARE) / len(cured30))
    assert syn.DEEP_CURE_SHARE * 0.95 - 4 * se < deeper <= syn.DEEP_CURE_SHARE + 4 * se
    # 90+ charges off after three months in the generator
    assert m.loc["dpd90", "charged_off"] == pytest.approx(1 / 3, abs=0.03)
    proj = sv.markov_projection(m, pd.Series({"current": 1000.0}), 12).summary
    assert proj.sum(axis=1).to_numpy() == pytest.approx(np.full(12, 1000.0))


def test_lifetime_value_equals_hand_calculation():
    s = pd.Series([1.0, 0.9, 0.8, 0.7], index=[0, 1, 2, 3])
    cif = pd.Series([0.0, 0.01, 0.03, 0.04], index=[0, 1, 2, 3])
    v = sv.lifetime_value(
        s, cif, margin_per_month=10, exposure_at_default=1000, lgd=0.5, annual_discount_rate=0.12, horizon=3
    )
    disc = 1.12 ** (-np.arange(1, 4) / 12)
    assert v.discounted_margin == pytest.approx(np.sum(np.array([1.0, 0.9, 0.8]) * 10 * disc))
    assert v.expected_loss == pytest.approx(np.sum(np.array([0.01, 0.02, 0.01]) * 500 * disc))


def test_clv_artefact_roundtrip_and_errors(tmp_path):
    seg = pd.DataFrame({"segment": ["a", "b"], "clv": [100.0, 50.0]}).set_index("segment")
    p = sv.write_clv_artefact(tmp_path / "clv.json", seg, {"discount": 0.1})
    back, assumptions = sv.read_clv_artefact(p)
    assert back["clv"].tolist() == [100.0, 50.0] and assumptions == {"discount": 0.1}
    with pytest.raises(ArtefactError, match="not found"):
        sv.read_clv_artefact(tmp_path / "none.json")
    (tmp_path / "old.json").write_text('{"kind": "clv", "schema_version": 0}')
    with pytest.raises(ArtefactError, match="schema"):
        sv.read_clv_artefact(tmp_path / "old.json")


def test_bad_input_errors(world):
    df = pd.DataFrame({"t": [1, 0, 3], "e": [1, 0, 1]})
    with pytest.raises(DataError, match=r"durations > 0' in 1 row"):
        sv.curves(df, "t", "e")
    with pytest.raises(DataError, match=r"events in \{0, 1\}"):
        sv.curves(pd.DataFrame({"t": [1, 2], "e": [1, 2]}), "t", "e")
    with pytest.raises(DataError, match="has none"):
        sv.curves(
            pd.DataFrame({"t": [1, 2, 3, 4], "e": [1, 1, 0, 0], "g": ["a", "a", "b", "b"]}), "t", "e", by="g"
        )
    with pytest.raises(DataError, match="entry before exit"):
        sv.curves(pd.DataFrame({"t": [2, 3], "e": [1, 0], "s": [2, 0]}), "t", "e", entry="s")
    gappy = world.performance[
        ~(
            (world.performance["account_id"] == world.performance["account_id"].iloc[0])
            & (world.performance["mob"] == 2)
        )
    ]
    with pytest.raises(DataError, match=r"no gaps in an account's months' in 1 row"):
        sv.duration_table(gappy)


def test_clv_within_ten_percent_of_realised_value(world, durations):
    """On accounts observed for the full 24 months, the curve-based CLV is within 10 % of the discounted
    margin they actually earned (losses included). The estimate uses one average margin per month, while
    margin grows with tenure in the book: that costs about 5–8 % here, inside the tolerance."""
    d, _ = durations
    first = world.performance[world.performance["mob"] == 1].set_index("account_id")["month"]
    full = first[first <= pd.Timestamp("2025-12-01") - pd.DateOffset(months=23)].index
    sub = d[d["account_id"].isin(full)].assign(book="all")
    est = sv.clv_by_segment(sub, world.performance, "book", horizon=24).summary["clv"].item()
    real = sv.realised_value(world.performance, list(full), 24)
    assert est == pytest.approx(real, rel=0.10)


def test_parametric_choice_and_integrated_brier(churn):
    res = sv.parametric(churn, "tenure", "churned", ["monthly_charges"])
    assert res.best == res.summary.loc[res.summary["aic"].idxmin(), "model"]
    from lifelines import WeibullAFTFitter

    ref = WeibullAFTFitter().fit(churn[["tenure", "churned", "monthly_charges"]], "tenure", "churned")
    assert res.summary.set_index("model").loc["weibull", "aic"] == pytest.approx(ref.AIC_, rel=1e-9)
    ext = res.survival([24, 72, 120])
    assert (ext.diff().dropna() <= 0).all().all()  # extrapolation past 72 months keeps falling
    # fitted on each distinct row once with its count: the population average equals the full data's
    full = ref.predict_survival_function(churn[["monthly_charges"]], times=[24, 72, 120]).mean(axis=1)
    assert np.allclose(ext["weibull"].to_numpy(), full.to_numpy(), rtol=1e-6)
    # IBS: a perfect-information survival curve beats the flat 'everyone survives' curve
    train, test = churn.iloc[::2], churn.iloc[1::2]
    times = [6, 12, 24, 36]
    km = KaplanMeierFitter().fit(train["tenure"], train["churned"])
    s_km = pd.DataFrame({i: km.predict(times).to_numpy() for i in test.index}, index=times)
    s_one = pd.DataFrame(1.0, index=times, columns=test.index)
    ibs_km = sv.integrated_brier(train, test, "tenure", "churned", s_km, times)
    ibs_one = sv.integrated_brier(train, test, "tenure", "churned", s_one, times)
    assert 0 < ibs_km < ibs_one < 1


def test_integrated_brier_equals_hand_calculation():
    train = pd.DataFrame({"t": [1.0, 2.0, 3.0, 4.0], "e": [1, 0, 1, 0]})
    test = pd.DataFrame({"t": [1.5, 3.5], "e": [1, 0]})
    surv = pd.DataFrame({0: [0.9, 0.5], 1: [0.8, 0.6]}, index=[1.0, 2.0])
    # censoring KM of train: censorings at 2 and 4; G(1)=1, G(1.5)=1, G(2)=2/3
    b1 = ((0.9 - 1) ** 2 + (0.8 - 1) ** 2) / 2  # t=1: both still alive
    b2 = (0.5**2 / 1.0 + (1 - 0.6) ** 2 / (2 / 3)) / 2  # t=2: row 0 died at 1.5 (G=1), row 1 alive (G(2)=2/3)
    assert sv.integrated_brier(train, test, "t", "e", surv, [1.0, 2.0]) == pytest.approx((b1 + b2) / 2)


def _current_months(perf: pd.DataFrame) -> pd.DataFrame:
    """The early-warning rows (current account-months, by account and months on book) as a frame."""
    from cmlib.survival.retention import _roll_arrays

    a, cur = _roll_arrays(perf, "account_id")
    rows = {k: v[cur] for k, v in a.items() if k != "order"}
    return pd.DataFrame({**rows, "state": perf["state"].to_numpy()[a["order"][cur]]})


def test_roll_arrays_equal_sorting_and_shifting_the_panel(world):
    """The current account-months built from arrays equal the frame operations they replaced: sort by account
    and months on book, next month's DPD and the three-month change in utilisation within the account."""
    perf = world.performance.sample(frac=1.0, random_state=0)  # any row order in, the same rows out
    p = perf[["account_id", "month", "mob", "state", "dpd", "balance", "credit_limit"]].sort_values(
        ["account_id", "mob"]
    )
    p = p.assign(utilisation=np.where(p["credit_limit"] > 0, p["balance"] / p["credit_limit"], 0.0))
    g = p.groupby("account_id", sort=False)
    p["next_dpd"] = g["dpd"].shift(-1)
    p["utilisation_change_3m"] = (p["utilisation"] - g["utilisation"].shift(3)).fillna(0.0)
    ref = p[p["state"] == "current"].reset_index(drop=True)
    got = _current_months(perf)
    pd.testing.assert_frame_equal(got, ref, check_dtype=False, check_like=True)
    assert got["next_dpd"].isna().sum() > 0 and (got["utilisation_change_3m"] != 0).sum() > 0


def test_early_warning_ranks_rolls_and_retention_selects(world, durations):
    d, x = durations
    feats = x.set_index(d["account_id"])[["bureau_score_per_100", "dti_per_0.1", "inquiries_6m"]]
    ew = sv.early_warning(world.performance, feats)
    s = ew.summary.iloc[0]
    # current accounts only, on behaviour that is not arrears: a ranking, not a restatement (AUC near 1 was
    # the old model reading 'in arrears'); better than chance, top tenth catches more than its share
    assert 0.6 < s["auc"] < 0.95 and s["top_decile_capture"] > 0.1
    assert ew.scores["p_dpd30_next_month"].between(0, 1).all()
    # the backtest model is the penalised optimum, whatever the solver: L-BFGS run to a tight tolerance agrees
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    f = _current_months(world.performance).join(feats, on="account_id").dropna(subset=["next_dpd"])
    assert (f["state"] == "current").all() and "in_arrears" not in f
    f = f.assign(y=(f["next_dpd"] >= 30).astype(int))
    cols = ["mob", "utilisation", "utilisation_change_3m", *feats.columns]
    tr, te = f[f["month"] < f["month"].max()], f[f["month"] == f["month"].max()]
    ref = LogisticRegression(tol=1e-10, max_iter=20_000).fit(tr[cols].fillna(0), tr["y"])
    assert s["auc"] == pytest.approx(
        roc_auc_score(te["y"], ref.predict_proba(te[cols].fillna(0))[:, 1]), abs=1e-4
    )
    value = pd.Series([10.0, 50.0, 100.0, 200.0])
    p = pd.Series([0.5, 0.05, 0.2, 0.3])
    r = sv.retention_targets(value, p, min_value_quantile=0.5, min_churn_probability=0.1).summary
    assert list(r.index) == [3, 2] and r["value_at_stake"].tolist() == [60.0, 20.0]


def test_cox_concordance_on_a_holdout_equals_lifelines():
    from lifelines import CoxPHFitter
    from lifelines.utils import concordance_index

    rng = np.random.default_rng(3)
    x = rng.normal(size=600)
    t = np.ceil(rng.exponential(20 * np.exp(-0.7 * x)))
    df = pd.DataFrame({"duration": t.clip(1, 48), "event": (t <= 48).astype(int), "x": x})
    train, test = df.iloc[:400], df.iloc[400:]
    cx = sv.cox(train, "duration", "event", ["x"])
    ref = CoxPHFitter().fit(train, "duration", "event")
    want = concordance_index(test["duration"], -ref.predict_partial_hazard(test[["x"]]), test["event"])
    assert cx.concordance_on(test, "duration", "event") == pytest.approx(want, abs=1e-12)
    assert cx.concordance_on(test, "duration", "event") > 0.6  # x drives the hazard


def test_the_churn_model_sees_what_drives_closure():
    """The simulator closes accounts on APR (+0.08 log-hazard per point), non-use (+0.8), age and relationship;
    the churn covariates carry them, and a penalised Cox recovers their direction and rough size (the ridge
    penalty of 0.01 and the few accounts off today's APR pull the APR effect toward 1)."""
    from cmlib import survival as sv

    src = sv.churn_data("synthetic", 100_000, 1)
    assert {"apr", "unused_first_month", "loan"} <= set(src.churn_covariates)
    assert set(src.covariates) < set(src.churn_covariates)
    hr = sv.cox(src.durations, "duration", "churn", src.churn_covariates, penalizer=0.01).summary[
        "hazard_ratio"
    ]
    assert 1.8 < hr["unused_first_month"] < 3.0  # truth e^0.8 = 2.23
    assert hr["apr"] > 1.0 and hr["existing_relationship"] < 0.8  # truth 1.08 and 0.67


def test_retention_test_recovers_the_true_save_rate(bank):
    """The randomised retention call on the 200k bank: each arm's closure rate within the six-month window
    and the save rate lie within 99.9 % intervals (3.3 standard errors) of the simulator's expected values —
    computed from the true hazards of every tested account under both arms, not from the observed closures."""
    truth = bank.truth["retention_test"]
    r = sv.retention_test(bank.performance, bank.retention_test, months=truth["months"])
    s = r.summary
    assert int(s["accounts"].sum()) == truth["n_accounts"] and s.loc["call", "accounts"] == truth["n_called"]
    for arm in ("call", "no_call"):
        p, n = truth["closure_within_window"][arm], s.loc[arm, "accounts"]
        assert abs(s.loc[arm, "closure_rate"] - p) < 3.3 * np.sqrt(p * (1 - p) / n), arm
    se = (r.save_rate_ci[1] - r.save_rate_ci[0]) / (2 * 1.96)
    assert abs(r.save_rate - truth["save_rate"]) < 3.3 * se
    assert r.cost_per_call == truth["cost_per_call"]
    # a call is worth its cost when the saved value exceeds it: P(close) × reduction × value − cost
    nv = r.net_value(pd.Series([1000.0, 10.0]), pd.Series([0.2, 0.2]))
    assert nv.iloc[0] == pytest.approx(0.2 * r.relative_reduction * 1000 - 8.0) and nv.iloc[1] < 0


def test_retention_test_needs_both_arms(bank):
    one = bank.retention_test[bank.retention_test["arm"] == "call"]
    with pytest.raises(DataError, match="retention_test"):
        sv.retention_test(bank.performance, one)


def test_vectorised_schoenfeld_residuals_give_lifelines_ph_test():
    """The proportional-hazards test from the vectorised scaled Schoenfeld residuals (Efron ties) equals
    lifelines' own computation (one row at a time) to 1e-10, on whole-month durations with heavy ties and a
    covariate whose effect fades (so the test has something to find)."""
    from lifelines.statistics import proportional_hazard_test

    rng = np.random.default_rng(0)
    n = 3000
    X = rng.normal(size=(n, 3))
    T = np.ceil(rng.exponential(20 * np.exp(-X @ [0.5, -0.3, 0.1]) * np.exp(0.4 * X[:, 2] ** 2))).clip(1, 40)
    E = (T < 40) & (rng.random(n) < 0.8)
    d = pd.DataFrame(X, columns=["a", "b", "c"]).assign(T=T, E=E.astype(int))[["T", "E", "a", "b", "c"]]
    cph = CoxPHFitter(penalizer=0.01).fit(d, "T", "E")
    want = proportional_hazard_test(cph, d, time_transform="rank").summary
    resid = sv.scaled_schoenfeld(cph, d, "T", "E", ["a", "b", "c"])
    got = proportional_hazard_test(cph, d, time_transform="rank", precomputed_residuals=resid).summary
    assert np.allclose(got["test_statistic"], want["test_statistic"], rtol=1e-10, atol=1e-10)
    assert len(resid) == E.sum()
    r = sv.cox(d, "T", "E", ["a", "b", "c"], penalizer=0.01)
    assert np.allclose(r.ph_test["p_value"], want["p"], rtol=1e-10)


def test_a_users_performance_panel_gets_covariates_from_its_first_month(tmp_path, world):
    """The panel ``cmlib data generate`` writes, read by path: covariates known at booking come from each
    account's first month (product, credit line, a card unused in its first month), so the Cox model has
    drivers and the notebook runs on a user's panel (it crashed with no covariates)."""
    folder = tmp_path / "performance"
    folder.mkdir()
    world.performance.to_parquet(folder / "part-0.parquet")
    src = sv.churn_data(str(folder))
    assert src.world is None and set(src.covariates) == {"loan", "log_credit_limit", "unused_first_month"}
    # the folder cmlib data generate writes (tables as subfolders) is read from its performance/ subfolder
    pd.testing.assert_frame_equal(sv.churn_data(str(tmp_path)).durations, src.durations)
    d = src.durations
    assert set(d["segment"]) == set(world.performance["product"])
    first = world.performance.sort_values("mob").groupby("account_id").first()
    np.testing.assert_allclose(
        d.set_index("account_id")["log_credit_limit"], np.log1p(first.loc[d["account_id"], "credit_limit"])
    )
    cx = sv.cox(d, "duration", "churn", src.covariates)
    assert cx.summary.loc["unused_first_month", "hazard_ratio"] > 1  # an unused card closes sooner


def test_a_one_row_per_customer_churn_table_by_roles(tmp_path):
    """Real data as a user has it: the telco churn set written as a CSV, one row per customer. The columns
    parameter maps roles to its names; categoricals are encoded, a column repeating another's information
    is dropped (the Cox model could not separate them), rows with no time at risk are set aside and counted.
    The Cox hazard ratios equal lifelines' on the same design."""
    from lifelines import CoxPHFitter

    raw = load_public("wa_churn").frame
    raw.to_csv(tmp_path / "telco.csv", index=False)
    roles = {"duration": "tenure", "event": "churned", "segment": "contract", "value": "monthly_charges"}
    roles["covariates"] = ["contract", "internet_service", "online_security", "senior_citizen"]
    src = sv.churn_data(str(tmp_path / "telco.csv"), columns=roles)
    d = src.durations
    assert src.set_aside == int((raw["tenure"] == 0).sum()) and len(d) == int((raw["tenure"] > 0).sum())
    assert set(d["segment"]) == set(raw["contract"]) and d["margin_per_month"].notna().all()
    # "No internet service" appears in internet_service and in online_security: one of the two is dropped
    twins = {"internet_service_No", "online_security_No_internet_service"}
    assert len(twins & set(src.covariates)) == 1 and len(src.covariates) == 6
    cx = sv.cox(d, "duration", "churn", src.covariates).summary
    ref = CoxPHFitter().fit(d[["duration", "churn", *src.covariates]], "duration", "churn").summary
    np.testing.assert_allclose(cx["hazard_ratio"], ref.loc[cx.index, "exp(coef)"], rtol=1e-6)
    # flags as words, and the errors a user meets
    words = raw.assign(churned=raw["churned"].map({1: "Yes", 0: "No"}))
    assert (
        sv.churn_data(str(_csv(tmp_path, words)), columns=roles).durations["churn"].sum() == d["churn"].sum()
    )
    with pytest.raises(
        DataError, match=r"'tenure' breaks rule 'a number of months in \[0, 1,200\]' in 1 row"
    ):
        sv.churn_data(
            str(_csv(tmp_path, raw.assign(tenure=raw["tenure"].where(raw.index != 3, -1)))), columns=roles
        )
    # a unit error (days or seconds read as months) would build a table a million months long
    with pytest.raises(
        DataError, match=r"'tenure' breaks rule 'a number of months in \[0, 1,200\]' in 2 row"
    ):
        sv.churn_data(
            str(_csv(tmp_path, raw.assign(tenure=raw["tenure"].where(raw.index > 1, 1e6)))), columns=roles
        )
    with pytest.raises(DataError, match=r"'tenure' breaks rule 'some rows with a duration above 0"):
        sv.churn_data(str(_csv(tmp_path, raw.assign(tenure=0))), columns=roles)
    with pytest.raises(ParameterError, match="columns"):
        sv.churn_data(str(tmp_path / "telco.csv"), columns={"durration": "tenure"})
    with pytest.raises(DataError, match="'event' breaks rule 'required column is missing'"):
        sv.churn_data(str(tmp_path / "telco.csv"), columns={"duration": "tenure"})


def _csv(folder, df):
    path = folder / f"t{len(list(folder.glob('t*.csv')))}.csv"
    df.to_csv(path, index=False)
    return path


def test_a_churn_tables_id_role_names_the_customers(tmp_path):
    """#16: the retention list maps back to the user's customers: the id role's values (else the file's
    row numbers, counted before rows with a duration of 0 are set aside); a repeated id is refused."""
    raw = load_public("wa_churn").frame.assign(cust=lambda d: "C" + d.index.astype(str))
    roles = {"duration": "tenure", "event": "churned"}
    src = sv.churn_data(str(_csv(tmp_path, raw)), columns={**roles, "id": "cust"})
    kept = raw[raw["tenure"] > 0]
    assert src.durations["account_id"].tolist() == kept["cust"].tolist() and "cust" not in src.covariates
    assert (
        sv.churn_data(str(_csv(tmp_path, raw)), columns=roles).durations["account_id"].tolist()
        == kept.index.tolist()
    )
    with pytest.raises(DataError, match="'cust' breaks rule 'one row per id' in 1 row"):
        sv.churn_data(
            str(_csv(tmp_path, raw.assign(cust=raw["cust"].where(raw.index != 5, "C4")))),
            columns={**roles, "id": "cust"},
        )

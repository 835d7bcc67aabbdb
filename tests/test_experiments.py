"""cmlib.experiments against statsmodels/scipy, by simulation (A/A false positives, coverage), and against
the simulated bank's true lifts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from cmlib import experiments as ex
from cmlib.data import synthetic as syn
from cmlib.errors import DataError, ParameterError


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    n = 6_000
    arm = rng.choice(["control", "a", "b"], n)
    spend = rng.lognormal(4, 1, n) * np.where(arm == "a", 1.1, 1.0)
    return pd.DataFrame(
        {"arm": arm, "spend": spend, "resp": rng.random(n) < np.where(arm == "b", 0.12, 0.10)}
    )


def test_compare_equals_statsmodels_ztest(frame):
    m = ex.arm_moments(frame, "arm", ["spend", "resp"])
    res = ex.compare(m, "spend", "control", alpha=0.05).summary.set_index("arm")
    for a in ("a", "b"):
        x1 = frame.loc[frame.arm == a, "spend"]
        x2 = frame.loc[frame.arm == "control", "spend"]
        cm = CompareMeans(DescrStatsW(x1), DescrStatsW(x2))
        lo, hi = cm.zconfint_diff(alpha=0.05, usevar="unequal")
        _, p = cm.ztest_ind(usevar="unequal")
        assert res.loc[a, "abs_ci_low"] == pytest.approx(lo, abs=1e-6)
        assert res.loc[a, "abs_ci_high"] == pytest.approx(hi, abs=1e-6)
        assert res.loc[a, "p_value"] == pytest.approx(p, abs=1e-6)
    # proportions: the same Wald difference as statsmodels' test_proportions_2indep(method='wald')
    from statsmodels.stats.proportion import confint_proportions_2indep

    r = ex.compare(m, "resp", "control").summary.set_index("arm").loc["b"]
    xb, nb = frame.loc[frame.arm == "b", "resp"].sum(), (frame.arm == "b").sum()
    xc, nc = frame.loc[frame.arm == "control", "resp"].sum(), (frame.arm == "control").sum()
    lo, hi = confint_proportions_2indep(xb, nb, xc, nc, method="wald", compare="diff")
    # Wald uses p(1-p)/n; the sample variance uses n-1: equal up to that factor
    scale = np.sqrt(
        ((xb / nb) * (1 - xb / nb) / (nb - 1) + (xc / nc) * (1 - xc / nc) / (nc - 1))
        / ((xb / nb) * (1 - xb / nb) / nb + (xc / nc) * (1 - xc / nc) / nc)
    )
    mid = xb / nb - xc / nc
    assert r["abs_ci_high"] - mid == pytest.approx((hi - mid) * scale, abs=1e-9)


def test_relative_lift_delta_method_matches_simulation(frame):
    m = ex.arm_moments(frame, "arm", ["spend"])
    r = ex.compare(m, "spend", "control").summary.set_index("arm").loc["a"]
    # bootstrap-free check: the delta-method SE equals the first-order propagation computed by hand
    na, nc = m.loc["a", "n_spend"], m.loc["control", "n_spend"]
    va, vc = m.loc["a", "m2_spend"] / (na - 1) / na, m.loc["control", "m2_spend"] / (nc - 1) / nc
    ma, mc = m.loc["a", "mean_spend"], m.loc["control", "mean_spend"]
    se = np.sqrt(va / mc**2 + ma**2 * vc / mc**4)
    assert r["rel_ci_high"] - r["rel_lift"] == pytest.approx(stats.norm.ppf(0.975) * se, rel=1e-12)


def test_srm_equals_scipy_chisquare():
    counts = pd.Series({"control": 5_100, "a": 4_900, "b": 5_000})
    res = ex.srm_check(counts)
    assert res.p_value == pytest.approx(stats.chisquare([5_100, 4_900, 5_000]).pvalue, abs=1e-12)
    assert res.passed
    assert not ex.srm_check(pd.Series({"control": 5_400, "a": 4_600})).passed


def test_holm_equals_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = [0.01, 0.04, 0.03, 0.2, 0.001]
    assert ex.holm(p) == pytest.approx(multipletests(p, method="holm")[1], abs=1e-12)


def _sim_moments(rng, p_c, p_t, n):
    """Sufficient statistics of two binomial arms (the engine's output shape) without the rows."""
    xc, xt = rng.binomial(n, p_c), rng.binomial(n, p_t)
    df = pd.DataFrame({"n_y": [n, n], "mean_y": [xc / n, xt / n]}, index=["control", "t"])
    df["m2_y"] = df["n_y"] * df["mean_y"] * (1 - df["mean_y"])  # Σ(x−x̄)² of 0/1 data
    return df


def test_aa_false_positive_rate_and_ci_coverage_by_simulation():
    rng = np.random.default_rng(42)
    k, n, p = 4_000, 20_000, 0.05
    fp = cover = 0
    for _ in range(k):
        r = ex.compare(_sim_moments(rng, p, p, n), "y", "control").summary.iloc[0]
        fp += r["p_value"] < 0.05
        rt = ex.compare(_sim_moments(rng, p, p + 0.004, n), "y", "control").summary.iloc[0]
        cover += rt["abs_ci_low"] <= 0.004 <= rt["abs_ci_high"]
    # binomial sd of a 5 % rate over 4,000 runs is 0.34 pp: the 4–6 % band is about ±3 sd
    assert 0.04 <= fp / k <= 0.06
    assert 0.94 <= cover / k <= 0.96


def test_bad_input_errors(frame):
    with pytest.raises(DataError, match="at least two arms"):
        ex.arm_moments(frame[frame.arm == "a"], "arm", ["spend"])
    with pytest.raises(DataError, match="'nope'"):
        ex.arm_moments(frame, "arm", ["nope"])
    m = ex.arm_moments(frame, "arm", ["spend"])
    with pytest.raises(ParameterError, match="control"):
        ex.compare(m, "spend", "ctrl")
    const = frame.assign(spend=1.0)
    with pytest.raises(DataError, match="non-zero variance"):
        ex.compare(ex.arm_moments(const, "arm", ["spend"]), "spend", "control")
    with pytest.raises(DataError, match="every arm has contacts"):
        ex.srm_check(pd.Series({"control": 10, "a": 0}))
    with pytest.raises(DataError, match="non-negative"):
        ex.srm_check(pd.Series({"control": 10, "a": -1}))
    with pytest.raises(ParameterError, match="margin"):
        ex.non_inferiority(m, "spend", "control", margin=0)
    tiny = frame.groupby("arm").head(1)
    with pytest.raises(DataError, match="at least two rows"):
        ex.compare(ex.arm_moments(tiny, "arm", ["spend"]), "spend", "control")


@pytest.mark.slow
def test_truth_recovery_and_trap_arm_on_simulated_bank():
    w = syn.simulate_bank(n_customers=1_000_000, random_state=1)
    c = w.contacts[w.contacts["experiment_id"] == "EXP01"]
    stages = ["responded", "applied", "approved", "booked", "activated"]  # the truth uses the same names
    f = ex.funnel_lifts(c, "arm", stages, "control").summary
    f = f[f["basis"] == "per_contacted"]
    lifts = w.truth["experiment"]["lifts"]
    misses = [
        (r.arm, r.metric)
        for r in f.itertuples()
        if not r.abs_ci_low <= lifts[r.arm][r.metric] <= r.abs_ci_high
    ]
    # 15 intervals at 95 %: expect 0.75 misses; more than 3 would happen by chance < 0.1 % of the time
    assert len(misses) <= 3, misses
    m = ex.arm_moments(c, "arm", ["booked", "early_dpd30_3m"])
    g = ex.non_inferiority(m, "early_dpd30_3m", "control", margin=0.015)
    d = ex.decide(ex.compare(m, "booked", "control"), [g], ex.srm_check(c["arm"].value_counts())).summary
    d = d.set_index("arm")
    assert d.loc["no_fee_high_limit", "decision"] == "do not ship"
    assert "guardrail early_dpd30_3m" in d.loc["no_fee_high_limit", "reason"]
    assert d.loc["lower_apr", "decision"] == "ship"


def test_agresti_caffo_bound_equals_statsmodels_and_survives_zero_events():
    from statsmodels.stats.proportion import confint_proportions_2indep

    df = pd.DataFrame({"arm": ["control"] * 40 + ["t"] * 60, "y": [0] * 40 + [0] * 58 + [1] * 2})
    m = ex.arm_moments(df, "arm", ["y"])
    r = ex.compare(m, "y", "control", alpha=0.1, interval="agresti_caffo").summary.iloc[0]
    lo, hi = confint_proportions_2indep(2, 60, 0, 40, method="agresti-caffo", compare="diff", alpha=0.1)
    assert (r["abs_ci_low"], r["abs_ci_high"]) == pytest.approx((lo, hi), abs=1e-6)
    # both arms without events: Wald would collapse to a point; the bound stays honest
    zero = pd.DataFrame({"arm": ["control"] * 40 + ["t"] * 60, "y": 0})
    g = ex.non_inferiority(ex.arm_moments(zero, "arm", ["y"]), "y", "control", margin=0.015).summary
    assert g["bound"].item() > 0.015 and not g["passed"].item()  # 100 accounts cannot prove a 1.5 pp margin


def test_non_inferiority_one_sided_level_by_simulation():
    """At a true increase equal to the margin, an arm must pass at most alpha of the time."""
    rng = np.random.default_rng(3)
    k, n, p, margin = 3_000, 4_000, 0.02, 0.01
    passed = 0
    for _ in range(k):
        xc, xt = rng.binomial(n, p), rng.binomial(n, p + margin)
        m = pd.DataFrame({"n_y": [n, n], "mean_y": [xc / n, xt / n]}, index=["control", "t"])
        m["m2_y"] = m["n_y"] * m["mean_y"] * (1 - m["mean_y"])
        passed += ex.non_inferiority(m, "y", "control", margin=margin, alpha=0.05).summary["passed"].item()
    assert passed / k <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / k)


# --- design -------------------------------------------------------------------------------------


def test_power_equals_statsmodels():
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import power_proportions_2indep

    got = ex.power_proportions(0.03, 0.006, n_control=8_000, ratio=1.5, alpha=0.05, n_arms=2)
    ref = power_proportions_2indep(0.006, 0.03, nobs1=12_000, ratio=8_000 / 12_000, alpha=0.05).power
    assert got == pytest.approx(ref, abs=1e-6)
    got = ex.power_means(sd=120, lift_abs=5, n_control=5_000, ratio=2.0, n_arms=2)
    ref = NormalIndPower().power(effect_size=5 / 120, nobs1=5_000, alpha=0.05, ratio=2.0)
    assert got == pytest.approx(ref, abs=1e-6)
    # four arms with Holm: planned at Bonferroni's alpha / 3
    assert ex.power_means(sd=1, lift_abs=0.1, n_control=2_000, n_arms=4) == pytest.approx(
        NormalIndPower().power(effect_size=0.1, nobs1=2_000, alpha=0.05 / 3), abs=1e-9
    )
    # CUPED removes rho^2 of the variance: same power as a smaller sd
    assert ex.power_means(sd=1, lift_abs=0.1, n_control=1_000, cuped_r2=0.36) == pytest.approx(
        ex.power_means(sd=0.8, lift_abs=0.1, n_control=1_000), abs=1e-12
    )


def test_sample_size_is_the_smallest_and_mde_inverts_it():
    d = ex.sample_size(
        ex.power_proportions, target_power=0.8, p_control=0.05, lift_abs=0.01, n_arms=3, daily_traffic=1_000
    ).summary.iloc[0]
    n = d["n_control"]
    assert (
        ex.power_proportions(0.05, 0.01, n, n_arms=3)
        >= 0.8
        > ex.power_proportions(0.05, 0.01, n - 1, n_arms=3)
    )
    assert d["n_total"] == 3 * n and d["days"] == int(np.ceil(3 * n / 1_000))
    mde = ex.minimum_detectable_effect(ex.power_proportions, n_control=n, p_control=0.05, n_arms=3)
    assert mde == pytest.approx(0.01, rel=1e-3)


def test_designed_power_is_achieved_by_simulation():
    rng = np.random.default_rng(9)
    n = ex.sample_size(ex.power_proportions, p_control=0.05, lift_abs=0.01).summary["n_control"].item()
    k, hits = 2_000, 0
    for _ in range(k):
        hits += ex.compare(_sim_moments(rng, 0.05, 0.06, n), "y", "control").summary.iloc[0]["p_value"] < 0.05
    assert abs(hits / k - 0.8) < 3 * np.sqrt(0.8 * 0.2 / k)


# --- balance, CUPED, ratio metrics ---------------------------------------------------------------


@pytest.fixture(scope="module")
def cuped_frame():
    rng = np.random.default_rng(5)
    n = 8_000
    arm = rng.choice(["control", "a", "b"], n)
    x1 = rng.normal(100, 20, n)
    x2 = rng.normal(10, 3, n) + 0.05 * x1
    y = 5 + 0.8 * x1 + 2.0 * x2 + np.where(arm == "a", 3.0, 0.0) + rng.normal(0, 15, n)
    den = rng.integers(1, 4, n)
    return pd.DataFrame({"arm": arm, "x1": x1, "x2": x2, "y": y, "den": den})


def test_balance_smd_equals_hand_computation(cuped_frame):
    b = ex.balance(cuped_frame, "arm", ["x1"], "control").summary.set_index("arm")
    c, a = cuped_frame[cuped_frame.arm == "control"].x1, cuped_frame[cuped_frame.arm == "a"].x1
    assert b.loc["a", "smd"] == pytest.approx(
        (a.mean() - c.mean()) / np.sqrt((a.var() + c.var()) / 2), abs=1e-9
    )
    assert b["balanced"].all()
    shifted = cuped_frame.assign(x1=cuped_frame.x1 + np.where(cuped_frame.arm == "b", 5.0, 0.0))
    assert not ex.balance(shifted, "arm", ["x1"], "control").summary.set_index("arm").loc["b", "balanced"]


@pytest.mark.parametrize("covs", [["x1"], ["x1", "x2"]])
def test_cuped_equals_ols_and_row_level_adjustment(cuped_frame, covs):
    import statsmodels.formula.api as smf

    res = ex.cuped(cuped_frame, "arm", "y", covs, "control").summary.set_index("arm")
    ols = smf.ols(f"y ~ C(arm, Treatment('control')) + {' + '.join(covs)}", cuped_frame).fit()
    for a in ("a", "b"):
        assert res.loc[a, "abs_lift"] == pytest.approx(
            ols.params[f"C(arm, Treatment('control'))[T.{a}]"], abs=1e-6
        )
    theta = np.array([ols.params[c] for c in covs])
    z = cuped_frame["y"] - (cuped_frame[covs] - cuped_frame[covs].mean()) @ theta
    for a in ("a", "b"):
        cm = CompareMeans(DescrStatsW(z[cuped_frame.arm == a]), DescrStatsW(z[cuped_frame.arm == "control"]))
        lo, hi = cm.zconfint_diff(usevar="unequal")
        assert (res.loc[a, "abs_ci_low"], res.loc[a, "abs_ci_high"]) == pytest.approx((lo, hi), abs=1e-6)
    assert (res["variance_reduction"] > 0.5).all()  # the covariates explain most of y's variance


def test_ratio_metric_equals_row_level_linearisation(cuped_frame):
    df = cuped_frame
    res = ex.ratio_metric(df, "arm", "y", "den", "control").summary.set_index("arm")
    for a in ("a", "b"):
        parts = {}
        for g in (a, "control"):
            s = df[df.arm == g]
            r = s.y.sum() / s.den.sum()
            parts[g] = (r, (s.y - r * s.den) / s.den.mean())
        d = parts[a][0] - parts["control"][0]
        se = np.sqrt(
            parts[a][1].var() / len(parts[a][1]) + parts["control"][1].var() / len(parts["control"][1])
        )
        assert res.loc[a, "abs_lift"] == pytest.approx(d, abs=1e-9)
        assert res.loc[a, "abs_ci_high"] - res.loc[a, "abs_lift"] == pytest.approx(
            1.959963984540054 * se, rel=1e-9
        )
    with pytest.raises(DataError, match="positive denominator"):
        ex.ratio_metric(df.assign(den=0), "arm", "y", "den", "control")


def test_bayesian_chance_to_beat_matches_beta_posteriors():
    rng = np.random.default_rng(2)
    m = pd.DataFrame({"n_y": [20_000, 20_000], "mean_y": [0.050, 0.054]}, index=["control", "t"])
    m["m2_y"] = m["n_y"] * m["mean_y"] * (1 - m["mean_y"])
    b = ex.bayesian(ex.compare(m, "y", "control")).summary.iloc[0]
    pc = rng.beta(1 + 1_000, 1 + 19_000, 400_000)
    pt = rng.beta(1 + 1_080, 1 + 18_920, 400_000)
    assert b["chance_to_beat_control"] == pytest.approx((pt > pc).mean(), abs=0.01)
    assert b["expected_loss"] == pytest.approx(np.maximum(0, pc - pt).mean(), rel=0.05)


# --- sequential ----------------------------------------------------------------------------------


def _aa_paths(rng, k, looks, n_per_look, p=0.05):
    """Cumulative binomial counts of two identical arms at each look."""
    xc = np.cumsum(rng.binomial(n_per_look, p, (k, looks)), axis=1)
    xt = np.cumsum(rng.binomial(n_per_look, p, (k, looks)), axis=1)
    n = n_per_look * np.arange(1, looks + 1)
    pc, pt = xc / n, xt / n
    se = np.sqrt(pc * (1 - pc) / n + pt * (1 - pt) / n)
    return pt - pc, se


def test_msprt_keeps_false_positives_under_peeking_while_naive_peeking_inflates():
    rng = np.random.default_rng(4)
    k, looks = 2_000, 10
    d, se = _aa_paths(rng, k, looks, 2_000)
    always_valid = np.array([ex.msprt_pvalues(d[i], se[i], tau=0.01)[-1] < 0.05 for i in range(k)])
    naive = (2 * stats.norm.sf(np.abs(d / se)) < 0.05).any(axis=1)
    assert always_valid.mean() <= 0.05
    assert naive.mean() > 0.10  # looking ten times at a fixed-horizon test: the lesson for the notebook


def test_obrien_fleming_bounds_spend_alpha_exactly():
    t = np.array([0.25, 0.5, 0.75, 1.0])
    b = ex.obrien_fleming_bounds(t)
    alpha1 = 2 - 2 * stats.norm.cdf(stats.norm.ppf(0.975) / np.sqrt(0.25))
    assert b[0] == pytest.approx(stats.norm.isf(alpha1 / 2), abs=1e-9)
    assert np.all(np.diff(b) < 0) and 1.96 < b[-1] < 2.1
    rng = np.random.default_rng(8)
    z = np.cumsum(rng.standard_normal((200_000, 4)) * np.sqrt(np.diff(np.r_[0, t])), axis=1) / np.sqrt(t)
    fpr = (np.abs(z) >= b).any(axis=1).mean()
    assert fpr == pytest.approx(0.05, abs=0.0015)  # 3 sd of a 200k-path estimate
    # independent reference: scipy's multivariate-normal integral (Genz) of the same boundaries spends the
    # alpha-spending function's increments (to its own accuracy, 1e-6)
    corr = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    spend = 2 - 2 * stats.norm.cdf(stats.norm.ppf(0.975) / np.sqrt(t))
    for k in range(2, 5):
        mvn = stats.multivariate_normal(np.zeros(k), corr[:k, :k], seed=0, abseps=1e-9, releps=1e-7)
        assert 1 - mvn.cdf(b[:k], lower_limit=-b[:k]) == pytest.approx(spend[k - 1], abs=2e-6)
    with pytest.raises(ParameterError, match="information_fractions"):
        ex.obrien_fleming_bounds([0.5, 0.4, 1.0])


def test_segment_lifts_adjust_across_segments(cuped_frame):
    df = cuped_frame.assign(seg=np.where(cuped_frame.x1 > 100, "high", "low"))
    s = ex.segment_lifts(df, "arm", "y", "seg", "control").summary
    assert set(s["segment"]) == {"high", "low"} and len(s) == 4
    assert s["p_adjusted"].to_numpy() == pytest.approx(ex.holm(s["p_value"].to_numpy()))
    one = s[(s.segment == "high") & (s.arm == "a")].iloc[0]
    ref = (
        ex.compare(ex.arm_moments(df[df.seg == "high"], "arm", ["y"]), "y", "control")
        .summary.set_index("arm")
        .loc["a"]
    )
    assert one["abs_lift"] == pytest.approx(ref["abs_lift"], abs=1e-9)


def test_cuped_ratio_metric_equals_row_level_adjustment(cuped_frame):
    """CUPED on a ratio metric: the adjusted lift and interval equal the row-level computation on the
    linearised variable z = (y − R_arm x) / x̄_arm adjusted by θ from the pooled within-arm regression."""
    df = cuped_frame
    res = ex.ratio_metric(df, "arm", "y", "den", "control", covariates=["x1", "x2"]).summary.set_index("arm")
    parts = []
    for g, s in df.groupby("arm"):
        r = s.y.sum() / s.den.sum()
        parts.append(
            pd.DataFrame({"arm": g, "z": (s.y - r * s.den) / s.den.mean(), "x1": s.x1, "x2": s.x2, "r": r})
        )
    rows = pd.concat(parts)
    within = rows[["z", "x1", "x2"]] - rows.groupby("arm")[["z", "x1", "x2"]].transform("mean")
    theta = np.linalg.lstsq(within[["x1", "x2"]].to_numpy(), within["z"].to_numpy(), rcond=None)[0]
    adj = rows["z"] - (rows[["x1", "x2"]] - rows[["x1", "x2"]].mean()).to_numpy() @ theta
    for a in ("a", "b"):
        ra, rc = rows.loc[rows.arm == a, "r"].iloc[0], rows.loc[rows.arm == "control", "r"].iloc[0]
        wa = rows.loc[rows.arm == a, ["x1", "x2"]].mean().to_numpy()
        wc = rows.loc[rows.arm == "control", ["x1", "x2"]].mean().to_numpy()
        assert res.loc[a, "abs_lift"] == pytest.approx((ra - rc) - (wa - wc) @ theta, abs=1e-9)
        cm = CompareMeans(DescrStatsW(adj[rows.arm == a]), DescrStatsW(adj[rows.arm == "control"]))
        lo, hi = cm.zconfint_diff(usevar="unequal")
        assert res.loc[a, "abs_ci_high"] - res.loc[a, "abs_ci_low"] == pytest.approx(hi - lo, rel=1e-9)
    plain = ex.ratio_metric(df, "arm", "y", "den", "control").summary.set_index("arm")
    assert (res["abs_ci_high"] - res["abs_ci_low"] < plain["abs_ci_high"] - plain["abs_ci_low"]).all()


def test_imbalance_blocks_the_decision(cuped_frame):
    shifted = cuped_frame.assign(x1=cuped_frame.x1 + np.where(cuped_frame.arm == "a", 10.0, 0.0))
    bal = ex.balance(shifted, "arm", ["x1"], "control")
    m = ex.arm_moments(shifted, "arm", ["y"])
    d = ex.decide(
        ex.compare(m, "y", "control"), [], ex.srm_check(shifted["arm"].value_counts()), balance_table=bal
    ).summary.set_index("arm")
    assert d.loc["a", "decision"] == "keep running" and "imbalance in x1" in d.loc["a", "reason"]


def test_errors_name_the_callers_table():
    df = pd.DataFrame({"arm": ["control", "control", "t"], "y": [0.0, 1.0, 1.0]})
    with pytest.raises(
        DataError, match="table 'web_test': column 'y' breaks rule 'at least two rows per arm'"
    ):
        ex.compare(ex.arm_moments(df, "arm", ["y"], table="web_test"), "y", "control")
    with pytest.raises(DataError, match="table 'web_test': column 'nope' breaks .*; column 'nada' breaks"):
        ex.arm_moments(df, "arm", ["nope", "nada"], table="web_test")


# --- the readout from per-arm sums (#16): a warehouse's GROUP BY arm, never the rows -----------------------

STAGES = ["responded", "applied", "approved", "booked", "activated"]
SUM_PAIRS = [("spend_90d", "pre_spend_90d"), ("spend_90d", "activated"), ("activated", "pre_spend_90d")]


@pytest.fixture(scope="module")
def exp_rows(bank):
    c = bank.contacts[bank.contacts["experiment_id"] == "EXP01"]
    return c.merge(bank.customers[["customer_id", "segment"]], on="customer_id", how="left")


def _close(a: pd.DataFrame, b: pd.DataFrame, rel: float = 1e-9) -> None:
    x, y = a.select_dtypes("number").to_numpy(float), b.select_dtypes("number").to_numpy(float)
    assert x.shape == y.shape
    assert np.allclose(x, y, rtol=rel, atol=1e-12, equal_nan=True)


def test_every_readout_from_per_arm_sums_equals_the_rows(exp_rows):
    """Sums as a warehouse returns them (grouped by arm, segment and day) give the rows' readout: funnel,
    guardrail moments, CUPED, ratio metric, segment lifts, sequential looks, SRM counts (1e-9)."""
    mets = [*STAGES, "spend_90d", "pre_spend_90d", "early_dpd30_3m"]
    s = ex.arm_sums(exp_rows, "arm", mets, SUM_PAIRS, by=["segment", "contact_date"])
    assert s.groups == ["segment", "contact_date"] and set(s.metrics) == set(mets)
    assert s.n_rows == len(exp_rows)
    assert ex.arm_counts(s, "arm").to_dict() == exp_rows["arm"].value_counts().sort_index().to_dict()
    _close(
        ex.funnel_lifts(s, "arm", STAGES, "control").summary,
        ex.funnel_lifts(exp_rows, "arm", STAGES, "control").summary,
    )
    got, want = (
        ex.arm_moments(s, "arm", ["booked", "early_dpd30_3m"]),
        ex.arm_moments(exp_rows, "arm", ["booked", "early_dpd30_3m"]),
    )
    _close(got, want)
    cu = [
        ex.cuped(d, "arm", "spend_90d", ["pre_spend_90d"], "control").summary.drop(columns="theta")
        for d in (s, exp_rows)
    ]
    _close(*cu)
    rm = [
        ex.ratio_metric(d, "arm", "spend_90d", "activated", "control", covariates=["pre_spend_90d"]).summary
        for d in (s, exp_rows)
    ]
    _close(*rm)
    _close(
        ex.segment_lifts(s, "arm", "booked", "segment", "control").summary,
        ex.segment_lifts(exp_rows, "arm", "booked", "segment", "control").summary,
    )
    sq = [
        ex.sequential(d, "arm", "booked", "control", "contact_date").summary.drop(columns="up_to")
        for d in (s, exp_rows)
    ]
    _close(*sq)


def test_a_lift_from_sums_equals_statsmodels_two_proportion_wald():
    """Independent reference: booked counts per arm as a warehouse returns them, against statsmodels' Wald
    interval (which divides p(1 − p) by n where the sample variance divides by n − 1: rescaled here)."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    sums = pd.DataFrame({"arm": ["control", "offer"], "n": [20_000, 19_800], "sum_booked": [412, 517]})
    sums["sumsq_booked"] = sums["sum_booked"]
    r = ex.compare(ex.arm_moments(ex.ArmSums(sums), "arm", ["booked"]), "booked", "control").summary.iloc[0]
    (xb, nb), (xc, nc) = (517, 19_800), (412, 20_000)
    lo, hi = confint_proportions_2indep(xb, nb, xc, nc, method="wald", compare="diff")
    pb, pc = xb / nb, xc / nc
    scale = np.sqrt(
        (pb * (1 - pb) / (nb - 1) + pc * (1 - pc) / (nc - 1)) / (pb * (1 - pb) / nb + pc * (1 - pc) / nc)
    )
    assert r["abs_lift"] == pytest.approx(pb - pc, rel=1e-12)
    assert r["abs_ci_high"] - (pb - pc) == pytest.approx((hi - (pb - pc)) * scale, rel=1e-9)
    assert (pb - pc) - r["abs_ci_low"] == pytest.approx(((pb - pc) - lo) * scale, rel=1e-9)


def test_arm_value_from_sums_equals_the_rows(bank, exp_rows):
    from cmlib.finance import TERMS, AccountValueModel

    booked = bank.applications[bank.applications["booked"]]
    terms = booked[["application_id", *TERMS, "product"]].rename(columns={"application_id": "account_id"})
    model = AccountValueModel().fit(bank.performance, terms)
    arm_terms = ex.arm_terms(bank.campaigns, "EXP01")
    s = ex.arm_sums(exp_rows, "arm", ["booked", "activated", "spend_90d", "early_dpd30_3m"])
    for risk in (False, True):
        a = ex.arm_value(s, "arm", "control", arm_terms, model, risk_adjust=risk).summary
        b = ex.arm_value(exp_rows, "arm", "control", arm_terms, model, risk_adjust=risk).summary
        _close(a, b)


def test_bad_sums_are_one_line_naming_the_column():
    ok = pd.DataFrame(
        {"arm": ["control", "offer"], "n": [100, 100], "sum_booked": [10, 12], "sumsq_booked": [10, 12]}
    )
    with pytest.raises(DataError, match=r"'sumsq_booked' breaks rule 'Σm² ≥ \(Σm\)² / n"):
        ex.ArmSums(ok.assign(sumsq_booked=[0.5, 12]))
    with pytest.raises(DataError, match=r"'sum_booked' breaks rule 'a number' in 1 row"):
        ex.ArmSums(ok.astype({"sum_booked": object}).assign(sum_booked=["ten", 12]))
    with pytest.raises(DataError, match=r"'n' breaks rule 'a whole number of rows ≥ 0'"):
        ex.ArmSums(ok.assign(n=[100, -1]))
    with pytest.raises(DataError, match=r"'sumsq_booked' breaks rule 'required column is missing"):
        ex.ArmSums(ok.drop(columns="sumsq_booked"))
    with pytest.raises(
        DataError, match=r"'sum_spend' breaks rule 'required column is missing from the sums'"
    ):
        ex.arm_moments(ex.ArmSums(ok), "arm", ["spend"])
    with pytest.raises(DataError, match=r"'sumsq_booked' breaks rule 'a 0/1 funnel flag"):
        ex.funnel_lifts(ex.ArmSums(ok.assign(sumsq_booked=[20, 12])), "arm", ["booked"], "control")


def test_contacts_read_from_a_file_as_rows_with_text_ids_or_as_sums(tmp_path, exp_rows):
    """IDs stored as text (as warehouses often keep them) are identifiers, not numbers: accepted; a blank id
    is refused. A file of per-arm sums is read as sums."""
    rows = exp_rows.drop(columns="segment").assign(
        contact_id=lambda d: "C-" + d["contact_id"].astype(str),
        customer_id=lambda d: d["customer_id"].astype(str),
    )
    rows.to_csv(tmp_path / "contacts.csv", index=False)
    src = ex.experiment_data(str(tmp_path / "contacts.csv"), "EXP01")
    assert not src.aggregated and len(src.contacts) == len(rows)
    _close(
        ex.funnel_lifts(src.contacts, "arm", STAGES, "control").summary,
        ex.funnel_lifts(exp_rows, "arm", STAGES, "control").summary,
    )
    rows.assign(contact_id=rows["contact_id"].where(rows.index != rows.index[3], " ")).to_csv(
        tmp_path / "blank.csv", index=False
    )
    with pytest.raises(DataError, match=r"'contact_id' breaks rule 'type id' in 1 row"):
        ex.experiment_data(str(tmp_path / "blank.csv"), "EXP01")
    ex.arm_sums(exp_rows, "arm", STAGES).frame.assign(experiment_id="EXP01").to_csv(
        tmp_path / "sums.csv", index=False
    )
    src = ex.experiment_data(str(tmp_path / "sums.csv"), "EXP01")
    assert src.aggregated and src.contacts.n_rows == len(exp_rows)
    assert src.supports(STAGES) and not src.supports(["spend_90d"]) and not src.supports(by=["segment"])
    with pytest.raises(DataError, match="rows of EXP02"):
        ex.experiment_data(str(tmp_path / "sums.csv"), "EXP02")
    # the arm under the user's own name (arm_column): validated as the arm, read under that name (#16 probe)
    rows.rename(columns={"arm": "group"}).to_csv(tmp_path / "group.csv", index=False)
    src = ex.experiment_data(str(tmp_path / "group.csv"), "EXP01", arm="group")
    assert "group" in src.contacts and "arm" not in src.contacts
    _close(
        ex.funnel_lifts(src.contacts, "group", STAGES, "control").summary,
        ex.funnel_lifts(exp_rows, "arm", STAGES, "control").summary,
    )

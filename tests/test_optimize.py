"""Optimisation (cmlib/optimize.py): response curves recover the simulator's parameters, the allocation
matches brute force and lands within 1 % of the true optimum, constraints always hold, uplift ranking
beats random and business-as-usual response targeting, and targeting honours every contact rule."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmlib import optimize as op
from cmlib.errors import DataError, ParameterError


@pytest.fixture(scope="module")
def curves(bank):
    return op.fit_channel_curves(bank.channel_spend)


def true_params(bank):
    return bank.truth["channel_response"]  # the simulator's truth uses the estimator's names


def test_adstock_and_hill_by_hand():
    x = np.random.default_rng(0).uniform(0, 100, 50)
    want, acc = [], 0.0
    for v in x:  # a_t = x_t + decay · a_{t-1}
        acc = v + 0.4 * acc
        want.append(acc)
    assert np.allclose(op.adstock(x, 0.4), want)
    assert np.allclose(op.hill(x, 30, 1.7), x**1.7 / (x**1.7 + 30**1.7))
    assert op.hill(0.0, 30, 1.7) == 0.0


def test_curves_recover_the_truth_within_their_intervals(bank, curves):
    """8 channels x 5 parameters = 40 95 % intervals: at least 35 must cover (P(fewer) < 3 % if coverage
    is nominal, binomial(40, 0.95))."""
    truth = true_params(bank)
    inside = [
        c.summary.loc[k, "ci_low"] <= truth[ch][k] <= c.summary.loc[k, "ci_high"]
        for ch, c in curves.items()
        for k in op.CURVE_PARAMS
    ]
    assert len(inside) == 40 and sum(inside) >= 35


def test_allocation_within_one_percent_of_the_true_optimum(bank, curves):
    truth = true_params(bank)
    budget = float(bank.channel_spend.groupby("channel")["spend"].mean().sum())
    chosen = op.allocate_budget(curves, budget)
    best = op.allocate_budget(curves, budget, params=truth)
    got = op.evaluate_allocation(
        curves,
        dict(zip(chosen.summary["channel"], chosen.summary["weekly_spend"], strict=True)),
        params=truth,
    )
    assert got >= 0.99 * best.total_value
    assert chosen.total_spend == pytest.approx(budget, rel=1e-6)


def _toy_curves():
    mk = {
        "a": dict(base=0, top=100, decay=0.3, half_saturation=4000, shape=2.2),
        "b": dict(base=0, top=60, decay=0.5, half_saturation=1500, shape=1.0),
        "c": dict(base=0, top=150, decay=0.2, half_saturation=9000, shape=1.6),
    }
    return {k: op.ResponseCurve(k, p, pd.DataFrame(), np.zeros(5), np.eye(5)) for k, p in mk.items()}


def test_allocation_matches_brute_force_grid():
    cur = _toy_curves()
    budget, vpb = 12_000.0, {"a": 10.0, "b": 14.0, "c": 8.0}
    res = op.allocate_budget(
        cur, budget, channel_min={"a": 1000}, channel_max={"b": 5000}, value_per_booking=vpb
    )
    step = 100.0
    best = -np.inf
    for xa, xb in itertools.product(np.arange(1000, budget + 1, step), np.arange(0, 5000 + 1, step)):
        xc = budget - xa - xb
        if xc < 0:
            continue
        best = max(best, op.evaluate_allocation(cur, {"a": xa, "b": xb, "c": xc}, vpb))
    assert res.total_value >= best - 1e-6  # at least as good as the brute-force grid
    assert res.total_value <= best * 1.002  # and not better than the grid allows (a 100-unit grid is close)
    # interior channels end with equal marginal value (the optimality condition)
    free = res.summary[~res.summary["at_min"] & ~res.summary["at_max"]]
    if len(free) > 1:
        m = free["marginal_value_per_unit"]
        assert (m.max() - m.min()) / m.abs().max() < 0.02


@settings(max_examples=25, deadline=None)
@given(budget=st.floats(0, 50_000), lo_a=st.floats(0, 5_000), hi_b=st.floats(0, 20_000), npv=st.booleans())
def test_constraints_always_hold(budget, lo_a, hi_b, npv):
    cur = _toy_curves()
    try:
        res = op.allocate_budget(
            cur,
            budget,
            channel_min={"a": lo_a},
            channel_max={"b": hi_b},
            value_per_booking=5.0,
            net_of_spend=npv,
            grid=60,
        )
    except ParameterError:
        assert lo_a > budget  # the only infeasible case here: channel a's minimum exceeds the budget
        return
    x = res.summary.set_index("channel")["weekly_spend"]
    assert x.sum() <= budget + 1e-6 and (x >= -1e-9).all()
    assert x["a"] >= min(lo_a, budget) - 1e-6 and x["b"] <= hi_b + 1e-6
    if not npv:
        assert x.sum() == pytest.approx(budget, abs=1e-6)


def test_allocation_errors():
    cur = _toy_curves()
    with pytest.raises(ParameterError, match="budget"):
        op.allocate_budget(cur, -1)
    with pytest.raises(ParameterError, match="sum of channel minimums"):
        op.allocate_budget(cur, 100, channel_min={"a": 80, "b": 80})
    with pytest.raises(ParameterError, match="absorb the budget"):
        op.allocate_budget(cur, 1000, channel_max={"a": 100, "b": 100, "c": 100})
    with pytest.raises(DataError, match="spend varies"):
        op.fit_response_curve(np.full(30, 500.0), np.arange(30))
    # a channel with a few weeks is the table's shortfall, named as such (it named a 'spend/bookings' parameter)
    with pytest.raises(
        DataError, match=r"table 'channel_spend': column 'week' breaks rule 'at least 12 weeks"
    ):
        op.fit_response_curve(np.arange(5.0), np.arange(5.0), "tv")


FE = op.UPLIFT_FEATURES


@pytest.fixture(scope="module")
def experiment(bank):
    c = bank.contacts[bank.contacts["experiment_id"].notna()]
    up = bank.truth_tables["uplift"].drop(columns="customer_id")
    d = c.merge(bank.customers, on="customer_id").merge(up, on="contact_id")
    arm = "no_fee_high_limit"  # uplift rises with risk here: what a response model on the old offer misses
    s = d[d["arm"].isin(["control", arm])].reset_index(drop=True)
    X = s[FE].astype(float)
    t = (s["arm"] == arm).to_numpy()
    y = s["responded"].astype(int).to_numpy()
    true_uplift = (s[f"p_response_{arm}"] - s["p_response_control"]).to_numpy()
    train = np.random.default_rng(0).random(len(s)) < 0.6
    return X, t, y, true_uplift, train


@pytest.mark.parametrize(
    "model",
    [op.TwoModelUplift(), op.XLearnerUplift(), op.InteractionUplift()],
    ids=["two_model", "x_learner", "interaction"],
)
def test_uplift_beats_random_and_response_targeting(experiment, model):
    X, t, y, tu, tr = experiment
    te = ~tr
    u = model.fit(X[tr], t[tr], y[tr]).predict(X[te])
    bau = op.response_model().fit(X[tr][~t[tr]], y[tr][~t[tr]]).predict_proba(X[te])[:, 1]
    oracle = op.auuc_from_effect(tu[te], tu[te])
    got = op.auuc_from_effect(tu[te], u)
    assert got > 0.25 * oracle  # random targeting scores 0
    assert got > op.auuc_from_effect(tu[te], bau)
    assert op.auuc(y[te], t[te], u) > 0  # the observed Qini agrees in sign


def test_qini_by_hand_and_randomisation_check():
    y = np.array([1, 0, 1, 0, 0, 1])
    t = np.array([1, 1, 0, 0, 1, 0])
    u = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    q = op.qini_curve(y, t, u, n_points=6).summary
    # after 4 rows: treated 2 with 1 response, control 2 with 1 response → 1 − 1·2/2 = 0, over 3 treated
    assert q["qini"].iloc[4] == pytest.approx(0.0)
    assert q["qini"].iloc[1] == pytest.approx(1 / 3)
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"score": rng.normal(size=2000)})
    op.check_randomised(X, rng.random(2000) < 0.5)
    with pytest.raises(DataError, match="treatment randomised"):
        op.check_randomised(X, X["score"] > 0)  # treatment chosen by score: not randomised
    with pytest.raises(DataError, match="both treated and control"):
        op.TwoModelUplift().fit(X, np.ones(2000), rng.random(2000) < 0.1)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 60), budget=st.floats(0, 500), cap=st.integers(1, 3), seed=st.integers(0, 1000))
def test_targeting_honours_every_rule(n, budget, cap, seed):
    rng = np.random.default_rng(seed)
    cand = pd.DataFrame(
        {
            "customer_id": rng.integers(0, max(n // 2, 1), n),
            "channel": rng.choice(["a", "b", "c"], n),
            "cost": rng.uniform(0, 20, n),
            "expected_value": rng.uniform(-5, 40, n),
            "eligible": rng.random(n) < 0.7,
        }
    )
    sel = op.select_targets(cand, budget, max_contacts_per_customer=cap).selected
    assert sel["cost"].sum() <= budget + 1e-9
    assert sel["eligible"].all() and (sel["expected_value"] > sel["cost"]).all()
    assert (sel.groupby("customer_id").size() <= cap).all()


def test_account_value_reads_artefacts_or_says_it_falls_back(tmp_path, bank):
    from cmlib.data.public import load_public
    from cmlib.errors import ArtefactError
    from cmlib.finance import TERMS, AccountValueModel
    from cmlib.scorecard import Scorecard

    g = load_public("german").frame
    y = g.pop("bad")
    sc = Scorecard().fit(g, y)
    sc.to_json(tmp_path / "scorecard.json", metadata={"cutoff": 560, "expected_bad_rate": 0.2})
    booked = bank.applications[bank.applications["booked"]]
    terms = booked[["application_id", *TERMS]].rename(columns={"application_id": "account_id"})
    model = AccountValueModel(horizon=24).fit(bank.performance, terms)
    model.to_artefact(tmp_path / "account_value.json")
    offer = {"apr": 22.9, "annual_fee": 39.0, "credit_limit": 3000.0, "reward_rate": 0.0}
    v = op.account_value(tmp_path / "scorecard.json", tmp_path / "account_value.json", book=g.iloc[:300])
    assert v.notes == []
    pd_bad = sc.pd_from_score(sc.score(g))
    ref = float(np.mean(sc.pd_from_score(sc.score(g.iloc[:300]))))
    assert v.reference_pd == pytest.approx(ref)
    # the customer's PD relative to the book's scales a hazard calibrated to the book's mix of risks
    book_pd = sc.pd_from_score(sc.score(g.iloc[:300]))
    priced = model.calibrate_risk(book_pd / ref)
    want = priced.value(pd.DataFrame([offer] * len(g)), pd_multiplier=pd_bad / ref)["lifetime_value"]
    assert np.allclose(v.npv(g, offer), want)
    assert (v.eligible(g) == (sc.score(g) >= 560).to_numpy()).all()
    a = v.assess(g, offer)  # one scoring for every column
    assert np.allclose(a["pd_bad"], pd_bad) and (a["score"] == sc.score(g)).all() and a.index.equals(g.index)
    assert (np.diff(a.sort_values("pd_bad")["npv"].to_numpy()) <= 1e-9).all()
    assert (a["eligible"] == (sc.score(g) >= 560)).all()
    no_book = op.account_value(tmp_path / "scorecard.json", tmp_path / "account_value.json")
    assert no_book.reference_pd == 0.2  # the scorecard's own expected bad rate
    fb = op.account_value(None, tmp_path / "missing.json", bad_rate=0.1)
    assert len(fb.notes) == 2 and "not found" in fb.notes[0] and fb.eligible(g).all()
    assert np.allclose(fb.npv(g), 300 - 0.1 * 1500)
    assert fb.assess(g)["score"].isna().all() and fb.assess(g)["eligible"].all()
    with pytest.raises(ArtefactError, match="not found"):
        op.account_value(None, None, required=True)
    # a damaged artefact stops the run naming the file and field, unless told to fall back (#16)
    (tmp_path / "bad.json").write_text(
        (tmp_path / "scorecard.json").read_text().replace('"schema_version": ', '"schema_version": 9')
    )
    with pytest.raises(ArtefactError, match="bad.json"):
        op.account_value(tmp_path / "bad.json", tmp_path / "account_value.json")
    (tmp_path / "cut.json").write_text((tmp_path / "account_value.json").read_text()[:200])
    with pytest.raises(ArtefactError, match="cut.json is not valid JSON"):
        op.account_value(tmp_path / "scorecard.json", tmp_path / "cut.json")
    soft = op.account_value(tmp_path / "bad.json", tmp_path / "cut.json", corrupt="fallback")
    assert len(soft.notes) == 2 and "bad.json" in soft.notes[0] and "cut.json" in soft.notes[1]


def test_reconcile_cost_per_booking_finds_the_channel_priced_apart(bank):
    """On the simulated bank the two tables agree in every channel (the weekly table is derived from the
    contacts); halving one channel's weekly bookings doubles its weekly cost per booking and is flagged."""
    funnel = op.channel_funnel(bank.contacts, bank.campaigns)
    rec = op.reconcile_cost_per_booking(funnel, bank.channel_spend).summary
    assert rec["agrees"].all(), rec["ratio"].round(3).to_dict()
    f = funnel.set_index("channel")
    assert rec.loc["sms", "funnel_cost_per_booking"] == pytest.approx(
        f.loc["sms", "spend"] / f.loc["sms", "bookings"]
    )
    apart = bank.channel_spend.copy()
    sms = apart["channel"] == "sms"
    apart.loc[sms, "bookings"] = apart.loc[sms, "bookings"] // 2
    rec2 = op.reconcile_cost_per_booking(funnel, apart).summary
    assert rec2.index[~rec2["agrees"]].tolist() == ["sms"]
    assert rec2.loc["sms", "ratio"] == pytest.approx(2 * rec.loc["sms", "ratio"], rel=0.02)


def _sparse_uplift_data(n=60_000, seed=0):
    """Response with a baseline on x0 and offer effects that vary with one feature each (x1 for "a", x2 for
    "b"), among six features: the structure of the simulated bank's test."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"x{i}" for i in range(6)])
    arm = rng.choice(["control", "a", "b"], n)
    base = -2.5 + 0.4 * X["x0"]
    shift = np.where(arm == "a", 0.3 + 0.3 * X["x1"], np.where(arm == "b", 0.1 + 0.3 * X["x2"], 0.0))
    y = (rng.random(n) < 1 / (1 + np.exp(-(base + shift)))).astype(int)

    def true_uplift(a, Xn):
        b = -2.5 + 0.4 * Xn["x0"]
        s = 0.3 + 0.3 * Xn["x1"] if a == "a" else 0.1 + 0.3 * Xn["x2"]
        return 1 / (1 + np.exp(-(b + s))) - 1 / (1 + np.exp(-b))

    return X, arm, y, true_uplift


def test_pooled_uplift_without_penalty_is_the_logistic_mle():
    """With a negligible penalty (C = 1e6) and a tight solver tolerance the pooled model is the
    maximum-likelihood logistic regression on [x, arm, arm·x]: its probabilities equal statsmodels' Logit on
    the same design to 1e-6."""
    import statsmodels.api as sm

    X, arm, y, _ = _sparse_uplift_data(20_000, seed=1)
    m = op.PooledUplift(Cs=(1e6,), tol=1e-8).fit(X, arm, y)
    cols = [X.to_numpy()]
    for a in ["a", "b"]:
        t = (arm == a).astype(float)[:, None]
        cols += [t, t * X.to_numpy()]
    ref = sm.Logit(y, sm.add_constant(np.hstack(cols))).fit(disp=0)
    for a in ["control", "a", "b"]:
        ta, tb = float(a == "a"), float(a == "b")
        Xa = np.hstack(
            [
                X.to_numpy(),
                np.full((len(X), 1), ta),
                ta * X.to_numpy(),
                np.full((len(X), 1), tb),
                tb * X.to_numpy(),
            ]
        )
        want = ref.predict(sm.add_constant(Xa, has_constant="add"))
        assert np.allclose(m.predict_proba_arm(X, a), want, atol=1e-6)


def test_pooled_uplift_scores_the_same_a_block_at_a_time(monkeypatch):
    """Scoring in blocks of rows (memory on a large book) gives every row the same probability, to the bit, as
    scoring all rows at once, when a block is a multiple of 64 rows (blocks of 333 changed one row in 5,000 in
    its last bit: BLAS's row blocks then fall differently); no rows give no scores."""
    from cmlib.optimize import uplift

    X, arm, y, _ = _sparse_uplift_data(5_000, seed=2)
    m = op.PooledUplift().fit(X, arm, y)
    whole = {a: m.predict_proba_arm(X, a) for a in ["control", "a", "b"]}
    assert uplift.PREDICT_ROWS % 64 == 0
    monkeypatch.setattr(uplift, "PREDICT_ROWS", 320)
    for a, p in whole.items():
        np.testing.assert_array_equal(m.predict_proba_arm(X, a), p)
    assert m.predict_proba_arm(X.iloc[:0], "a").shape == (0,)


def test_pooled_uplift_finds_whom_an_offer_moves_better_than_two_models():
    """Simulation property: where each offer's effect varies with one feature of six, the pooled L1 model's
    uplift tracks the true uplift more closely than a two-model learner fitted on the same rows, and its
    control probability tracks the true baseline."""
    X, arm, y, true_uplift = _sparse_uplift_data()
    Xn = pd.DataFrame(np.random.default_rng(9).normal(size=(20_000, 6)), columns=X.columns)
    pooled = op.PooledUplift().fit(X, arm, y)
    assert pooled.C_ in pooled.Cs and len(pooled.validation_log_loss_) == len(pooled.Cs)
    for a in ["a", "b"]:
        rows = (arm == a) | (arm == "control")
        two = op.TwoModelUplift().fit(X[rows], arm[rows] == a, y[rows])
        truth = true_uplift(a, Xn)
        r_pool = np.corrcoef(pooled.for_arm(a).predict(Xn), truth)[0, 1]
        r_two = np.corrcoef(two.predict(Xn), truth)[0, 1]
        assert r_pool > 0.9 and r_pool > r_two, (a, r_pool, r_two)
    base = 1 / (1 + np.exp(-(-2.5 + 0.4 * Xn["x0"])))
    assert np.corrcoef(pooled.predict_proba_arm(Xn, "control"), base)[0, 1] > 0.95


def test_uplift_design_reads_the_bureau_codes_as_indicators():
    df = pd.DataFrame({f: [1.0, 2.0, 3.0] for f in op.UPLIFT_FEATURES})
    df["bureau_score"] = [700, 9999, 9998]
    x = op.uplift_design(df)
    assert x["bureau_score"].iloc[0] == 700 and x["bureau_score"].iloc[1:].isna().all()
    assert x["no_bureau_file"].tolist() == [0, 1, 0] and x["thin_bureau_file"].tolist() == [0, 0, 1]
    with pytest.raises(DataError, match="customers"):
        op.uplift_design(df.drop(columns="age"))


def test_approval_model_learns_the_banks_policy(bank):
    """Fitted on half of the applications, on the other half: calibrated in the mean (within 1 pp), ranks
    approvals well (AUC > 0.9: the bank's score is a noisy reading of the features' risk), and an applicant
    the admission rules refuse (under 21) is almost never given a chance."""
    from sklearn.metrics import roc_auc_score

    apps = bank.applications.reset_index(drop=True)
    half = np.random.default_rng(0).random(len(apps)) < 0.5
    model = op.approval_model(apps[half])
    p = op.approval_probability(model, apps[~half])
    approved = (apps.loc[~half, "decision"] == "approved").to_numpy()
    assert abs(p.mean() - approved.mean()) < 0.01
    assert roc_auc_score(approved, p) > 0.9
    assert p[(apps.loc[~half, "age"] < 21).to_numpy()].max() < 0.05
    # customers of the customers table (no application yet) are scored on the same columns
    assert op.approval_probability(model, bank.customers.head(100)).shape == (100,)


def test_median_imputer_fills_what_scikit_learn_fills():
    from sklearn.base import clone
    from sklearn.impute import SimpleImputer

    from cmlib.optimize.uplift import median_imputer

    rng = np.random.default_rng(5)
    X = rng.normal(size=(2_000, 4))
    X[rng.random(X.shape) < 0.1] = np.nan
    new = rng.normal(size=(50, 4))
    new[::3, 1] = np.nan
    ours, ref = median_imputer().fit(X), SimpleImputer(strategy="median").fit(X)
    np.testing.assert_array_equal(ours.statistics_, ref.statistics_)
    np.testing.assert_array_equal(ours.transform(new), ref.transform(new))
    assert clone(ours).get_params() == {}  # usable in scikit-learn pipelines and clone()
    X[:, 2] = np.nan  # a column with no value at all is kept and filled with 0
    assert ours.fit(X).transform(X)[:, 2].tolist() == [0.0] * len(X)


def test_losing_channels_are_those_whose_bookings_are_worth_less_than_their_spend():
    """By hand: a channel books 10 accounts worth 50 each for 1,000 of spend returns (500 − 1,000) / 1,000 =
    −0.5 per unit; at 300 a week that is −150 a week. A channel that earns is not listed."""
    funnel = pd.DataFrame(
        {
            "channel": ["a", "b"],
            "spend": [1_000.0, 1_000.0],
            "contacts": [100, 100],
            "responses": [50, 50],
            "approvals": [20, 20],
            "bookings": [10, 30],
        }
    )
    econ = op.channel_economics(funnel, 0.05, value_per_booking=50.0).summary
    out = op.losing_channels(econ, pd.Series({"a": 300.0, "b": 300.0}))
    assert list(out.index) == ["a"] and out["a"] == pytest.approx(-150.0)


def _insurance_as_spend(tmp_path):
    """Real data as a user has it: the US insurer's TV advertising and quotes (fpp3) as a one-channel spend
    table with the user's own column names (spend in thousands of dollars, quotes as whole bookings)."""
    from cmlib.data import load_public

    ins = load_public("insurance").frame
    df = pd.DataFrame(
        {
            "period": ins["month"],
            "medium": "tv",
            "cost": ins["tv_adverts"] * 1000,
            "quotes": (ins["quotes"] * 1000).round().astype(int),
        }
    )
    df.to_csv(tmp_path / "spend.csv", index=False)
    return df, {"week": "period", "channel": "medium", "spend": "cost", "bookings": "quotes"}


def test_a_weekly_spend_table_alone_is_a_source(tmp_path):
    df, roles = _insurance_as_spend(tmp_path)
    src = op.optimisation_data(str(tmp_path / "spend.csv"), columns=roles)
    assert src.spend_only and list(src.tables) == ["channel_spend"] and src.world is None
    cs = src.tables["channel_spend"]
    assert list(cs.columns) == ["week_start", "channel", "spend", "bookings"]
    assert cs["spend"].to_numpy() == pytest.approx(df["cost"].to_numpy())
    # the curve is the one fitted on the user's columns directly
    direct = op.fit_response_curve(df["cost"], df["quotes"], "tv")
    assert op.fit_channel_curves(cs)["tv"].params == pytest.approx(direct.params, rel=1e-9)
    # without a value column, the stated flat economics value each booking
    vpb, how = op.spend_value_per_booking(cs, 300.0, 0.05, 1500.0)
    assert vpb["tv"] == pytest.approx(300 - 0.05 * 1500 * 1.0) and "flat economics" in how
    econ = op.weekly_economics(cs, vpb).summary
    assert econ.loc["tv", "weeks"] == len(df) and econ.loc["tv", "bookings"] == df["quotes"].sum()
    want = (df["quotes"].sum() * vpb["tv"] - df["cost"].sum()) / df["cost"].sum()
    assert econ.loc["tv", "npv_per_unit_spent"] == pytest.approx(want, rel=1e-12)
    # a value column is weighted by bookings
    cs2 = cs.assign(value_per_booking=np.where(np.arange(len(cs)) % 2, 100.0, 300.0))
    w = (cs2["value_per_booking"] * cs2["bookings"]).sum() / cs2["bookings"].sum()
    assert op.spend_value_per_booking(cs2, 0, 0, 0)[0]["tv"] == pytest.approx(w)


def test_a_bad_spend_table_is_one_line_naming_the_users_column(tmp_path):
    df, roles = _insurance_as_spend(tmp_path)
    with pytest.raises(ParameterError, match="roles among week, channel"):
        op.optimisation_data(str(tmp_path / "spend.csv"), columns={**roles, "wek": "period"})
    with pytest.raises(DataError, match="'costs'.*required column is missing"):
        op.optimisation_data(str(tmp_path / "spend.csv"), columns={**roles, "spend": "costs"})
    bad = df.astype({"cost": object})
    bad.loc[[3, 7], "cost"] = "12,5"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match=r"column 'cost' breaks rule 'type float' in 2 row\(s\)"):
        op.optimisation_data(str(tmp_path / "bad.csv"), columns=roles)
    df.assign(quotes=-df["quotes"]).to_csv(tmp_path / "neg.csv", index=False)
    with pytest.raises(DataError, match=r"column 'quotes' breaks rule '>= 0' in 40 row\(s\)"):
        op.optimisation_data(str(tmp_path / "neg.csv"), columns=roles)


def test_a_spend_table_with_absurd_or_idle_spend_or_text_numbers(tmp_path):
    """#16: spend of 1e308 (a unit error), a channel that never spent (no curve to fit) are one DataError
    each; numbers stored as text in Parquet are read as numbers."""
    df, roles = _insurance_as_spend(tmp_path)
    df.assign(cost=np.where(df.index < 2, 1e308, df["cost"])).to_csv(tmp_path / "huge.csv", index=False)
    with pytest.raises(DataError, match=r"'cost' breaks rule 'a weekly spend of at most 1e\+12' in 2 row"):
        op.optimisation_data(str(tmp_path / "huge.csv"), columns=roles)
    df.assign(cost=0.0).to_csv(tmp_path / "idle.csv", index=False)
    with pytest.raises(
        DataError, match=r"'cost' breaks rule 'some weeks with spend above 0 for channel tv' in 40"
    ):
        op.optimisation_data(str(tmp_path / "idle.csv"), columns=roles)
    df.astype({"cost": str}).to_parquet(tmp_path / "text.parquet")
    got = op.optimisation_data(str(tmp_path / "text.parquet"), columns=roles).tables["channel_spend"]
    assert got["spend"].dtype == float and got["spend"].to_numpy() == pytest.approx(df["cost"].to_numpy())


def test_wave_model_learns_from_a_sample_only_beyond_max_train_rows(bank):
    """A cap at or above the training rows changes nothing (the 1M-customer report's numbers stay as they were);
    below it, the models learn from exactly that many of the marked rows, the same ones for the same
    random_state, and the held-out rows that score them are untouched."""
    exp = bank.contacts[bank.contacts["arm"].isin(["control", "lower_apr"])]
    exp = exp.merge(bank.customers, on="customer_id", how="left").reset_index(drop=True)
    train = np.random.default_rng(42).random(len(exp)) >= 0.5
    n = int(train.sum())

    def fit(cap):
        return op.WaveModel("control", ["lower_apr"], max_train_rows=cap).fit(exp, train, bank.applications)

    def coef(m):
        return m.propensity_[-1].coef_.ravel()

    whole, same = fit(None), fit(n)
    assert whole.train_rows_ == whole.train_rows_used_ == same.train_rows_used_ == n
    np.testing.assert_array_equal(coef(whole), coef(same))
    pd.testing.assert_frame_equal(whole.uplift_.summary, same.uplift_.summary)
    half, again = fit(n // 2), fit(n // 2)
    assert half.train_rows_ == n and half.train_rows_used_ == n // 2
    np.testing.assert_array_equal(coef(half), coef(again))
    assert not np.array_equal(coef(half), coef(whole))
    # a sample of half the rows estimates the same response model: within a few standard errors' worth
    np.testing.assert_allclose(coef(half), coef(whole), atol=0.25)
    with pytest.raises(ParameterError, match="max_train_rows"):
        fit(0)

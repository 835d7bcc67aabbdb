"""Cutoff strategy, swap sets, reject inference and fair lending (cmlib/scorecard/strategy.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cmlib.data.public import load_public
from cmlib.errors import DataError, ParameterError
from cmlib.scorecard import (
    AdmissionRules,
    Scorecard,
    WoEBinner,
    adverse_impact,
    cutoff_table,
    reject_inference,
    swap_sets,
)


def test_cutoff_table_equals_brute_force():
    rng = np.random.default_rng(5)
    s = rng.integers(400, 700, 3000).astype(float)
    p = 1 / (1 + np.exp((s - 500) / 40))
    res = cutoff_table(s, p, revenue_good=300, loss_bad=2500)
    for c in (450.0, 520.0, 600.0):
        m = s >= c
        row = res.table.set_index("cutoff").loc[c]
        assert row["expected_profit"] == pytest.approx(((1 - p[m]) * 300 - p[m] * 2500).sum(), rel=1e-10)
        assert row["approval_rate"] == pytest.approx(m.mean()) and row["bad_rate"] == pytest.approx(
            p[m].mean()
        )
    brute = max(np.unique(s), key=lambda c: ((1 - p[s >= c]) * 300 - p[s >= c] * 2500).sum())
    assert res.best["cutoff"] == brute
    # the break-even PD is revenue / (revenue + loss): the marginal applicant at the best cutoff is near it
    assert p[s == brute].mean() == pytest.approx(300 / 2800, abs=0.02)
    with pytest.raises(ParameterError, match="revenue_good"):
        cutoff_table(s, p, revenue_good=-1, loss_bad=1)


def test_swap_sets_partition_the_applicants():
    new = np.array([1, 1, 0, 0, 1], bool)
    old = np.array([1, 0, 1, 0, 0], bool)
    y = np.array([0, np.nan, 1, np.nan, np.nan])
    t = swap_sets(new, old, y=y).summary.set_index("group")
    assert t["n"].tolist() == [1, 2, 1, 1] and t["share"].sum() == pytest.approx(1.0)
    assert t.loc["swap-out (old only)", "observed_bad_rate"] == 1.0


@pytest.mark.parametrize("method", ["fuzzy", "parcelling"])
def test_reject_inference_reduces_the_bias_of_the_through_the_door_bad_rate(bank, method):
    """Fit on booked accounts, infer the score-declined applicants, compare with their true outcomes (known
    only to the simulator): the through-the-door estimate must be closer to the truth than the booked bad
    rate, by at least half of the bias."""
    apps = bank.applications.merge(bank.truth_tables["applications"], on="application_id")
    passed = apps[AdmissionRules(bank.truth["admission_rules"]).decide(apps).isna()]
    acc, rej = passed[passed["booked"]], passed[passed["decision"] == "declined"]
    feats = [
        "age",
        "income",
        "employment_type",
        "employment_years",
        "housing",
        "dti",
        "bureau_score",
        "inquiries_6m",
        "utilisation",
    ]
    sc = Scorecard(WoEBinner(special_codes={"bureau_score": [9999, 9998]})).fit(acc[feats], acc["bad_12m"])
    res = reject_inference(
        sc.score(acc), acc["bad_12m"], sc.score(rej), sc.predict_proba(rej)[:, 1], method=method
    )
    true_ttd = pd.concat([acc, rej])["bad_12m_true"].mean()
    naive_bias = abs(res.accepted_bad_rate - true_ttd)
    assert abs(res.ttd_bad_rate - true_ttd) < 0.5 * naive_bias
    assert len(res.augmented) == len(acc) + len(rej) * (2 if method == "fuzzy" else 1)
    assert res.augmented.groupby("accepted")["weight"].sum()[False] == pytest.approx(len(rej))
    with pytest.raises(DataError, match="outcome in"):
        reject_inference([1, 2], [0, np.nan], [1], [0.5])


def test_adverse_impact_hand_calculation_and_hmda():
    approved = np.r_[np.ones(80), np.zeros(20), np.ones(60), np.zeros(40)].astype(bool)
    group = np.r_[["A"] * 100, ["B"] * 100]
    res = adverse_impact(approved, group)
    s = res.summary.set_index("group")
    assert res.reference == "A" and s.loc["B", "adverse_impact_ratio"] == pytest.approx(0.75)
    assert bool(s.loc["B", "four_fifths_flag"]) and res.to_dict()["four_fifths_flag"]
    # AER/HMDA (Boston 1990): approvals 243/339 african-american vs 1852/2041 others
    h = load_public("hmda").frame
    s = adverse_impact(h["denied"] == 0, h["protected_group"]).summary.set_index("group")
    assert s.loc["african_american", "adverse_impact_ratio"] == pytest.approx(
        (243 / 339) / (1852 / 2041), rel=1e-12
    )
    with pytest.raises(DataError, match="at least two groups"):
        adverse_impact([True, False], ["A", "A"])


def test_reason_mix_by_group():
    approved = np.array([True, False, False, False, False, True])
    group = np.array(["A", "A", "A", "B", "B", "B"])
    reasons = pd.Series(["x", "dti", "bureau", "dti", "dti", "x"])
    r = adverse_impact(approved, group, reasons=reasons).reasons
    assert r.loc["dti", "B"] == 1.0 and r.loc["dti", "A"] == 0.5 and r.index[0] == "dti"

"""Admission rules (cmlib/scorecard/policy.py): the decline waterfall reproduces the simulated bank's own
policy decisions, rule by rule, and a rule over a missing column names table, column and rule."""

from __future__ import annotations

import pandas as pd
import pytest

from cmlib.errors import DataError, ParameterError
from cmlib.scorecard import AdmissionRules


def test_waterfall_equals_the_generators_policy_declines(bank):
    apps = bank.applications
    rules = AdmissionRules(bank.truth["admission_rules"])
    first = rules.decide(apps)
    gen = apps["decline_reason"].where(apps["decline_reason"] != "score_below_cutoff")
    assert first.fillna("").tolist() == gen.fillna("").tolist()
    wf = rules.waterfall(apps)
    assert wf["declined"].tolist() == [int((gen == r).sum()) for r in wf["rule"]]
    assert wf["remaining"].iloc[-1] == int(first.isna().sum())
    assert (wf["fails_alone"] >= wf["declined"]).all()


def test_rule_semantics_and_errors():
    df = pd.DataFrame({"age": [19, 30, 40], "income": [None, 5000.0, 50000.0]})
    rules = AdmissionRules(
        [
            {"rule": "min_age", "decline_if": "age < 21"},
            {"rule": "min_income", "column": "income", "decline_if": "income < 12000"},
        ]
    )
    assert rules.decide(df).fillna("pass").tolist() == [
        "min_age",
        "min_income",
        "pass",
    ]  # missing income passes
    with pytest.raises(DataError, match="table 'applications': column 'dti' breaks rule 'rule 'max_dti'"):
        AdmissionRules([{"rule": "max_dti", "column": "dti", "decline_if": "dti > 0.5"}]).decide(df)
    with pytest.raises(ParameterError, match="unique rule names"):
        AdmissionRules(
            [{"rule": "a", "decline_if": "age < 1"}, {"rule": "a", "decline_if": "age > 1"}]
        ).decide(df)
    with pytest.raises(ParameterError, match="rules"):
        AdmissionRules([]).decide(df)

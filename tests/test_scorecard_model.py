"""Scorecard (cmlib/scorecard/model.py): points scaling, probabilities vs statsmodels, JSON and SQL exports
score every row exactly like score(), reason codes, errors."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cmlib.data.public import load_public
from cmlib.errors import ArtefactError, NotFittedError
from cmlib.scorecard import Scorecard, load_scorecard

FEATURES = [
    "status_of_existing_checking_account",
    "duration_in_month",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings_account_and_bonds",
    "age_in_years",
]


@pytest.fixture(scope="module")
def fitted():
    g = load_public("german").frame
    X, y = g[FEATURES], g["bad"]
    return Scorecard(rounding=False).fit(X, y), Scorecard().fit(X, y), X, y


def test_probabilities_equal_statsmodels_on_woe(fitted):
    sc, _, X, y = fitted
    W = sc.binner_.transform(X)
    ref = sm.Logit(y.astype(float), sm.add_constant(W)).fit(disp=0)
    assert np.allclose(sc.predict_proba(X)[:, 1], ref.predict(sm.add_constant(W)), atol=1e-9)
    assert set(sc.coefficients_.columns) >= {"coef", "p_value"}


def test_points_scaling(fitted):
    sc, _, X, _ = fitted
    p = sc.predict_proba(X)[:, 1]
    odds = (1 - p) / p
    s = sc.score(X).to_numpy()
    # unrounded points: score = offset + factor * ln(good:bad odds); base score at base odds, PDO doubles them
    assert np.allclose(s, sc.offset + sc.factor * np.log(odds), atol=1e-8)
    assert sc.offset + sc.factor * np.log(50) == pytest.approx(600)
    assert sc.offset + sc.factor * np.log(100) == pytest.approx(620)


def test_json_and_sql_reproduce_scores_on_every_row(fitted, tmp_path):
    _, sc, X, _ = fitted
    s = sc.score(X)
    path = tmp_path / "scorecard.json"
    sc.to_json(path)
    assert np.array_equal(load_scorecard(path).score(X).to_numpy(), s.to_numpy())
    con = duckdb.connect()
    con.register("apps", X)
    got = con.execute(f"SELECT {sc.to_sql()} AS score FROM apps").df()["score"].to_numpy()
    assert np.array_equal(got, s.to_numpy())
    # missing and unseen values score the missing bin in all three
    odd = X.head(3).copy()
    odd.loc[odd.index[0], "duration_in_month"] = np.nan
    odd.loc[odd.index[1], "purpose"] = "spaceship"
    con.register("odd", odd)
    sql = con.execute(f"SELECT {sc.to_sql()} AS score FROM odd").df()["score"].to_numpy()
    assert np.array_equal(sql, sc.score(odd).to_numpy()) and np.array_equal(
        load_scorecard(sc.to_json()).score(odd).to_numpy(), sql
    )


def test_reason_codes_name_the_costliest_features(fitted):
    _, sc, X, _ = fitted
    rc = sc.reason_codes(X.head(50), n=2)
    P = sc.points(X.head(50))
    best = pd.Series({f: t["points"].max() for f, t in sc.points_.items()})
    for i in range(50):
        lost = best - P.iloc[i]
        assert lost[rc.iloc[i, 0]] == lost.max()


def test_errors(fitted, tmp_path):
    with pytest.raises(NotFittedError, match="fit"):
        Scorecard().score(pd.DataFrame({"a": [1]}))
    with pytest.raises(ArtefactError, match="schema"):
        load_scorecard({"kind": "scorecard", "schema_version": 99})
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ArtefactError, match="not valid JSON"):
        load_scorecard(tmp_path / "bad.json")


def test_bad_training_data_is_named(fitted):
    from cmlib.errors import DataError

    _, _, X, y = fitted
    with pytest.raises(DataError, match="binary target"):
        Scorecard().fit(X, y.replace({1: 2}))
    with pytest.raises(DataError, match="target"):
        Scorecard().fit(X, np.zeros(len(X), int))  # a single class cannot be modelled
    with pytest.raises(DataError, match="column 'empty' breaks rule 'not all missing'"):
        Scorecard().fit(X.assign(empty=np.nan), y)
    with pytest.raises(DataError, match="column 'flat' breaks rule 'at least two distinct values'"):
        Scorecard().fit(X.assign(flat=3), y)
    sc = fitted[1]
    with pytest.raises(
        DataError, match="column 'duration_in_month' breaks rule 'required column is missing'"
    ):
        sc.score(X.drop(columns="duration_in_month"))


def test_pd_from_score_inverts_the_points_scaling(fitted):
    sc, rounded, X, _ = fitted
    assert np.allclose(sc.pd_from_score(sc.score(X)), sc.predict_proba(X)[:, 1], atol=1e-10)
    card = load_scorecard(rounded.to_json(metadata={"cutoff": 580}))
    assert card.metadata == {"cutoff": 580} and card.features == rounded.features_
    assert np.allclose(card.pd_from_score(rounded.score(X)), rounded.pd_from_score(rounded.score(X)))
    with pytest.raises(ArtefactError, match="lacks"):
        load_scorecard({"kind": "scorecard", "schema_version": 1})


def test_boolean_flags_score_the_same_in_sql_json_and_python():
    rng = np.random.default_rng(2)
    n = 3000
    X = pd.DataFrame({"flag": rng.random(n) < 0.3, "x": rng.normal(size=n)})
    y = (rng.random(n) < np.where(X["flag"], 0.2, 0.08)).astype(int)
    sc = Scorecard(min_iv=0.0).fit(X, y)
    assert "flag" in sc.features_
    con = duckdb.connect()
    con.register("t", X)
    sql = con.execute(f"SELECT {sc.to_sql()} AS s FROM t").df()["s"].to_numpy()
    assert np.array_equal(sql, sc.score(X).to_numpy()) and np.array_equal(
        load_scorecard(sc.to_json()).score(X).to_numpy(), sql
    )


def test_a_recalibrated_card_shifts_probabilities_not_points_and_exports_the_shift():
    """The odds shift moves every log-odds of bad by the same amount (by hand: logit after − logit before =
    shift), leaves the points unchanged, and travels in the JSON so a reader's PDs equal the card's."""
    from scipy.special import logit

    g = load_public("german").frame
    X, y = g[FEATURES], g["bad"]
    card = Scorecard(rounding=False).fit(X, y)
    before, s_before = card.predict_proba(X)[:, 1], card.score(X)
    card.recalibrate(0.4)
    after = card.predict_proba(X)[:, 1]
    assert np.allclose(logit(after) - logit(before), 0.4, atol=1e-9)
    assert card.score(X).equals(s_before)
    assert np.allclose(card.pd_from_score(card.score(X)), after, atol=1e-10)
    loaded = load_scorecard(card.to_json())
    assert np.allclose(loaded.pd_from_score(loaded.score(X)), after, atol=1e-10)
    doc = json.loads(card.to_json())
    doc["calibration_shift"] = 1e308  # a damaged file is refused, not used
    with pytest.raises(ArtefactError, match="calibration_shift"):
        load_scorecard(doc)


def test_a_bin_with_no_rows_gets_neutral_points():
    """#15: a special-value or missing bin the data never filled has WoE 0, so its points are the neutral
    offset share (offset / k − factor · b0 / k), not a reward for an unseen value."""
    g = load_public("german").frame
    X, y = g[FEATURES], g["bad"]
    card = Scorecard(rounding=False).fit(X, y)
    b0, k = card.coefficients_.loc["const", "coef"], len(card.features_)
    neutral = card.offset / k - card.factor * b0 / k
    empty = [(f, t) for f, t in card.points_.items() if (t["n"] == 0).any()]
    assert empty, "german credit has no missing values: every feature's 'missing' bin is empty"
    for _f, tab in empty:
        row = tab[tab["n"] == 0].iloc[0]
        assert row["woe"] == 0.0 and row["points"] == pytest.approx(neutral, abs=1e-9)

"""Scorecard (cmlib/scorecard/model.py): points scaling, probabilities vs statsmodels, JSON and SQL exports
score every row exactly like score(), reason codes, errors."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cmlib.data.public import load_public
from cmlib.errors import ArtefactError, ParameterError
from cmlib.scorecard import Scorecard, load

FEATURES = ["status_of_existing_checking_account", "duration_in_month", "credit_history", "purpose", "credit_amount",
            "savings_account_and_bonds", "age_in_years"]


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
    assert np.array_equal(load(path).score(X).to_numpy(), s.to_numpy())
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
    assert np.array_equal(sql, sc.score(odd).to_numpy()) and np.array_equal(load(sc.to_json()).score(odd).to_numpy(), sql)


def test_reason_codes_name_the_costliest_features(fitted):
    _, sc, X, _ = fitted
    rc = sc.reason_codes(X.head(50), n=2)
    P = sc.points(X.head(50))
    best = pd.Series({f: t["points"].max() for f, t in sc.points_.items()})
    for i in range(50):
        lost = best - P.iloc[i]
        assert lost[rc.iloc[i, 0]] == lost.max()


def test_errors(fitted, tmp_path):
    with pytest.raises(ParameterError, match="fit"):
        Scorecard().score(pd.DataFrame({"a": [1]}))
    with pytest.raises(ArtefactError, match="schema"):
        load({"kind": "scorecard", "schema_version": 99})
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ArtefactError, match="cannot be read"):
        load(tmp_path / "bad.json")

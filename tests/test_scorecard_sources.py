"""Scoring sources (cmlib/scorecard/sources.py): every named source and a user path give the same shape;
protected attributes never become candidate features; bad input is named."""

from __future__ import annotations

import pandas as pd
import pytest

from cmlib.errors import DataError, ParameterError
from cmlib.scorecard.sources import scoring_data, split_sample


@pytest.mark.parametrize(
    "name,target", [("german", "bad"), ("credit_data", "bad"), ("lending_club", "bad"), ("hmda", "denied")]
)
def test_public_sources(name, target):
    s = scoring_data(name)
    assert s.target == target and target not in s.features and s.features
    assert not {"afam", "protected_group"} & set(s.features)
    dev, hold, how = split_sample(s, 0.3)
    assert how == "random" and len(hold) == pytest.approx(0.3 * len(s.frame), abs=1)
    assert hold[target].mean() == pytest.approx(s.frame[target].mean(), abs=0.01)  # stratified


def test_synthetic_source_is_out_of_time_and_policy_filtered():
    s = scoring_data("synthetic", n_customers=20_000)
    assert (
        s.protected == "protected_group"
        and "protected_group" not in s.features
        and "region" not in s.features
    )
    assert s.frame["booked"].all() and s.frame["bad_12m"].notna().all()
    assert s.applicants["policy_decline"].notna().any()
    dev, hold, how = split_sample(s, 0.25)
    assert how == "time" and dev["application_date"].max() <= hold["application_date"].min()


def test_user_path_and_errors(tmp_path):
    df = pd.DataFrame({"x": range(20), "y": [0, 1] * 10, "customer_id": range(20)})
    df.to_csv(tmp_path / "mine.csv", index=False)
    s = scoring_data(str(tmp_path / "mine.csv"), target="y")
    assert s.name == "user" and s.features == ["x"] and s.unknown_outcome == 0
    # an application table: outcomes as words, none for applications not booked (set aside and counted)
    apps = df.assign(y=["yes", "no", None, "No"] * 5)
    apps.to_csv(tmp_path / "apps.csv", index=False)
    a = scoring_data(str(tmp_path / "apps.csv"), target="y")
    assert a.unknown_outcome == 5 and len(a.frame) == 15 and a.frame["y"].tolist()[:3] == [1, 0, 0]
    # what pandas accepts quietly is refused: a column name twice, text among a column's numbers
    (tmp_path / "dup.csv").write_text("x,x,y\n" + "\n".join(f"{i},{i},{i % 2}" for i in range(20)) + "\n")
    with pytest.raises(
        DataError, match=r"column 'x' breaks rule 'one column of this name \(it appears 2 times\)'"
    ):
        scoring_data(str(tmp_path / "dup.csv"), target="y")
    df.assign(x=df["x"].astype(object).where(df.index != 4, "12,5"), z=["a", "b"] * 10).to_csv(
        tmp_path / "text.csv", index=False
    )
    with pytest.raises(
        DataError, match=r"'x' breaks rule 'a number \(text in a numeric column\)' in 1 row.*'12,5'"
    ):
        scoring_data(str(tmp_path / "text.csv"), target="y")
    with pytest.raises(DataError, match="column 'outcome' breaks rule 'target column present"):
        scoring_data(str(tmp_path / "mine.csv"), target="outcome")
    with pytest.raises(ParameterError, match="features"):
        scoring_data("german", features=["no_such_column"])
    with pytest.raises(ParameterError, match="split"):
        split_sample(s, 0.3, "time")
    with pytest.raises(ParameterError, match="holdout_share"):
        split_sample(s, 1.5)

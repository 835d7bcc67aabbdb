"""Scoring data sources for the scorecard notebook: one shape whatever the source.

:func:`scoring_data` returns a :class:`ScoringData` — the modelling frame (rows with a known outcome), its
target and candidate features, an optional protected-group column (never a model feature), the time column
for an out-of-time split, and, on the simulated bank, what only a simulator has: the policy rules, the
current policy's decisions and the score-declined applicants with their true outcomes (for swap sets and
reject inference).

* ``synthetic``: applications of the simulated bank; admission rules applied first; the model is fitted on
  booked accounts (``bad_12m`` = 90+ DPD by 12 months on book).
* ``german``, ``credit_data``, ``lending_club``: the public sets of :mod:`cmlib.data.public`, target ``bad``.
* ``hmda``: Boston HMDA mortgage decisions, target ``denied`` (the lender's decision, not a default), with
  ``protected_group``; ``afam`` is the protected attribute itself and is kept out of the features.
* a path (Parquet, CSV, DuckDB file with ``duckdb_table``): any table with a 0/1 ``target`` column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from cmlib.errors import DataError, ParameterError
from cmlib.validation import check_binary

PUBLIC_SCORING = ("german", "credit_data", "lending_club", "hmda")
#: region is left out on purpose: geography is the classic proxy for a protected group (redlining), and in
#: the simulated bank it carries no risk of its own
SYNTHETIC_FEATURES = [
    "age",
    "income",
    "employment_type",
    "employment_years",
    "housing",
    "dti",
    "bureau_score",
    "inquiries_6m",
    "utilisation",
    "existing_relationship",
    "tenure_with_bank_months",
]
#: never model features: identifiers, outcomes, decisions and protected attributes
EXCLUDE = {
    "application_id",
    "customer_id",
    "contact_id",
    "campaign_id",
    "protected_group",
    "afam",
    "decision",
    "decline_reason",
    "booked",
    "bank_score",
    "bad_12m",
    "apr",
    "credit_limit",
    "application_date",
    "do_not_lend",
    "segment",
    "channel",
    "product",
}


@dataclass
class ScoringData:
    """What the scorecard notebook needs from a source (see the module docstring)."""

    name: str
    frame: pd.DataFrame
    target: str
    features: list[str]
    protected: str | None = None
    time: str | None = None
    special_codes: dict = field(default_factory=dict)
    policy_rules: list[dict] | None = None
    applicants: pd.DataFrame | None = (
        None  # all applicants passing policy (synthetic), with current decisions
    )
    truth: dict | None = None
    unknown_outcome: int = 0  # rows of a user's table without a target value, set aside


#: a text column whose values are numbers in at least this share of rows is a numeric column with text in it
NUMERIC_SHARE = 0.8


def check_user_columns(df: pd.DataFrame, name: str) -> None:
    """A user's scoring table, checked where pandas would go on quietly: text in a column that is otherwise
    numbers (a number exported as text, "n.a.", "12,5"): the scorecard would bin it as categories. One
    DataError listing every such column with its rule and count of rows. (A repeated column name is refused
    by :func:`cmlib.data.io.load` for every user file.)"""
    failures = []
    for c in df.columns:
        x = df[c]
        if x.dtype != object and not pd.api.types.is_string_dtype(x.dtype):
            continue
        v = x.dropna()
        num = pd.to_numeric(v, errors="coerce")
        if len(v) and num.notna().mean() >= NUMERIC_SHARE and num.isna().any():
            bad = v[num.isna()]
            failures.append(
                {
                    "column": str(c),
                    "rule": "a number (text in a numeric column)",
                    "n_rows": int(len(bad)),
                    "examples": bad.unique()[:3].tolist(),
                }
            )
    if failures:
        raise DataError(name, failures)


def scoring_data(
    data_source: str = "synthetic",
    target: str = "bad",
    n_customers: int = 200_000,
    random_state: int = 1,
    features: list[str] | None = None,
    duckdb_table: str | None = None,
) -> ScoringData:
    """Load a scoring source by name or path (see the module docstring). ``features`` (optional) restricts
    the candidates; unknown names are a ParameterError."""
    if data_source == "synthetic":
        out = _synthetic(n_customers, random_state)
    elif data_source in PUBLIC_SCORING:
        from cmlib.data.public import load_public

        df = load_public(data_source).frame
        tgt = "denied" if data_source == "hmda" else "bad"
        protected = "protected_group" if "protected_group" in df else None
        out = ScoringData(
            data_source,
            df,
            tgt,
            [c for c in df.columns if c != tgt and c not in EXCLUDE],
            protected=protected,
        )
    else:
        from cmlib.data.io import load

        df = load(data_source, duckdb_table=duckdb_table, validate=False)
        check_user_columns(df, str(data_source))
        # numbers stored as text (a Parquet string column of "1250"): read as numbers, else binned as categories
        for c in df.columns:
            if df[c].dtype == object or pd.api.types.is_string_dtype(df[c].dtype):
                num = pd.to_numeric(df[c], errors="coerce")
                if df[c].notna().any() and num.notna().sum() == df[c].notna().sum():
                    df[c] = num.astype(float)
        if target not in df.columns:
            raise DataError.single(
                str(data_source), target, "target column present (parameter target)", len(df)
            )
        # the target as users write it (0/1, true/false, yes/no); a row with none is an application whose
        # outcome is not known (declined, not booked, too recent): set aside, counted, not modelled
        y = check_binary(df, target, str(data_source), allow_missing=True)
        known = y.notna().to_numpy()
        df = df.assign(**{target: y})[known].astype({target: "int64"}).reset_index(drop=True)
        protected = "protected_group" if "protected_group" in df else None
        out = ScoringData(
            "user",
            df,
            target,
            [c for c in df.columns if c != target and c not in EXCLUDE],
            protected=protected,
            unknown_outcome=int((~known).sum()),
        )
    if features:
        unknown = [f for f in features if f not in out.frame.columns]
        if unknown:
            raise ParameterError("features", f"columns of the {out.name} data", unknown)
        out.features = list(features)
    return out


def _synthetic(n_customers: int, random_state: int) -> ScoringData:
    from cmlib.data import bank
    from cmlib.data.synthetic import NO_FILE, THIN_FILE
    from cmlib.scorecard.policy import AdmissionRules

    world = bank(n_customers, random_state)
    apps = world.applications.merge(
        world.truth_tables["applications"][["application_id", "bad_12m_true", "value_if_booked"]].rename(
            columns={"value_if_booked": "value_if_booked_true"}
        ),
        on="application_id",
    )
    rules = world.truth["admission_rules"]
    apps["policy_decline"] = AdmissionRules(rules).decide(apps)
    passed = apps[apps["policy_decline"].isna()].reset_index(drop=True)
    booked = passed[passed["booked"]].reset_index(drop=True)
    return ScoringData(
        "synthetic",
        booked,
        "bad_12m",
        list(SYNTHETIC_FEATURES),
        protected="protected_group",
        time="application_date",
        special_codes={"bureau_score": [NO_FILE, THIN_FILE]},
        policy_rules=rules,
        applicants=apps,
        truth=world.truth,
    )


def split_sample(
    data: ScoringData, holdout_share: float = 0.3, how: str = "auto", random_state: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Development and hold-out samples. ``how``: ``random`` (stratified on the target), ``time`` (the latest
    ``holdout_share`` of rows by the time column: out-of-time, what a model meets after deployment) or
    ``auto`` (time when the source has a time column). Returns (development, hold-out, how used)."""
    from sklearn.model_selection import train_test_split

    if not 0 < holdout_share < 1:
        raise ParameterError("holdout_share", "a fraction in (0, 1)", holdout_share)
    if how not in ("auto", "random", "time"):
        raise ParameterError("split", "'auto', 'random' or 'time'", how)
    df = data.frame
    if how == "auto":
        how = "time" if data.time else "random"
    if how == "time":
        if not data.time:
            raise ParameterError("split", "'random' (this source has no time column)", "time")
        cut = df[data.time].quantile(1 - holdout_share)
        return df[df[data.time] < cut], df[df[data.time] >= cut], how
    dev, hold = train_test_split(
        df, test_size=holdout_share, stratify=df[data.target], random_state=random_state
    )
    return dev, hold, how

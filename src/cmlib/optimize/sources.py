"""cmlib.optimize — data sources (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmlib.scorecard.sources import SYNTHETIC_FEATURES
from cmlib.validation import require_columns
from cmlib.vocab import NO_FILE, THIN_FILE

#: the customer features the uplift models use (numeric, known before the contact)
UPLIFT_FEATURES = [
    "age",
    "income",
    "employment_years",
    "dti",
    "bureau_score",
    "inquiries_6m",
    "utilisation",
    "existing_relationship",
    "tenure_with_bank_months",
    "pre_spend_monthly",
]

#: what the approval model reads: the applicant attributes the scorecard may use (no protected attribute, no
#: proxy for one, nothing the bank learns only after the decision) and the do-not-lend flag its policy rules see
APPROVAL_FEATURES = [*SYNTHETIC_FEATURES, "do_not_lend"]


def _bureau_codes(x: pd.DataFrame) -> pd.DataFrame:
    """The bureau score's special codes (no file 9999, thin file 9998) as indicators and a missing score: read
    as numbers they would be scores of 9,999, the largest values of the column."""
    if "bureau_score" in x:
        score = pd.to_numeric(x["bureau_score"], errors="coerce").astype(float)
        x["no_bureau_file"] = (score == NO_FILE).astype(float)
        x["thin_bureau_file"] = (score == THIN_FILE).astype(float)
        x["bureau_score"] = score.where(score < THIN_FILE)
    return x


def uplift_design(frame: pd.DataFrame, features: list[str] | None = None) -> pd.DataFrame:
    """The response, booking and uplift models' inputs: ``features`` (default :data:`UPLIFT_FEATURES`) as
    floats, the bureau score's special codes as indicators (a missing score is imputed by the models'
    pipelines)."""
    feats = list(features or UPLIFT_FEATURES)
    require_columns(frame, feats, "customers")
    return _bureau_codes(frame[feats].astype(float))


def approval_model(applications: pd.DataFrame, features: list[str] | None = None, random_state: int = 0):
    """P(approved | applied, x), fitted on every application the bank decided (column ``decision``:
    ``"approved"`` or not): the bank's admission rules and score cutoff applied to the applicant, learnt by
    gradient boosting because rules are steps, not slopes. Approval depends on the applicant, not on the
    channel that brought them, so all channels' applications inform it — far more than the test's
    responders. Returns a fitted estimator; score customers with :func:`approval_probability`."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    feats = list(features or APPROVAL_FEATURES)
    require_columns(applications, [*feats, "decision"], "applications")
    X = _approval_design(applications, feats)
    cats = {c: list(X[c].cat.categories) for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)}
    y = (applications["decision"].astype(str) == "approved").to_numpy()
    model = HistGradientBoostingClassifier(
        categorical_features=list(cats), max_iter=200, learning_rate=0.1, random_state=random_state
    )
    model.fit(X, y)
    model.features_, model.categories_ = feats, cats  # scoring codes the categories as fitting did
    return model


def approval_probability(model, frame: pd.DataFrame) -> np.ndarray:
    """Each row's probability of approval were they to apply (:func:`approval_model`)."""
    return model.predict_proba(_approval_design(frame, model.features_, model.categories_))[:, 1]


def _approval_design(frame: pd.DataFrame, feats: list[str], categories: dict | None = None) -> pd.DataFrame:
    require_columns(frame, feats, "customers")
    x = frame[feats].copy()
    for c in feats:
        if categories is not None and c in categories:
            x[c] = pd.Categorical(x[c].astype(str), categories=categories[c])
        elif categories is None and (x[c].dtype == object or pd.api.types.is_string_dtype(x[c])):
            x[c] = pd.Categorical(x[c].astype(str))
        else:
            x[c] = pd.to_numeric(x[c], errors="coerce").astype(float)
    return _bureau_codes(x)


#: the bank's tables cost optimisation reads
TABLES = ("customers", "campaigns", "contacts", "applications", "channel_spend")


#: each role's canonical column (the simulated bank's channel_spend names it so)
_SPEND_COLUMNS = {
    "week": "week_start",
    "channel": "channel",
    "spend": "spend",
    "bookings": "bookings",
    "value": "value_per_booking",
}
#: the roles of a weekly spend table (one row per week and channel), the route without the bank's other
#: tables: map them to your columns with ``columns`` (default: the role's canonical column in brackets)
SPEND_ROLES = {
    r: f"{what} [{_SPEND_COLUMNS[r]}]"
    for r, what in {
        "week": "the week's start date (required)",
        "channel": "the marketing channel (required)",
        "spend": "money spent on the channel that week, ≥ 0 (required)",
        "bookings": "accounts booked from the channel that week, whole numbers ≥ 0 (required)",
        "value": "value of a booked account, net of its expected loss (optional; else the fallback economics)",
    }.items()
}
#: the largest weekly spend on one channel a spend table may hold (larger is a unit error: cents, or a total)
MAX_WEEKLY_SPEND = 1e12


@dataclass
class OptimisationData:
    """The tables cost optimisation reads (``tables[name]``), the arms of the randomised offer test, and the
    simulated ``world`` (None for user data). ``spend_only``: only the weekly ``channel_spend`` table was
    given (response curves and budget allocation run; the channel funnel, uplift and targeting need the
    bank's contacts, campaigns and applications)."""

    name: str
    tables: dict
    arms: list[str]
    world: object = None
    spend_only: bool = False


def spend_table(df: pd.DataFrame, columns: dict | None = None, name: str = "channel_spend") -> pd.DataFrame:
    """A user's weekly spend table as ``channel_spend`` (week_start, channel, spend, bookings and, with the
    ``value`` role, value_per_booking): ``columns`` maps the roles of :data:`SPEND_ROLES` to the table's
    column names; each problem is one DataError or ParameterError line naming the table, column, rule and
    count of rows."""
    from cmlib.data.io import as_table
    from cmlib.errors import DataError, ParameterError
    from cmlib.validation import numbers

    roles = dict(columns or {})
    unknown = sorted(set(roles) - set(SPEND_ROLES))
    if unknown:
        raise ParameterError("columns", f"roles among {', '.join(SPEND_ROLES)}", unknown)
    col = {r: roles.get(r, c) for r, c in _SPEND_COLUMNS.items()}
    has_value = "value" in roles or col["value"] in df.columns
    require_columns(df, [col[r] for r in ("week", "channel", "spend", "bookings")], name)
    if has_value:
        require_columns(df, [col["value"]], name)
    out = df[[col[r] for r in _SPEND_COLUMNS if r != "value"]].copy()
    out.columns = [_SPEND_COLUMNS[r] for r in _SPEND_COLUMNS if r != "value"]
    try:
        out = as_table(out, "channel_spend")
    except DataError as exc:  # name the user's columns, not the canonical ones they were mapped to
        back = {_SPEND_COLUMNS[r]: col[r] for r in _SPEND_COLUMNS}
        raise DataError(
            name, [{**f, "column": back.get(f["column"], f["column"])} for f in exc.failures]
        ) from None
    out = out.astype({"spend": float, "bookings": "int64"})  # validated as numbers, possibly stored as text
    failures = []
    big = ~np.isfinite(out["spend"]) | (out["spend"] > MAX_WEEKLY_SPEND)
    if big.any():
        failures.append(
            {
                "column": col["spend"],
                "rule": f"a weekly spend of at most {MAX_WEEKLY_SPEND:.0e}",
                "n_rows": int(big.sum()),
            }
        )
    idle = out.groupby("channel")["spend"].max()
    for ch in idle.index[idle <= 0]:  # a curve of bookings against spend needs some spend
        n = int((out["channel"] == ch).sum())
        failures.append(
            {"column": col["spend"], "rule": f"some weeks with spend above 0 for channel {ch}", "n_rows": n}
        )
    if failures:
        raise DataError(name, failures)
    if has_value:
        out["value_per_booking"] = numbers(df.reset_index(drop=True), col["value"], name).to_numpy()
    return out


def _is_bank_folder(data_source) -> bool:
    """A folder ``cmlib data generate`` wrote, or a DuckDB file with the bank's tables (contacts, campaigns)."""
    from pathlib import Path

    from cmlib.data.io import DUCKDB_SUFFIXES

    p = Path(str(data_source))
    if p.is_file() and p.suffix in DUCKDB_SUFFIXES:
        import duckdb

        with duckdb.connect(str(p), read_only=True) as con:
            names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        return {"contacts", "campaigns"} <= names
    return p.is_dir() and any(
        (p / t).exists() or (p / f"{t}.parquet").exists() for t in ("contacts", "campaigns")
    )


#: the columns of the simulated bank's contacts and customers this analysis reads: the cached bank is read
#: with only these (outcomes after booking, application ids, regions and other permissions are 0.9 GB of a
#: 10M-customer bank that nothing here uses)
BANK_COLUMNS = {
    "contacts": [
        *("contact_id", "customer_id", "campaign_id", "experiment_id", "arm", "channel", "contact_date"),
        *("responded", "applied", "approved", "booked"),
    ],
    "customers": [
        "customer_id",
        *dict.fromkeys([*UPLIFT_FEATURES, *APPROVAL_FEATURES]),
        *("segment", "protected_group", "perm_mail", "do_not_contact"),
    ],
}


def optimisation_data(
    data_source: str, n_customers: int = 100_000, random_state: int = 1, columns: dict | None = None
) -> OptimisationData:
    """Load the bank's tables: ``"synthetic"`` (the simulated bank), a folder written by
    ``cmlib data generate`` (one table per sub-folder or file), or one weekly spend table (a file, Parquet
    folder or ``spark:<table>`` with the roles of :data:`SPEND_ROLES`, mapped by ``columns``)."""
    # imported here so that `import cmlib.optimize` does not load the simulator
    from cmlib.data import bank, load

    world = None
    if data_source == "synthetic":
        world = bank(n_customers, random_state)
        tables = {k: world.read(k, BANK_COLUMNS.get(k)) for k in TABLES}
    elif columns or not _is_bank_folder(data_source):
        raw = load(data_source, table="channel_spend", validate=False)  # a DuckDB file's channel_spend
        return OptimisationData(
            str(data_source), {"channel_spend": spend_table(raw, columns)}, [], None, True
        )
    else:
        tables = {k: load(data_source, table=k) for k in TABLES}
    arms = sorted(set(tables["campaigns"]["arm"].dropna().astype(str)) - {"", "control"})
    return OptimisationData(data_source, tables, arms, world)

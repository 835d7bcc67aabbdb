"""cmlib.survival — data sources (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cmlib.survival.durations import duration_table


@dataclass
class ChurnData:
    """What the survival notebook analyses, from any source: ``durations`` (one row per account: duration
    in months, the 0/1 ``event`` column, ``segment``, covariates), the monthly ``panel`` when the source has
    one (None for a one-row-per-customer table), each account's product ``terms`` (``account_id`` and
    :data:`cmlib.finance.TERMS`, for the account-value model; None when the source has none), the simulated
    ``world`` (None otherwise) and ``churn_covariates``: what drives closure as well as the risk features —
    the product, the offer's APR and whether the card was used in its first month (None: the same as
    ``covariates``); ``retention_test``: a randomised retention call (None when the source has none).

    ``panel_table`` is the panel where the aggregations run: the pandas panel on DuckDB, the same rows
    registered once in Spark with ``backend="spark"`` (durations, vintages and roll rates are then counted
    there); the account-level models read ``panel``."""

    name: str
    durations: pd.DataFrame
    covariates: list[str]
    event: str
    panel: pd.DataFrame | None = None
    world: Any = None
    terms: pd.DataFrame | None = None
    churn_covariates: list[str] | None = None
    retention_test: pd.DataFrame | None = None
    set_aside: int = 0  # rows of a user's table left out (duration 0: never at risk)
    panel_table: Any = None
    backend: str = "duckdb"


#: the roles a one-row-per-customer churn table can fill (``columns`` maps a role to the user's column name)
CUSTOMER_ROLES = {
    "duration": "time observed, in months (required; rows with 0 were never at risk and are set aside)",
    "event": "churned: 0/1, true/false or yes/no (required)",
    "segment": "splits the curves (optional; else one group)",
    "value": "margin per month, for lifetime value (optional; else that section is skipped)",
    "covariates": "a list of columns that explain churn (optional; else every other column but identifiers)",
    "id": "the customer's id, which the retention list names (optional; else the row of the file, from 0)",
}
#: the longest duration a churn table may hold: a century of months (anything longer is a unit error)
MAX_MONTHS = 1200
#: a categorical covariate with more levels than this is left out (an identifier or free text, not a driver)
MAX_LEVELS = 20


def independent_columns(X: pd.DataFrame, tol: float = 1e-9) -> list[str]:
    """The columns of ``X`` left after dropping each one that is a linear combination of those before it (a
    Cox model cannot separate them: telco data repeat "no internet service" in six columns). Pivoted QR on
    the centred, scaled columns (of two identical columns, QR keeps one); order kept."""
    from scipy.linalg import qr

    if X.shape[1] == 0:
        return []
    Z = X.to_numpy(float)
    Z = (Z - Z.mean(axis=0)) / Z.std(axis=0)
    _, R, piv = qr(Z, mode="economic", pivoting=True)
    diag = np.abs(np.diag(R))
    rank = int((diag > tol * diag[0]).sum())
    keep = sorted(piv[:rank])
    return [X.columns[i] for i in keep]


def customer_table(df: pd.DataFrame, columns: dict | None = None, name: str = "churn table") -> ChurnData:
    """A one-row-per-customer churn table (tenure, a churned flag, covariates) as the survival notebook's
    data. ``columns`` maps the roles of :data:`CUSTOMER_ROLES` to the table's column names (defaults: the
    role's own name). Categorical covariates are one-hot encoded (first level dropped); each problem is one
    DataError line naming the table, column, rule and count of rows."""
    from cmlib.errors import DataError, ParameterError
    from cmlib.validation import check_binary, numbers, require_columns

    roles = dict(columns or {})
    unknown = sorted(set(roles) - set(CUSTOMER_ROLES))
    if unknown:
        raise ParameterError("columns", f"roles among {', '.join(CUSTOMER_ROLES)}", unknown)
    col = {r: roles.get(r, r) for r in ("duration", "event")}
    require_columns(
        df, [col["duration"], col["event"], roles.get("segment"), roles.get("value"), roles.get("id")], name
    )
    if "id" in roles and df[roles["id"]].duplicated().any():
        raise DataError.single(name, roles["id"], "one row per id", int(df[roles["id"]].duplicated().sum()))
    rule = f"a number of months in [0, {MAX_MONTHS:,}]"
    dur = numbers(df, col["duration"], name, minimum=0, rule=rule)
    # a tenure of a million months would make every per-month table that long (the kernel runs out of memory)
    if dur.isna().any() or (dur > MAX_MONTHS).any():
        bad = dur.isna() | (dur > MAX_MONTHS)
        raise DataError.single(
            name, col["duration"], rule, int(bad.sum()), df.loc[bad, col["duration"]].head(3).tolist()
        )
    event = check_binary(df, col["event"], name)
    keep = (dur > 0).to_numpy()
    if not keep.any():
        raise DataError.single(name, col["duration"], "some rows with a duration above 0 (at risk)", len(df))
    used = {col["duration"], col["event"], roles.get("segment"), roles.get("value"), roles.get("id")}
    covs = roles.get("covariates")
    if covs is None:
        covs = [c for c in df.columns if c not in used and not str(c).lower().endswith("id")]
    require_columns(df, covs, name)
    raw = df.loc[keep, list(covs)].reset_index(drop=True)
    parts = []
    for c in raw.columns:
        x = raw[c]
        if pd.api.types.is_bool_dtype(x) or pd.api.types.is_numeric_dtype(x):
            parts.append(x.astype(float).rename(str(c)))
        elif x.nunique() <= MAX_LEVELS:
            parts.append(pd.get_dummies(x.astype("string"), prefix=str(c), drop_first=True, dtype=float))
    X = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=raw.index)
    X.columns = [str(c).replace(" ", "_").replace("(", "").replace(")", "") for c in X.columns]
    missing = X.isna().sum()
    if missing.any():
        raise DataError(
            name,
            [
                {"column": c, "rule": "no missing values (a covariate)", "n_rows": int(n)}
                for c, n in missing.items()
                if n
            ],
        )
    X = X.loc[:, X.nunique() > 1]
    X = X[independent_columns(X)]
    d = pd.DataFrame(
        {
            # the retention list must map back to the user's customers: their id, else the row of the file
            "account_id": df.loc[keep, roles["id"]].to_numpy() if "id" in roles else np.flatnonzero(keep),
            "duration": dur[keep].to_numpy(float),
            "churn": event[keep].to_numpy(int),
            "segment": df.loc[keep, roles["segment"]].astype(str).to_numpy() if "segment" in roles else "all",
        }
    )
    if "value" in roles:
        # "n/a" among the margins would become a missing value and drop out of every value quietly
        d["margin_per_month"] = numbers(df, roles["value"], name).loc[keep].to_numpy(float)
        if np.isnan(d["margin_per_month"]).any():
            n = int(np.isnan(d["margin_per_month"]).sum())
            raise DataError.single(name, roles["value"], "a margin on every row (the value role)", n)
    out = ChurnData(name, pd.concat([d, X], axis=1), list(X.columns), "churn")
    out.set_aside = int((~keep).sum())
    return out


def churn_data(
    data_source: str,
    n_customers: int = 100_000,
    random_state: int = 1,
    columns: dict | None = None,
    backend: str = "duckdb",
) -> ChurnData:
    """Load the notebook's data: ``"synthetic"`` (the simulated bank's performance panel with the
    applications' features as covariates), ``"wa_churn"`` (telco churn, one row per customer, real data) or
    a path: to a performance panel (performance schema: one row per account and month), or to a
    one-row-per-customer churn table whose roles ``columns`` names (:func:`customer_table`). Churn =
    voluntary closure or prepayment. ``backend``: where the panel's aggregations run (``duckdb`` or
    ``spark``)."""
    # imported here so that `import cmlib.survival` does not load the simulator
    from cmlib import engine
    from cmlib.data import bank, load, load_public

    engine.connect(backend)  # an unknown backend is a ParameterError before any data is read
    from cmlib.data.io import as_table
    from cmlib.data.synthetic import default_features

    if data_source == "wa_churn":
        raw = load_public("wa_churn").frame
        raw = raw[raw["tenure"] > 0].reset_index(drop=True)
        d = pd.DataFrame(
            {
                "account_id": raw.index,
                "duration": raw["tenure"],
                "churn": raw["churned"],
                "segment": raw["contract"],
                "margin_per_month": raw["monthly_charges"],
            }
        )
        X = pd.get_dummies(
            raw[["contract", "internet_service", "payment_method"]], drop_first=True, dtype=float
        )
        X = X.join(raw[["monthly_charges", "senior_citizen", "partner", "dependents"]].astype(float))
        X.columns = [c.replace(" ", "_").replace("(", "").replace(")", "") for c in X.columns]
        return ChurnData(data_source, d.join(X), list(X.columns), "churn")
    world = bank(n_customers, random_state) if data_source == "synthetic" else None
    if world is None:
        # read once, then told apart: a performance panel (validated as one) or one row per customer
        raw = load(data_source, table="performance", validate=False)
        if columns or not {"account_id", "month", "mob", "state"} <= set(raw.columns):
            return customer_table(raw, columns, str(data_source))
    panel = world.performance if world is not None else as_table(raw, "performance")
    panel_table = panel if backend == "duckdb" else engine.table(panel, backend)  # registered once
    d = duration_table(panel_table, backend=backend)
    d["churn"] = d["closure"] + d["prepayment"]
    covariates: list[str] = []
    churn_covariates = None
    terms = None
    if world is not None:
        from cmlib.finance import TERMS

        # the product too: the value model prices a loan with a loan's life table
        terms = world.applications.loc[world.applications["booked"], ["application_id", *TERMS, "product"]]
        terms = terms.rename(columns={"application_id": "account_id"}).reset_index(drop=True)
        apps = world.applications.set_index("application_id").loc[d["account_id"]].reset_index()
        X = default_features(apps)
        covariates = [c for c in X.columns if X[c].nunique() > 1]
        d = pd.concat([d, X[covariates], apps[["segment", "product"]]], axis=1)
        # closure follows price, rewards and use: known at booking (terms) or after the first month (use)
        first = panel[panel["mob"] == 1].set_index("account_id")["spend"]
        # (a loan leaves by prepayment, at its own APR: the flag keeps that apart from the cards' price effect)
        d["apr"], d["loan"] = apps["apr"].to_numpy(), (apps["product"] == "loan").to_numpy(float)
        d["unused_first_month"] = (
            (d["account_id"].map(first).fillna(0.0) <= 0) & (d["product"] == "card")
        ).astype(float)
        extra = [c for c in ("loan", "apr", "unused_first_month") if d[c].nunique() > 1]
        churn_covariates = covariates + extra
    else:
        # a user's panel: what it says of each account in its first month on book is known at booking, so
        # it can explain what follows (product, credit line, a card not used in its first month)
        first = panel.sort_values("mob").groupby("account_id").first().reindex(d["account_id"])
        product = first["product"].astype(str).to_numpy() if "product" in panel else np.full(len(d), "all")
        d["segment"] = d["product"] = product
        X = pd.DataFrame(index=d.index)
        X["loan"] = (d["product"] == "loan").astype(float)
        if "credit_limit" in panel:
            X["log_credit_limit"] = np.log1p(first["credit_limit"].fillna(0.0).clip(lower=0).to_numpy())
        if "spend" in panel:
            X["unused_first_month"] = (
                (first["spend"].fillna(0.0).to_numpy() <= 0) & (product != "loan")
            ).astype(float)
        covariates = [c for c in X.columns if X[c].nunique() > 1]
        d = pd.concat([d, X[covariates]], axis=1)
    retention = world.retention_test if world is not None else None
    return ChurnData(
        data_source,
        d,
        covariates,
        "churn",
        panel,
        world,
        terms,
        churn_covariates,
        retention,
        0,
        panel_table,
        backend,
    )

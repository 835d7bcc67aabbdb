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
    ``covariates``); ``retention_test``: a randomised retention call (None when the source has none)."""

    name: str
    durations: pd.DataFrame
    covariates: list[str]
    event: str
    panel: pd.DataFrame | None = None
    world: Any = None
    terms: pd.DataFrame | None = None
    churn_covariates: list[str] | None = None
    retention_test: pd.DataFrame | None = None


def churn_data(data_source: str, n_customers: int = 100_000, random_state: int = 1) -> ChurnData:
    """Load the notebook's data: ``"synthetic"`` (the simulated bank's performance panel with the
    applications' features as covariates), ``"wa_churn"`` (telco churn, one row per customer, real data) or
    a path to a performance panel (performance schema). Churn = voluntary closure or prepayment."""
    # imported here so that `import cmlib.survival` does not load the simulator
    from cmlib.data import bank, load, load_public
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
    panel = world.performance if world is not None else load(data_source, table="performance")
    d = duration_table(panel)
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
    return ChurnData(data_source, d, covariates, "churn", panel, world, terms, churn_covariates, retention)

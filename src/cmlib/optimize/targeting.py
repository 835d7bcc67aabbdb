"""cmlib.optimize — whom to contact (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmlib.base import BaseEstimator, Result, check_is_fitted
from cmlib.errors import DataError, ParameterError
from cmlib.optimize.uplift import _check_uplift
from cmlib.validation import require_columns


@dataclass(repr=False)
class TargetSelection(Result):
    """``selected``: one row per chosen (customer, channel) contact; ``totals``: counts and expected value
    (``summary`` shows them as a table, ``to_dict`` records them)."""

    selected: pd.DataFrame
    totals: dict

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({"metric": list(self.totals), "value": list(self.totals.values())})

    def to_dict(self) -> dict:
        return dict(self.totals)


def select_targets(
    candidates: pd.DataFrame,
    budget: float,
    max_contacts_per_customer: int = 1,
    customer: str = "customer_id",
    value: str = "expected_value",
    cost: str = "cost",
    eligible: str | None = "eligible",
) -> TargetSelection:
    """Choose contacts under a budget and contact rules: one row per candidate (customer × channel) with
    its expected incremental value, its cost and whether the rules allow it (``eligible``: do-not-contact,
    channel permission, risk cutoff — computed by the caller). Ineligible rows and rows whose value does
    not exceed their cost are never chosen; the rest are taken by net value per unit cost while the budget
    and the per-customer cap allow (the greedy rule is the exact optimum of the fractional knapsack and
    within one item of the integer one)."""
    need = [customer, value, cost] + ([eligible] if eligible else [])
    require_columns(candidates, need, "targeting candidates")
    if budget < 0:
        raise ParameterError("budget", "a non-negative amount", budget)
    if max_contacts_per_customer < 1:
        raise ParameterError("max_contacts_per_customer", "an integer ≥ 1", max_contacts_per_customer)
    if (candidates[cost] < 0).any():
        raise DataError.single(
            "targeting candidates", cost, "non-negative cost", int((candidates[cost] < 0).sum())
        )
    c = candidates
    ok = (c[value] > c[cost]) & (c[eligible].astype(bool) if eligible else True)
    pool = c[ok].assign(_ratio=(c[value] - c[cost]) / c[cost].where(c[cost] > 0, 1e-12))
    pool = pool.sort_values(["_ratio", customer], ascending=[False, True], kind="stable")
    # per-customer cap: keep each customer's best max_contacts rows
    pool = pool[pool.groupby(customer).cumcount() < max_contacts_per_customer]
    within = pool[cost].cumsum() <= budget + 1e-9
    chosen = pool[within].drop(columns="_ratio")
    summ = {
        "contacts": int(len(chosen)),
        "customers": int(chosen[customer].nunique()),
        "spend": float(chosen[cost].sum()),
        "expected_value": float(chosen[value].sum()),
        "expected_net_value": float((chosen[value] - chosen[cost]).sum()),
        "eligible_candidates": int(c[eligible].astype(bool).sum()) if eligible else int(len(c)),
    }
    return TargetSelection(chosen, summ)


class InteractionUplift(BaseEstimator):
    """S-learner with treatment interactions (Lo 2002): one classifier on [X, t, t·X]; uplift =
    P(y | x, t=1) − P(y | x, t=0). The baseline is learnt from treated and control together, so with a
    logistic model it needs far fewer responses than two separate models; ``C`` is the inverse L2 strength."""

    def __init__(self, C: float = 1.0):
        self.C = C

    def _design(self, X, t) -> np.ndarray:
        Z = self.scaler_.transform(self.imputer_.transform(np.asarray(X, float)))
        tt = np.asarray(t, float)[:, None]
        return np.hstack([Z, tt, tt * Z])

    def fit(self, X, treatment, y) -> InteractionUplift:
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        t, y = _check_uplift(X, treatment, y)
        self.imputer_ = SimpleImputer(strategy="median").fit(np.asarray(X, float))
        self.scaler_ = StandardScaler().fit(self.imputer_.transform(np.asarray(X, float)))
        self.model_ = LogisticRegression(C=self.C, max_iter=5000).fit(self._design(X, t), y)
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        n = len(X)
        return (
            self.model_.predict_proba(self._design(X, np.ones(n)))[:, 1]
            - self.model_.predict_proba(self._design(X, np.zeros(n)))[:, 1]
        )

"""cmlib.survival — early warning and retention (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from cmlib.base import Result, TableResult
from cmlib.errors import DataError, ParameterError
from cmlib.finance import DEFAULT_LGD
from cmlib.survival.curves import cumulative_incidence
from cmlib.survival.models import CoxResult
from cmlib.survival.value import lifetime_value
from cmlib.validation import require_columns


@dataclass(repr=False)
class EarlyWarningResult(Result):
    """Next-month probability that an account current today enters 30+ DPD (``scores``, every current
    account of the latest month), and how well the same model, trained a month earlier, ranked last month's
    current accounts (``summary``). The scores come from a refit on all months, made the first time ``scores``
    is read (a report that shows only the backtest does not pay for it)."""

    summary: pd.DataFrame
    score_fn: Callable[[], pd.DataFrame] = field(repr=False)

    @cached_property
    def scores(self) -> pd.DataFrame:
        return self.score_fn()

    def to_dict(self) -> dict:
        return self.summary.iloc[0].to_dict()


#: behaviour the early-warning model reads: none of it says the account is already in arrears
EARLY_WARNING_BEHAVIOUR = ["mob", "utilisation", "utilisation_change_3m"]


def _roll_arrays(panel: pd.DataFrame, account: str) -> tuple[dict, np.ndarray]:
    """Every account-month ordered by account and months on book, as arrays: ``account``, ``month``, ``mob``,
    ``dpd``, ``balance``, ``credit_limit``, next month's DPD (``next_dpd``), ``utilisation`` and its change
    over three months; and the positions of the months the account was current. Arrays through one ordering:
    sorting, assigning and joining a frame copied the panel four times (14M account-months at 10M customers)."""
    acc = panel[account].to_numpy()
    order = np.lexsort((panel["mob"].to_numpy(), acc))  # (account, months on book) is unique: no ties
    acc = acc[order]
    a = {account: acc, "order": order}
    for c in ("month", "mob", "dpd", "balance", "credit_limit"):
        a[c] = panel[c].to_numpy()[order]
    util = np.where(a["credit_limit"] > 0, a["balance"] / a["credit_limit"], 0.0)
    nxt = np.full(len(acc), np.nan)
    same = acc[1:] == acc[:-1]
    nxt[:-1][same] = a["dpd"][1:][same]
    # no value three months back: no change (as the frame's shift and fillna gave)
    change = np.zeros(len(acc))
    back = acc[3:] == acc[:-3]
    change[3:][back] = util[3:][back] - util[:-3][back]
    a.update(utilisation=util, next_dpd=nxt, utilisation_change_3m=change)
    return a, np.flatnonzero((panel["state"] == "current").to_numpy(bool)[order])


def _design_rows(a: dict, features: pd.DataFrame, account: str, rows: np.ndarray) -> np.ndarray:
    """The early-warning design of the account-months ``a`` (:func:`_roll_arrays`) at positions ``rows`` (in
    that order): one float matrix, missing = 0, filled a column at a time. Rows the model learns from are
    placed together, so a fit reads a slice of it instead of a copy (1.6 GB at 10M customers)."""
    pos = features.index.get_indexer(a[account][rows])  # each row's account's features (-1: none)
    X = np.empty((len(rows), len(EARLY_WARNING_BEHAVIOUR) + features.shape[1]))
    for j, c in enumerate(EARLY_WARNING_BEHAVIOUR):
        X[:, j] = a[c][rows]
    for j, c in enumerate(features.columns, start=len(EARLY_WARNING_BEHAVIOUR)):
        X[:, j] = np.where(pos >= 0, features[c].to_numpy(np.float64)[pos], np.nan)
    X[np.isnan(X)] = 0.0
    return X


def early_warning(
    panel: pd.DataFrame,
    features: pd.DataFrame,
    account: str = "account_id",
    dpd: int = 30,
    random_state: int = 0,
) -> EarlyWarningResult:
    """Logistic model of an account current this month entering ``dpd``+ days past due next month, on
    behaviour that does not already encode arrears (:data:`EARLY_WARNING_BEHAVIOUR`) and static ``features``
    (indexed by account). Accounts already in arrears are collections' work, not early warning: a model fed
    their state ranks them first and reports an AUC near 1 that says nothing about the current book.
    Backtest: trained on months before the last complete transition month, it ranks that month's current
    accounts; AUC and the share of entries caught in the top decile are reported. Then refitted on all months
    to score the latest month."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    a, cur = _roll_arrays(panel, account)
    nxt, month = a["next_dpd"][cur], a["month"][cur]
    known, y = ~np.isnan(nxt), (nxt >= dpd).astype(int)
    last = month[known].max()
    train, test = known & (month < last), known & (month == last)
    if len(np.unique(y[train])) < 2 or len(np.unique(y[test])) < 2:
        raise DataError.single(
            "performance",
            "dpd",
            f"current accounts entering {dpd}+ DPD in both training and test months",
            int(y[train].sum() + y[test].sum()),
        )

    def model():
        # Newton steps on the few columns here reach the optimum in ~11 iterations where L-BFGS took ~70 and
        # stopped short of it (tolerance 1e-4)
        return LogisticRegression(solver="newton-cholesky", max_iter=200, random_state=random_state)

    # the training months' rows first, then the backtest month's: each a slice of one matrix
    n_train = int(train.sum())
    X = _design_rows(a, features, account, cur[np.r_[np.flatnonzero(train), np.flatnonzero(test)]])
    del a  # not kept while fitting: the rows are in X
    m = model().fit(X[:n_train], y[train])
    p = m.predict_proba(X[n_train:])[:, 1]
    del X
    top = p >= np.quantile(p, 0.9)
    y_test = y[test]
    summ = pd.DataFrame(
        [
            {
                "backtest_month": pd.Timestamp(last).date(),
                "auc": roc_auc_score(y_test, p),
                "top_decile_capture": y_test[top].sum() / y_test.sum(),
                "entry_rate": y_test.mean(),
                "accounts_scored": int((~known).sum()),
            }
        ]
    )
    # the rows are not kept for the scores (2.5 GB at 10M customers, held as long as the result): rebuilt
    del nxt, month, known, y, train, test

    def score() -> pd.DataFrame:
        a, cur = _roll_arrays(panel, account)
        nxt, month = a["next_dpd"][cur], a["month"][cur]
        known = np.flatnonzero(~np.isnan(nxt))
        latest = np.flatnonzero(month == month.max())
        full = model().fit(_design_rows(a, features, account, cur[known]), (nxt[known] >= dpd).astype(int))
        name = f"p_dpd{dpd}_next_month"
        scores = pd.DataFrame(
            {
                account: a[account][cur[latest]],
                name: full.predict_proba(_design_rows(a, features, account, cur[latest]))[:, 1],
            }
        )
        return scores.sort_values(name, ascending=False).reset_index(drop=True)

    return EarlyWarningResult(summ, score)


def conditional_churn(
    cox_result: CoxResult, current: pd.DataFrame, duration: str, months: int = 3
) -> pd.Series:
    """P(the event within ``months`` | open now at ``duration``) for each row of ``current`` from a Cox fit."""
    cph = cox_result.fitter
    at = current[duration].to_numpy(float)
    sf = cph.predict_survival_function(current, times=[months], conditional_after=at)
    return pd.Series(1 - sf.iloc[0].to_numpy(), index=current.index, name=f"p_event_{months}m")


@dataclass(repr=False)
class RetentionResult(Result):
    """Accounts worth a retention offer: value, churn probability and value at stake (= value × p)."""

    summary: pd.DataFrame

    def to_dict(self) -> dict:
        return {"accounts": len(self.summary), "value_at_stake": float(self.summary["value_at_stake"].sum())}


def retention_targets(
    value: pd.Series, p_churn: pd.Series, min_value_quantile: float = 0.7, min_churn_probability: float = 0.1
) -> RetentionResult:
    """Accounts worth retaining: value in the top (1 − ``min_value_quantile``) and churn probability at
    least ``min_churn_probability``; ``value_at_stake`` = value × churn probability. Sorted by it."""
    if not 0 <= min_value_quantile < 1:
        raise ParameterError("min_value_quantile", "a fraction in [0, 1)", min_value_quantile)
    df = pd.DataFrame({"value": value, "p_churn": p_churn}).dropna()
    sel = df[
        (df["value"] >= df["value"].quantile(min_value_quantile)) & (df["p_churn"] >= min_churn_probability)
    ]
    sel = sel.assign(value_at_stake=sel["value"] * sel["p_churn"])
    return RetentionResult(sel.sort_values("value_at_stake", ascending=False))


@dataclass(repr=False)
class RetentionTestResult(Result):
    """A randomised retention test read on the book: per arm the accounts, the closures within the window
    after the call month and their rate with a Wilson interval (``summary``); ``save_rate`` (closures a call
    prevents per account called: no-call rate − call rate) with a Wald interval; ``relative_reduction``
    (save rate / no-call rate: the share of would-be closures a call prevents); ``cost_per_call``."""

    summary: pd.DataFrame
    save_rate: float
    save_rate_ci: tuple
    relative_reduction: float
    cost_per_call: float
    months: int

    def to_dict(self) -> dict:
        return {
            "save_rate": self.save_rate,
            "save_rate_ci_low": self.save_rate_ci[0],
            "save_rate_ci_high": self.save_rate_ci[1],
            "relative_reduction": self.relative_reduction,
            "cost_per_call": self.cost_per_call,
        }

    def net_value(self, value: pd.Series, p_churn: pd.Series) -> pd.Series:
        """Expected net value of calling each account: P(close within the window) × ``relative_reduction`` ×
        the account's ``value`` − the cost of a call (money). Assumes the call prevents the same share of
        closures for every account, as the test measured it on average."""
        return p_churn * self.relative_reduction * value - self.cost_per_call


def retention_test(
    panel: pd.DataFrame,
    test: pd.DataFrame,
    months: int = 6,
    account: str = "account_id",
    alpha: float = 0.05,
    treated: str = "call",
    control: str = "no_call",
) -> RetentionTestResult:
    """Read a randomised retention test (``test``: ``account``, ``test_month``, ``arm``, ``call_cost``) on the
    monthly ``panel``: an account closed within the window if its ``closed`` month falls in the ``months``
    calendar months from its test month. Defaults are not closures (a competing exit)."""
    from scipy.stats import norm
    from statsmodels.stats.proportion import proportion_confint

    require_columns(test, [account, "test_month", "arm", "call_cost"], "retention_test")
    require_columns(panel, [account, "month", "state"], "performance")
    arms = set(test["arm"].astype(str))
    if not {treated, control} <= arms:
        raise DataError.single(
            "retention_test", "arm", f"both arms present ({treated!r} and {control!r})", len(test)
        )
    closed = panel.loc[panel["state"] == "closed", [account, "month"]].drop_duplicates(account)
    t = test.merge(closed.rename(columns={"month": "closed_month"}), on=account, how="left")
    start = pd.to_datetime(t["test_month"])
    end = start + pd.DateOffset(months=months)
    t["closed"] = t["closed_month"].notna() & (t["closed_month"] >= start) & (t["closed_month"] < end)
    g = t.groupby(t["arm"].astype(str))["closed"].agg(["size", "sum"]).loc[[treated, control]]
    lo, hi = proportion_confint(g["sum"], g["size"], alpha=alpha, method="wilson")
    summary = pd.DataFrame(
        {
            "accounts": g["size"].astype(int),
            "closed_within_window": g["sum"].astype(int),
            "closure_rate": g["sum"] / g["size"],
            "ci_low": lo,
            "ci_high": hi,
        }
    )
    r1, r0 = summary.loc[treated, "closure_rate"], summary.loc[control, "closure_rate"]
    n1, n0 = summary.loc[treated, "accounts"], summary.loc[control, "accounts"]
    se = np.sqrt(r1 * (1 - r1) / n1 + r0 * (1 - r0) / n0)
    z = norm.ppf(1 - alpha / 2)
    save = float(r0 - r1)
    cost = float(t.loc[t["arm"].astype(str) == treated, "call_cost"].mean())
    return RetentionTestResult(
        summary, save, (save - z * se, save + z * se), save / r0 if r0 > 0 else float("nan"), cost, months
    )


def clv_by_segment(
    durations: pd.DataFrame,
    panel: pd.DataFrame,
    by: str,
    horizon: int = 24,
    annual_discount_rate: float = 0.10,
    lgd: float = DEFAULT_LGD,
    loss_lag_months: int = 3,
    account: str = "account_id",
) -> TableResult:
    """Lifetime value per segment from the book's own curves: S(t) = Kaplan–Meier of any exit, the default
    cumulative incidence (Aalen–Johansen) shifted by ``loss_lag_months`` (first 90+ DPD to charge-off), the
    average monthly margin of performing months and the average balance written off at charge-off
    (exposure at default). See :func:`lifetime_value` for the formula and its assumptions."""
    from lifelines import KaplanMeierFitter

    require_columns(durations, [by], "durations")
    rows = []
    for seg, g in durations.groupby(by, sort=True):
        acc = panel[panel[account].isin(g[account])]
        # margin keeps coming while a defaulted account is in arrears: it leaves the book at charge-off
        leave = g["duration"] + np.where(g["cause"] == "default", loss_lag_months, 0)
        kmf = KaplanMeierFitter().fit(leave, g["cause"] != "censored")
        s = kmf.survival_function_.iloc[:, 0]
        cif = cumulative_incidence(g, causes=("default",)).summary
        dflt = cif["default"] if "default" in cif else pd.Series([0.0], index=[0])
        dflt.index = dflt.index + loss_lag_months
        performing = acc[~acc["state"].isin(["charged_off"])]
        co = acc[acc["state"] == "charged_off"]
        ead = (
            float(co["balance"].mean())
            if len(co)
            else float(acc.loc[acc["dpd"] >= 90, "balance"].mean() or 0.0)
        )
        v = lifetime_value(
            s, dflt, float(performing["margin"].mean()), ead, lgd, annual_discount_rate, horizon
        )
        rows.append(
            {
                by: seg,
                "accounts": len(g),
                "margin_per_month": float(performing["margin"].mean()),
                "exposure_at_default": ead,
                **v.to_dict(),
            }
        )
    return TableResult(pd.DataFrame(rows).set_index(by))


def realised_value(
    panel: pd.DataFrame,
    accounts: Sequence,
    horizon: int,
    annual_discount_rate: float = 0.10,
    account: str = "account_id",
) -> float:
    """Average discounted margin (charge-offs included as negative margin) actually earned over the first
    ``horizon`` months by accounts observed that long — the benchmark a CLV estimate must meet."""
    p = panel[panel[account].isin(accounts) & (panel["mob"] <= horizon)]
    disc = (1 + annual_discount_rate) ** (-p["mob"].to_numpy() / 12)
    return float((p["margin"].to_numpy() * disc).sum() / len(set(accounts)))

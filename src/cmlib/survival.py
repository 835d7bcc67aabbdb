"""Survival analysis of a credit book: when customers leave, when accounts go bad, what a customer is worth.

The classical fitters are lifelines' (Kaplan–Meier, Nelson–Aalen, Cox, AFT, Aalen–Johansen); this module
adds what a portfolio needs: duration tables from the monthly performance panel with competing causes and
left truncation, RMST with the variance of the *estimate*, a counts-based path through :mod:`cmlib.engine`
(Kaplan–Meier from event/at-risk counts and a discrete-time cloglog hazard model on aggregated cells) for
books that do not fit in pandas, vintages, roll rates with a Markov projection, lifetime value, early
warning and a retention list. Durations are whole months on book; rates are fractions.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from cmlib import engine
from cmlib.base import Result, TableResult, summary_of
from cmlib.errors import ArtefactError, DataError, ParameterError
from cmlib.finance import DEFAULT_LGD
from cmlib.validation import require_columns

CAUSES = ("default", "closure", "prepayment")
CLV_SCHEMA_VERSION = 1


# --- duration tables -------------------------------------------------------------------------------


def duration_table(
    panel: Any,
    account: str = "account_id",
    mob: str = "mob",
    state: str = "state",
    dpd: str = "dpd",
    default_dpd: int = 90,
    closed_states: Sequence[str] = ("closed",),
    prepaid_states: Sequence[str] = ("prepaid",),
    backend: str = "duckdb",
) -> pd.DataFrame:
    """One row per account from a monthly panel: ``entry`` (months already on book when first observed:
    left truncation), ``duration`` (MOB of the first event, else of the last observed month), ``cause``
    (default = first month at ``default_dpd``+ DPD, closure, prepayment, or censored) and 0/1 flags per cause.

    The aggregation runs in the engine (one row per account comes back). Raises DataError for an account
    whose months have gaps, or non-positive MOBs.
    """
    t = engine.table(panel, backend)
    require_columns(t, [account, mob, state, dpd], "performance")
    per = (
        t.group_by(account)
        .aggregate(
            first_mob=t[mob].min(),
            last_mob=t[mob].max(),
            n_rows=t.count(),
            first_default=ibis.ifelse(t[dpd] >= default_dpd, t[mob], None).min(),
            first_closed=ibis.ifelse(t[state].isin(list(closed_states)), t[mob], None).min(),
            first_prepaid=ibis.ifelse(t[state].isin(list(prepaid_states)), t[mob], None).min(),
        )
        .order_by(account)
    )
    d = engine.execute(per, backend)
    if (d["first_mob"] < 1).any():
        raise DataError.single("performance", mob, "months on book ≥ 1", int((d["first_mob"] < 1).sum()))
    gaps = d["n_rows"] != d["last_mob"] - d["first_mob"] + 1
    if gaps.any():
        raise DataError.single(
            "performance",
            mob,
            "no gaps in an account's months",
            int(gaps.sum()),
            d.loc[gaps, account].head(3).tolist(),
        )
    firsts = d[["first_default", "first_closed", "first_prepaid"]].astype(float)
    ev = firsts.min(axis=1)
    # the earliest cause wins; default first on a tie (it cannot tie with an exit in this panel)
    arr = firsts.fillna(np.inf).to_numpy()
    cause = np.where(ev.isna(), "censored", np.array(CAUSES)[np.argmin(arr, axis=1)])
    out = pd.DataFrame(
        {
            account: d[account],
            "entry": d["first_mob"] - 1,
            "duration": np.where(ev.isna(), d["last_mob"], ev).astype(int),
            "cause": cause,
        }
    )
    if (out["duration"] <= out["entry"]).any():
        raise DataError.single(
            "performance", mob, "entry before exit", int((out["duration"] <= out["entry"]).sum())
        )
    for c in CAUSES:
        out[c] = (out["cause"] == c).astype(int)
    return out


def _check_survival(
    df: pd.DataFrame, duration: str, event: str, entry: str | None = None, table: str = "durations"
):
    require_columns(df, [duration, event, entry], table)
    if (df[duration] <= 0).any():
        raise DataError.single(
            table,
            duration,
            "durations > 0",
            int((df[duration] <= 0).sum()),
            df.loc[df[duration] <= 0, duration].head(3).tolist(),
        )
    bad = ~df[event].isin([0, 1, True, False])
    if bad.any():
        raise DataError.single(
            table, event, "events in {0, 1}", int(bad.sum()), df.loc[bad, event].head(3).tolist()
        )
    if entry and (df[entry] >= df[duration]).any():
        raise DataError.single(table, entry, "entry before exit", int((df[entry] >= df[duration]).sum()))


# --- curves ----------------------------------------------------------------------------------------


@dataclass(repr=False)
class RMSTResult(Result):
    """Restricted mean survival time to ``horizon`` (months), its standard error and ``1 − alpha`` interval."""

    summary: pd.DataFrame
    rmst: float
    se: float
    ci_low: float
    ci_high: float
    horizon: float


def rmst(kmf, horizon: float, alpha: float = 0.05) -> RMSTResult:
    """Restricted mean survival time to ``horizon`` from a fitted KaplanMeierFitter, with the variance of
    the *estimate* (Greenwood-type: Σ A_i² d_i / (n_i (n_i − d_i)), A_i = ∫_{t_i}^{τ} S(u) du) and a
    Wald interval. lifelines' ``return_variance`` gives the variance of survival time instead."""
    sf = kmf.survival_function_.iloc[:, 0]
    et = kmf.event_table
    times = np.append(sf.index.to_numpy(dtype=float), np.inf)
    s = sf.to_numpy()
    # area under the step function from each event time to the horizon
    edges = np.clip(times, 0, horizon)
    areas = s * np.diff(edges)  # area of each step inside [0, horizon]
    total = areas.sum()
    tail = np.cumsum(areas[::-1])[::-1]  # ∫_{t_i}^{τ} S
    var = 0.0
    for i, tt in enumerate(sf.index):
        if tt <= 0 or tt > horizon:
            continue
        d = et.loc[tt, "observed"]
        n = et.loc[tt, "at_risk"]
        if d > 0 and n > d:
            var += tail[i] ** 2 * d / (n * (n - d))
    se = float(np.sqrt(var))
    z = stats.norm.ppf(1 - alpha / 2)
    v = {"rmst": float(total), "se": se, "ci_low": float(total - z * se), "ci_high": float(total + z * se)}
    return RMSTResult(pd.DataFrame([v | {"horizon": float(horizon)}]), **v, horizon=float(horizon))


@dataclass(repr=False)
class CurvesResult(Result):
    """Kaplan–Meier and Nelson–Aalen per group, with medians, RMST and a log-rank test."""

    summary: pd.DataFrame
    fitters: dict
    hazards: dict
    logrank_p: float | None
    horizon: float

    def plot(self, ax=None, ci: bool = True):
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        for name, kmf in self.fitters.items():
            kmf.plot_survival_function(ax=ax, ci_show=ci, label=str(name))
        ax.set_xlabel("months on book")
        ax.set_ylabel("share without the event")
        ax.set_title(
            "Kaplan–Meier curves"
            + (f" (log-rank p = {self.logrank_p:.2g})" if self.logrank_p is not None else "")
        )
        return ax

    def to_dict(self) -> dict:
        return {f"{g}.rmst": float(r) for g, r in self.summary["rmst"].items()}


def curves(
    df: pd.DataFrame,
    duration: str,
    event: str,
    by: str | None = None,
    entry: str | None = None,
    horizon: float | None = None,
    alpha: float = 0.05,
) -> CurvesResult:
    """Kaplan–Meier (with CIs) and Nelson–Aalen per group of ``by``; median survival with its CI, RMST to
    ``horizon`` (default: the largest time observed in every group) with the estimate's CI, and a log-rank
    test across groups. A group without events raises DataError (nothing to estimate)."""
    from lifelines import KaplanMeierFitter, NelsonAalenFitter
    from lifelines.statistics import multivariate_logrank_test
    from lifelines.utils import median_survival_times

    _check_survival(df, duration, event, entry)
    groups = [(None, df)] if by is None else list(df.groupby(by, sort=True))
    if horizon is None:
        horizon = float(min(g[duration].max() for _, g in groups))
    rows, fitters, hazards = [], {}, {}
    for name, g in groups:
        label = "all" if name is None else name
        if g[event].sum() == 0:
            raise DataError.single(
                "durations", event, f"events in every group ({by}={name!r} has none)", len(g)
            )
        kmf = KaplanMeierFitter(alpha=alpha).fit(
            g[duration], g[event], entry=g[entry] if entry else None, label=str(label)
        )
        naf = NelsonAalenFitter(alpha=alpha).fit(
            g[duration], g[event], entry=g[entry] if entry else None, label=str(label)
        )
        med_ci = median_survival_times(kmf.confidence_interval_)
        rm = rmst(kmf, horizon, alpha)
        r, se, lo, hi = rm.rmst, rm.se, rm.ci_low, rm.ci_high
        rows.append(
            {
                "group": label,
                "n": len(g),
                "events": int(g[event].sum()),
                "median": kmf.median_survival_time_,
                "median_ci_low": float(med_ci.iloc[0, 0]),
                "median_ci_high": float(med_ci.iloc[0, 1]),
                "survival_at_horizon": float(kmf.predict(horizon)),
                "rmst": r,
                "rmst_se": se,
                "rmst_ci_low": lo,
                "rmst_ci_high": hi,
            }
        )
        fitters[label], hazards[label] = kmf, naf
    p = None
    if by is not None and len(groups) > 1:
        p = float(multivariate_logrank_test(df[duration], df[by], df[event]).p_value)
    return CurvesResult(pd.DataFrame(rows).set_index("group"), fitters, hazards, p, horizon)


def km_from_counts(counts: pd.DataFrame) -> TableResult:
    """Kaplan–Meier from :func:`cmlib.engine.survival_counts` output (time, n_event, at_risk): S(t) =
    Π (1 − d/n), with Greenwood's variance — the same estimator as lifelines', from counts only."""
    c = counts.sort_values("time")
    d, n = c["n_event"].to_numpy(float), c["at_risk"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.cumprod(1 - np.where(n > 0, d / n, 0.0))
        gw = np.cumsum(np.where((n > d) & (n > 0), d / (n * (n - d)), 0.0))
    return TableResult(pd.DataFrame({"time": c["time"].to_numpy(), "survival": s, "se": s * np.sqrt(gw)}))


# --- models ----------------------------------------------------------------------------------------


@dataclass(repr=False)
class CoxResult(Result):
    """Cox proportional hazards: hazard-ratio table, proportional-hazards test with advice, concordance."""

    summary: pd.DataFrame
    ph_test: pd.DataFrame
    concordance: float
    fitter: Any

    def to_dict(self) -> dict:
        return {f"hr.{k}": float(v) for k, v in self.summary["hazard_ratio"].items()} | {
            "concordance": self.concordance
        }


def cox(
    df: pd.DataFrame,
    duration: str,
    event: str,
    covariates: Sequence[str],
    strata: Sequence[str] | None = None,
    entry: str | None = None,
    alpha: float = 0.05,
    penalizer: float = 0.0,
) -> CoxResult:
    """lifelines CoxPHFitter on ``covariates`` (numeric; one-hot categoricals first), with the hazard-ratio
    table and Schoenfeld-residual proportional-hazards tests (rank time transform); a covariate that fails
    (p < ``alpha``) gets the advice to stratify on it or add its interaction with time."""
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    _check_survival(df, duration, event, entry)
    cols = [duration, event, *covariates, *(strata or []), *([entry] if entry else [])]
    d = df[cols].dropna()
    if len(d) < len(df):
        raise DataError.single("durations", ",".join(covariates), "no missing covariates", len(df) - len(d))
    const = [c for c in covariates if d[c].nunique() < 2]
    if const:
        raise DataError.single("durations", const[0], "a covariate that varies", len(d))
    cph = CoxPHFitter(alpha=alpha, penalizer=penalizer).fit(
        d, duration, event, strata=strata, entry_col=entry
    )
    s = cph.summary
    ci = (
        [c for c in s.columns if c.startswith("exp(coef) lower")][0],
        [c for c in s.columns if c.startswith("exp(coef) upper")][0],
    )
    summ = pd.DataFrame(
        {
            "coef": s["coef"],
            "hazard_ratio": s["exp(coef)"],
            "hr_ci_low": s[ci[0]],
            "hr_ci_high": s[ci[1]],
            "p_value": s["p"],
        }
    )
    ph = proportional_hazard_test(cph, d, time_transform="rank").summary[["test_statistic", "p"]]
    ph = ph.rename(columns={"p": "p_value"})
    ph["proportional"] = ph["p_value"] >= alpha
    ph["advice"] = np.where(ph["proportional"], "ok", "stratify on it, or add its interaction with time")
    return CoxResult(summ, ph, float(cph.concordance_index_), cph)


def time_varying_panel(
    panel: pd.DataFrame,
    durations: pd.DataFrame,
    macro: pd.Series,
    cause: str,
    covariates: pd.DataFrame,
    account: str = "account_id",
) -> pd.DataFrame:
    """Start/stop rows (one per account-month) for a Cox model with a time-varying macro covariate:
    ``start`` = MOB − 1, ``stop`` = MOB, ``event`` 1 in the month of ``cause``; static covariates joined
    from ``covariates`` (indexed by account), the macro value of the calendar month as ``macro``."""
    p = panel[[account, "month", "mob"]].merge(durations[[account, "duration", "cause"]], on=account)
    p = p[p["mob"] <= p["duration"]]
    out = pd.DataFrame(
        {
            "id": p[account].to_numpy(),
            "start": p["mob"].to_numpy() - 1,
            "stop": p["mob"].to_numpy(),
            "event": ((p["mob"] == p["duration"]) & (p["cause"] == cause)).astype(int).to_numpy(),
            "macro": macro.reindex(p["month"]).to_numpy(),
        }
    )
    return out.join(covariates.reindex(p[account]).reset_index(drop=True))


def cox_time_varying(long: pd.DataFrame, covariates: Sequence[str], alpha: float = 0.05) -> TableResult:
    """lifelines CoxTimeVaryingFitter on start/stop rows; returns the hazard-ratio table."""
    from lifelines import CoxTimeVaryingFitter

    ctv = CoxTimeVaryingFitter(alpha=alpha).fit(
        long[["id", "start", "stop", "event", *covariates]],
        id_col="id",
        event_col="event",
        start_col="start",
        stop_col="stop",
    )
    s = ctv.summary
    lo = [c for c in s.columns if c.startswith("exp(coef) lower")][0]
    hi = [c for c in s.columns if c.startswith("exp(coef) upper")][0]
    return TableResult(
        pd.DataFrame(
            {"hazard_ratio": s["exp(coef)"], "hr_ci_low": s[lo], "hr_ci_high": s[hi], "p_value": s["p"]}
        )
    )


@dataclass(repr=False)
class ParametricResult(Result):
    """AFT models compared by AIC; the best one extrapolates survival past the observed horizon."""

    summary: pd.DataFrame
    best: str
    fitters: dict
    data: pd.DataFrame = field(repr=False)

    def survival(self, times: Sequence[float]) -> pd.DataFrame:
        """Population-average predicted survival of each model at ``times`` (rows), models as columns."""
        return pd.DataFrame(
            {
                name: f.predict_survival_function(self.data, times=times).mean(axis=1).to_numpy()
                for name, f in self.fitters.items()
            },
            index=pd.Index(list(times), name="time"),
        )


def parametric(
    df: pd.DataFrame, duration: str, event: str, covariates: Sequence[str] = ()
) -> ParametricResult:
    """Weibull, log-normal and log-logistic AFT models (lifelines) with the covariates; the lowest AIC wins."""
    from lifelines import LogLogisticAFTFitter, LogNormalAFTFitter, WeibullAFTFitter

    _check_survival(df, duration, event)
    d = df[[duration, event, *covariates]].dropna()
    fitters, rows = {}, []
    for name, cls in (
        ("weibull", WeibullAFTFitter),
        ("lognormal", LogNormalAFTFitter),
        ("loglogistic", LogLogisticAFTFitter),
    ):
        f = cls().fit(d, duration, event)
        fitters[name] = f
        rows.append({"model": name, "aic": float(f.AIC_), "log_likelihood": float(f.log_likelihood_)})
    summ = pd.DataFrame(rows).sort_values("aic").reset_index(drop=True)
    return ParametricResult(summ, summ.loc[0, "model"], fitters, d)


def integrated_brier(
    train: pd.DataFrame,
    test: pd.DataFrame,
    duration: str,
    event: str,
    surv: pd.DataFrame,
    times: Sequence[float],
) -> float:
    """Integrated Brier score on hold-out (Graf et al.), with inverse-probability-of-censoring weights from
    the training censoring distribution. ``surv``: predicted survival, rows = ``times``, columns = test rows."""
    from lifelines import KaplanMeierFitter

    cens = KaplanMeierFitter().fit(train[duration], 1 - train[event])

    def g(t):
        v = np.atleast_1d(np.asarray(t, float))
        return np.maximum(
            np.asarray(cens.predict(list(v), interpolate=False), dtype=float).reshape(-1), 1e-12
        )

    T, E = test[duration].to_numpy(float), test[event].to_numpy()
    scores = []
    gT = g(T)
    for k, t in enumerate(times):
        s = surv.iloc[k].to_numpy()
        died = (T <= t) & (E == 1)
        alive = T > t
        scores.append(np.mean(np.where(died, s**2 / gT, 0.0) + np.where(alive, (1 - s) ** 2 / g(t), 0.0)))
    times = np.asarray(times, float)
    return float(np.trapezoid(scores, times) / (times[-1] - times[0]))


# --- competing risks -------------------------------------------------------------------------------


def cumulative_incidence(
    df: pd.DataFrame,
    duration: str = "duration",
    cause: str = "cause",
    causes: Sequence[str] = CAUSES,
    entry: str | None = None,
) -> CumulativeIncidenceResult:
    """Aalen–Johansen cumulative incidence of each cause by month: CIF_k(t) = Σ_{s≤t} S(s−) d_k(s) / n(s),
    with S the all-cause Kaplan–Meier. Unlike 1 − KM with other causes censored, the CIFs add up to the
    probability of any exit. Tied times of different causes are handled exactly (lifelines' fitter
    jitters them at random instead, which makes monthly data non-deterministic). Rows with a cause not in
    ``causes`` are censored."""
    _check_survival(df.assign(_e=df[cause].isin(causes).astype(int)), duration, "_e", entry)
    times = np.sort(df[duration].unique())
    T = df[duration].to_numpy()
    E = df[entry].to_numpy() if entry else np.zeros(len(df))
    n = np.array([((E < t) & (T >= t)).sum() for t in times], dtype=float)
    d = {
        c: np.array([((T == t) & (df[cause].to_numpy() == c)).sum() for t in times], dtype=float)
        for c in causes
    }
    d_all = sum(d.values())
    with np.errstate(divide="ignore", invalid="ignore"):
        haz_all = np.where(n > 0, d_all / n, 0.0)
        s_prev = np.concatenate([[1.0], np.cumprod(1 - haz_all)[:-1]])
        out = {c: np.cumsum(s_prev * np.where(n > 0, d[c] / n, 0.0)) for c in causes if d[c].sum() > 0}
    return CumulativeIncidenceResult(pd.DataFrame(out, index=pd.Index(times, name="time")))


# --- the counts-based path -------------------------------------------------------------------------


def person_period_counts(
    data: Any,
    duration: str,
    event: str,
    by: Sequence[str],
    entry: str | None = None,
    backend: str = "duckdb",
) -> pd.DataFrame:
    """Events and at-risk counts per month × covariate cell, aggregated in the engine: the input of a
    discrete-time hazard model for a book of any size (only cells × months come back).

    Durations are whole months (1, 2, …). At risk in month t: entered before t (``entry`` < t, default 0)
    and not exited before t. Columns: ``time``, the cell columns, ``n_event``, ``at_risk`` (rows with
    nobody at risk are left out)."""
    t = data if isinstance(data, pd.DataFrame) else engine.table(data, backend)
    by = list(by)
    cols = [duration, event, *by] + ([entry] if entry else [])
    require_columns(t, cols, "durations")
    ex = engine.group_counts(t, [*by, duration], event, backend).rename(
        columns={duration: "time", "n": "n_exit"}
    )
    if (ex["time"] <= 0).any():
        raise DataError.single(
            "durations", duration, "durations > 0", int(ex.loc[ex["time"] <= 0, "n_exit"].sum())
        )
    tmax = int(ex["time"].max())
    # one row per cell × month on a dense grid; the cumulative sums over months give the at-risk counts
    grp = ex.groupby(by, sort=True, dropna=False)
    k, keys = grp.ngroup().to_numpy(), grp.size().index.to_frame(index=False)

    def grid(cell: np.ndarray, col: np.ndarray, weights: pd.Series, width: int) -> np.ndarray:
        return np.bincount(
            cell * width + col, weights=weights.to_numpy(float), minlength=len(keys) * width
        ).reshape(len(keys), width)

    ti = ex["time"].to_numpy(int) - 1
    exits, events = grid(k, ti, ex["n_exit"], tmax), grid(k, ti, ex["n_event"], tmax)
    exited_before = np.cumsum(exits, axis=1) - exits
    if entry:
        en = engine.group_counts(t, [*by, entry], backend=backend)
        en = en.merge(keys.assign(_cell=np.arange(len(keys))), on=by)
        entered = grid(en["_cell"].to_numpy(), np.clip(en[entry].to_numpy(int), 0, tmax), en["n"], tmax + 1)
        entered_before = np.cumsum(entered, axis=1)[:, :tmax]  # entry ≤ t − 1, i.e. entry < t
        at_risk = entered_before - exited_before
    else:
        at_risk = exits.sum(axis=1, keepdims=True) - exited_before
    at_risk = np.maximum(at_risk.reshape(-1), 0)
    keep = at_risk > 0
    out = keys.iloc[np.repeat(np.arange(len(keys)), tmax)[keep]].reset_index(drop=True)
    out.insert(0, "time", np.tile(np.arange(1, tmax + 1, dtype=float), len(keys))[keep])
    out["n_event"] = events.reshape(-1)[keep]
    out["at_risk"] = at_risk[keep]
    return out


@dataclass(repr=False)
class DiscreteHazardResult(Result):
    """Discrete-time proportional-hazards (cloglog) model fitted on aggregated person-period cells.

    ``summary``: one row per cell effect (``coef`` = log hazard ratio against the column's first level,
    ``hazard_ratio`` with its Wald CI, ``se``, ``p_value``); ``baseline``: per month or time band, the
    cloglog intercept and the reference cell's monthly hazard."""

    summary: pd.DataFrame
    baseline: pd.DataFrame
    loglik: float
    n_iter: int

    def plot(self, ax=None):
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        self.baseline["hazard"].plot(ax=ax, marker="o")
        ax.set_xlabel("month (or band)")
        ax.set_ylabel("monthly hazard, reference cell")
        return ax

    def to_dict(self) -> dict:
        return {"loglik": self.loglik, "hazard_ratio": self.summary["hazard_ratio"].to_dict()}


def _cloglog_binomial(
    X: np.ndarray, d: np.ndarray, n: np.ndarray, beta: np.ndarray, tol: float = 1e-10, max_iter: int = 100
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Maximum likelihood of d ~ Binomial(n, 1 − exp(−exp(Xβ))) by Fisher scoring with step halving.

    Returns (β, covariance = inverse expected information, log-likelihood without the binomial
    constant, iterations). The same estimator and standard errors as statsmodels' GLM with a CLogLog link
    and ``var_weights`` = n (pinned in the tests), without its per-iteration overhead."""

    def loglik(b):
        mu = np.exp(np.clip(X @ b, -50, 4))  # exp(4) = 55: h = 1 − e^−55 is 1 to double precision
        h = -np.expm1(-mu)
        return float(np.sum(np.where(d > 0, d * np.log(np.where(d > 0, h, 1.0)), 0.0) - (n - d) * mu)), mu, h

    ll, mu, h = loglik(beta)
    it, converged = 0, False
    while not converged and it < max_iter:
        it += 1
        e = np.exp(-mu)
        score = X.T @ (d * mu * e / h - (n - d) * mu)
        info = (X * (n * mu * mu * e / h)[:, None]).T @ X
        step = np.linalg.solve(info, score)
        for _ in range(30):  # halve until the likelihood does not fall
            new_ll, new_mu, new_h = loglik(beta + step)
            if new_ll >= ll - 1e-12 * abs(ll):
                break
            step = step / 2
        beta, converged = beta + step, np.max(np.abs(step)) < tol or abs(new_ll - ll) <= 1e-15 * abs(ll)
        ll, mu, h = new_ll, new_mu, new_h
    if not converged:
        warnings.warn(f"discrete-time hazard fit did not converge in {max_iter} iterations", stacklevel=3)
    e = np.exp(-mu)
    info = (X * (n * mu * mu * e / h)[:, None]).T @ X
    return beta, np.linalg.inv(info), ll, it


def discrete_hazard(
    counts: pd.DataFrame, by: Sequence[str], alpha: float = 0.05, time_bands: Sequence[float] | None = None
) -> DiscreteHazardResult:
    """Binomial model with complementary log-log link on (events, at-risk) per month × cell: a baseline per
    month (or per band of ``time_bands``, intervals closed on the right) plus one effect per level of each
    cell column beyond its first (sorted) level. exp(coef) is a hazard ratio: grouping a continuous
    proportional-hazards model by month gives exactly this model, so it estimates what Cox does.

    Rows sharing a band and a cell share one hazard, so they are summed first (the likelihood depends on
    the data only through those sums): the fit costs bands × cells, whatever the size of the book."""
    by = list(by)
    require_columns(counts, ["time", "n_event", "at_risk", *by], "person-period counts")
    t = counts["time"].to_numpy(float)
    if time_bands is None:
        band_values, band = np.unique(t, return_inverse=True)
        band_labels = [f"{v:g}" for v in band_values]
    else:
        edges = np.array([-np.inf, *sorted(time_bands), np.inf])
        idx = np.searchsorted(edges, t, side="left") - 1  # interval (edges[i], edges[i+1]]
        present, band = np.unique(idx, return_inverse=True)
        band_labels = [f"({edges[i]:g}, {edges[i + 1]:g}]" for i in present]
    codes, levels, key = [], [], band.astype(np.int64)
    for col in by:
        c, lv = pd.factorize(counts[col], sort=True, use_na_sentinel=False)
        codes.append(c)
        levels.append(lv)
        key = key * len(lv) + c
    uniq, inv = np.unique(key, return_inverse=True)
    d = np.bincount(inv, weights=counts["n_event"].to_numpy(float))
    n = np.bincount(inv, weights=counts["at_risk"].to_numpy(float))
    first = np.zeros(len(uniq), dtype=np.int64)
    first[inv[::-1]] = np.arange(len(inv))[::-1]  # a row of each group, to read its band and cell codes
    X = [np.eye(len(band_labels))[band[first]]]
    names = []
    for col, c, lv in zip(by, codes, levels, strict=True):
        X.append(np.eye(len(lv))[c[first]][:, 1:])  # first level is the reference
        names += [f"{col}_{v}" for v in lv[1:]]
    X = np.hstack(X)
    beta0 = np.zeros(X.shape[1])
    p0 = d.sum() / n.sum()
    beta0[: len(band_labels)] = np.log(-np.log1p(-p0))
    beta, cov, ll, it = _cloglog_binomial(X, d, n, beta0)
    se = np.sqrt(np.diag(cov))
    z = stats.norm.ppf(1 - alpha / 2)
    nb = len(band_labels)
    b, s = beta[nb:], se[nb:]
    summary = pd.DataFrame(
        {
            "coef": b,
            "se": s,
            "hazard_ratio": np.exp(b),
            "hr_ci_low": np.exp(b - z * s),
            "hr_ci_high": np.exp(b + z * s),
            "p_value": 2 * stats.norm.sf(np.abs(b / s)),
        },
        index=pd.Index(names, name="effect"),
    )
    baseline = pd.DataFrame(
        {"coef": beta[:nb], "se": se[:nb], "hazard": -np.expm1(-np.exp(beta[:nb]))},
        index=pd.Index(band_labels, name="time"),
    )
    return DiscreteHazardResult(summary, baseline, ll, it)


@dataclass(repr=False)
class VintageResult(Result):
    """Cumulative bad rate by origination cohort (rows) × months on book (columns)."""

    summary: pd.DataFrame

    def to_dict(self) -> dict:
        at12 = self.summary[12].dropna() if 12 in self.summary else pd.Series(dtype=float)
        return {
            "cohorts": len(self.summary),
            "mean_bad_rate_mob12": float(at12.mean()) if len(at12) else float("nan"),
        }

    def plot(self, ax=None):
        """Heat map: cohort × months on book, darker = more accounts gone bad."""
        import matplotlib.pyplot as plt
        import seaborn as sns

        ax = ax or plt.subplots(figsize=(9, 4.5))[1]
        sns.heatmap(
            self.summary,
            cmap="rocket_r",
            ax=ax,
            cbar_kws={"format": plt.FuncFormatter(lambda v, _: f"{v:.0%}")},
        )
        ax.set(
            xlabel="months on book", ylabel="origination cohort", title="Vintage curves: cumulative bad rate"
        )
        return ax


@dataclass(repr=False)
class RollRateResult(Result):
    """Month-to-month transition probabilities between account states (rows sum to 1)."""

    summary: pd.DataFrame

    def to_dict(self) -> dict:
        m = self.summary
        return {
            f"roll_{a}_to_{b}": float(m.loc[a, b])
            for a, b in zip(m.index[:-1], m.columns[1:], strict=False)
            if a in m.index and b in m.columns
        }

    def plot(self, ax=None):
        import matplotlib.pyplot as plt
        import seaborn as sns

        ax = ax or plt.subplots(figsize=(6, 5))[1]
        sns.heatmap(self.summary, annot=True, fmt=".0%", cmap="Blues", cbar=False, ax=ax)
        ax.set(xlabel="state next month", ylabel="state this month", title="Roll rates")
        return ax


@dataclass(repr=False)
class CumulativeIncidenceResult(Result):
    """Aalen–Johansen cumulative incidence per cause (columns) by month (index)."""

    summary: pd.DataFrame

    def to_dict(self) -> dict:
        return {f"cif_end.{c}": float(self.summary[c].iloc[-1]) for c in self.summary.columns}

    def plot(self, ax=None):
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(7, 4))[1]
        self.summary.plot(ax=ax, drawstyle="steps-post")
        ax.set(xlabel="months on book", ylabel="cumulative incidence", title="Competing risks")
        return ax


@dataclass(repr=False)
class RetentionResult(Result):
    """Accounts worth a retention offer: value, churn probability and value at stake (= value × p)."""

    summary: pd.DataFrame

    def to_dict(self) -> dict:
        return {"accounts": len(self.summary), "value_at_stake": float(self.summary["value_at_stake"].sum())}


# --- vintages, roll rates, projection ------------------------------------------------------------


def vintage_curves(
    panel: Any, bad_dpd: int = 90, min_accounts: int = 1, backend: str = "duckdb"
) -> VintageResult:
    """Cumulative bad rate (share of the cohort's accounts that reached ``bad_dpd``+) by origination cohort
    (rows) × months on book (columns); a cell is blank where the cohort is not yet observed."""
    v = engine.vintage_counts(panel, bad_dpd=bad_dpd, backend=backend)
    v = v[v["n_accounts"] >= min_accounts].copy()
    v["cum_bad"] = v.groupby("cohort")["n_new_bad"].cumsum()
    v["cum_bad_rate"] = v["cum_bad"] / v["n_accounts"]
    return VintageResult(v.pivot(index="cohort", columns="mob", values="cum_bad_rate"))


def roll_rate_matrix(
    panel: Any, states: Sequence[str] | None = None, backend: str = "duckdb"
) -> RollRateResult:
    """Month-to-month transition probabilities between states (rows sum to 1; absorbing states stay put)."""
    r = engine.roll_counts(panel, backend=backend)
    m = r.pivot(index="from_state", columns="to_state", values="n").fillna(0.0)
    st = list(states) if states is not None else sorted(set(m.index) | set(m.columns))
    m = m.reindex(index=st, columns=st, fill_value=0.0)
    for s in st:
        if m.loc[s].sum() == 0:
            m.loc[s, s] = 1.0  # absorbing (charged off, closed, prepaid)
    return RollRateResult(m.div(m.sum(axis=1), axis=0))


def markov_projection(matrix: RollRateResult | pd.DataFrame, start: pd.Series, months: int) -> TableResult:
    """Expected accounts per state for the next ``months`` months from counts ``start`` (by state)."""
    if months < 1:
        raise ParameterError("months", "an integer ≥ 1", months)
    matrix = summary_of(matrix)
    x = start.reindex(matrix.index, fill_value=0.0).to_numpy(float)
    P = matrix.to_numpy()
    rows = []
    for _ in range(months):
        x = x @ P
        rows.append(x.copy())
    return TableResult(
        pd.DataFrame(rows, index=pd.RangeIndex(1, months + 1, name="months_ahead"), columns=matrix.index)
    )


# --- value -----------------------------------------------------------------------------------------


@dataclass(repr=False)
class LifetimeValueResult(Result):
    """Lifetime value of an account (portfolio currency, discounted): ``clv`` = ``discounted_margin`` −
    ``expected_loss``, and the expected months open within the horizon."""

    summary: pd.DataFrame
    clv: float
    discounted_margin: float
    expected_loss: float
    expected_lifetime_months: float


def lifetime_value(
    survival: pd.Series,
    default_incidence: pd.Series,
    margin_per_month: float,
    exposure_at_default: float,
    lgd: float = DEFAULT_LGD,
    annual_discount_rate: float = 0.10,
    horizon: int = 60,
) -> LifetimeValueResult:
    """Expected discounted value of a booked account: Σ_t S(t−1)·margin/(1+r)^t − Σ_t f_default(t)·EAD·LGD/(1+r)^t
    over ``horizon`` months, where S is the probability of still being open and f_default the monthly
    increment of the default cumulative incidence. Curves are indexed by month on book; beyond their end
    they are extended flat (S) and with no new defaults, which understates long-run losses — keep the horizon
    inside the data or extend the curves with a parametric fit first."""
    if horizon < 1:
        raise ParameterError("horizon", "months ≥ 1", horizon)
    if not 0 <= lgd <= 1:
        raise ParameterError("lgd", "a fraction in [0, 1]", lgd)
    t = np.arange(1, horizon + 1)
    s = survival.reindex(np.arange(0, horizon + 1), method="ffill").fillna(1.0).to_numpy()
    cif = default_incidence.reindex(np.arange(0, horizon + 1), method="ffill").fillna(0.0).to_numpy()
    disc = (1 + annual_discount_rate) ** (-t / 12)
    revenue = float(np.sum(s[:-1] * margin_per_month * disc))
    loss = float(np.sum(np.diff(cif) * exposure_at_default * lgd * disc))
    v = {
        "clv": revenue - loss,
        "discounted_margin": revenue,
        "expected_loss": loss,
        "expected_lifetime_months": float(s[:-1].sum()),
    }
    return LifetimeValueResult(pd.DataFrame([v]), **v)


def write_clv_artefact(path: str | Path, by_segment: pd.DataFrame, assumptions: dict) -> Path:
    """Versioned JSON artefact of lifetime values per segment (read by cost optimisation)."""
    p = Path(path)
    doc = {
        "schema_version": CLV_SCHEMA_VERSION,
        "kind": "clv",
        "assumptions": assumptions,
        "segments": json.loads(by_segment.reset_index().to_json(orient="records")),
    }
    p.write_text(json.dumps(doc, indent=2))
    return p


def read_clv_artefact(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """Read and check a CLV artefact; ArtefactError when missing, of another kind or schema version."""
    p = Path(path)
    if not p.exists():
        raise ArtefactError(f"CLV artefact not found: {p}")
    try:
        doc = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ArtefactError(f"CLV artefact {p.name} is not valid JSON: {exc}") from None
    if doc.get("kind") != "clv" or doc.get("schema_version") != CLV_SCHEMA_VERSION:
        raise ArtefactError(
            f"CLV artefact {p.name}: expected kind 'clv' schema {CLV_SCHEMA_VERSION}, got "
            f"{doc.get('kind')!r} schema {doc.get('schema_version')!r}"
        )
    return pd.DataFrame(doc["segments"]), doc["assumptions"]


# --- early warning and retention -------------------------------------------------------------------


@dataclass(repr=False)
class EarlyWarningResult(Result):
    """Next-month probability of rolling to 60+ DPD for every performing account, and how well the same
    model, trained a month earlier, ranked last month's accounts."""

    summary: pd.DataFrame
    scores: pd.DataFrame

    def to_dict(self) -> dict:
        return self.summary.iloc[0].to_dict()


def _roll_frame(panel: pd.DataFrame, features: pd.DataFrame, account: str) -> pd.DataFrame:
    p = panel[[account, "month", "mob", "state", "dpd", "balance", "credit_limit"]].copy()
    p["next_dpd"] = p.sort_values([account, "mob"]).groupby(account)["dpd"].shift(-1)
    p = p[p["state"].isin(["current", "dpd30"])]
    p["in_arrears"] = (p["state"] == "dpd30").astype(float)
    p["utilisation"] = np.where(p["credit_limit"] > 0, p["balance"] / p["credit_limit"], 0.0)
    return p.join(features, on=account)


def early_warning(
    panel: pd.DataFrame,
    features: pd.DataFrame,
    account: str = "account_id",
    roll_dpd: int = 60,
    random_state: int = 0,
) -> EarlyWarningResult:
    """Logistic model of rolling from current/30 DPD to ``roll_dpd``+ DPD next month on the account's state,
    months on book, utilisation and static ``features`` (indexed by account). Backtest: trained on months
    before the last complete transition month, it ranks that month's accounts; AUC and the share of rolls
    caught in the top decile are reported. Then refitted on all months to score the latest month."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    f = _roll_frame(panel, features, account)
    cols = ["in_arrears", "mob", "utilisation", *features.columns]
    known = f.dropna(subset=["next_dpd"])
    known = known.assign(y=(known["next_dpd"] >= roll_dpd).astype(int))
    last = known["month"].max()
    train, test = known[known["month"] < last], known[known["month"] == last]
    if train["y"].nunique() < 2 or test["y"].nunique() < 2:
        raise DataError.single(
            "performance",
            "dpd",
            "rolls to 60+ DPD in both training and test months",
            int(train["y"].sum() + test["y"].sum()),
        )

    def model():
        return LogisticRegression(max_iter=2000, random_state=random_state)

    m = model().fit(train[cols].fillna(0), train["y"])
    p = m.predict_proba(test[cols].fillna(0))[:, 1]
    top = p >= np.quantile(p, 0.9)
    summ = pd.DataFrame(
        [
            {
                "backtest_month": last.date(),
                "auc": roc_auc_score(test["y"], p),
                "top_decile_capture": test["y"].to_numpy()[top].sum() / test["y"].sum(),
                "roll_rate": test["y"].mean(),
                "accounts_scored": int(f["next_dpd"].isna().sum()),
            }
        ]
    )
    full = model().fit(known[cols].fillna(0), known["y"])
    latest = f[f["month"] == f["month"].max()]
    scores = pd.DataFrame(
        {
            account: latest[account].to_numpy(),
            f"p_roll_{roll_dpd}_next_month": full.predict_proba(latest[cols].fillna(0))[:, 1],
        }
    )
    return EarlyWarningResult(
        summ, scores.sort_values(f"p_roll_{roll_dpd}_next_month", ascending=False).reset_index(drop=True)
    )


def conditional_churn(
    cox_result: CoxResult, current: pd.DataFrame, duration: str, months: int = 3
) -> pd.Series:
    """P(the event within ``months`` | open now at ``duration``) for each row of ``current`` from a Cox fit."""
    cph = cox_result.fitter
    at = current[duration].to_numpy(float)
    sf = cph.predict_survival_function(current, times=[months], conditional_after=at)
    return pd.Series(1 - sf.iloc[0].to_numpy(), index=current.index, name=f"p_event_{months}m")


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


# --- data sources --------------------------------------------------------------------------------


@dataclass
class ChurnData:
    """What the survival notebook analyses, from any source: ``durations`` (one row per account: duration
    in months, the 0/1 ``event`` column, ``segment``, covariates), the monthly ``panel`` when the source has
    one (None for a one-row-per-customer table), the simulated ``world`` (None otherwise)."""

    name: str
    durations: pd.DataFrame
    covariates: list[str]
    event: str
    panel: pd.DataFrame | None = None
    world: Any = None


def churn_data(data_source: str, n_customers: int = 100_000, random_state: int = 1) -> ChurnData:
    """Load the notebook's data: ``"synthetic"`` (the simulated bank's performance panel with the
    applications' features as covariates), ``"wa_churn"`` (telco churn, one row per customer, real data) or
    a path to a performance panel (performance schema). Churn = voluntary closure or prepayment."""
    # imported here so that `import cmlib.survival` does not load the simulator
    from cmlib.data import load, load_public, simulate_bank
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
    world = (
        simulate_bank(n_customers=n_customers, random_state=random_state)
        if data_source == "synthetic"
        else None
    )
    panel = world.performance if world is not None else load(data_source, table="performance")
    d = duration_table(panel)
    d["churn"] = d["closure"] + d["prepayment"]
    covariates: list[str] = []
    if world is not None:
        apps = world.applications.set_index("application_id").loc[d["account_id"]].reset_index()
        X = default_features(apps)
        covariates = [c for c in X.columns if X[c].nunique() > 1]
        d = pd.concat([d, X[covariates], apps[["segment", "product"]]], axis=1)
    else:
        d["segment"] = "all"
    return ChurnData(data_source, d, covariates, "churn", panel, world)

"""cmlib.survival — curves, competing risks (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from cmlib.base import Result, TableResult
from cmlib.errors import DataError
from cmlib.survival.durations import CAUSES, _check_survival
from cmlib.validation import require_columns


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
    require_columns(counts, ["time", "n_event", "at_risk"], "survival counts")
    c = counts.sort_values("time")
    d, n = c["n_event"].to_numpy(float), c["at_risk"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.cumprod(1 - np.where(n > 0, d / n, 0.0))
        gw = np.cumsum(np.where((n > d) & (n > 0), d / (n * (n - d)), 0.0))
    return TableResult(pd.DataFrame({"time": c["time"].to_numpy(), "survival": s, "se": s * np.sqrt(gw)}))


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
        ax.set(xlabel="months on book", ylabel="cumulative incidence", title="Cumulative incidence by cause")
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        return ax


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
    require_columns(df, [duration, cause, entry], "durations")
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

"""cmlib.survival — the counts-based path (one section of the package; the package re-exports every name)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cmlib import engine
from cmlib.base import Result
from cmlib.errors import DataError
from cmlib.validation import require_columns


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

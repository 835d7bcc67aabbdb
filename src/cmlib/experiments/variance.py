"""cmlib.experiments — balance, CUPED, ratio metrics (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cmlib import engine
from cmlib.errors import DataError, ParameterError
from cmlib.experiments.aggregates import check_arm, is_sums
from cmlib.experiments.lifts import BalanceResult, LiftResult, arm_moments, compare
from cmlib.validation import require_columns


def standardised_mean_difference(mean_arm, mean_control, var_arm, var_control):
    """(mean_arm − mean_control) / sqrt((var_arm + var_control) / 2); 0 where both variances are 0."""
    pooled = np.sqrt((np.asarray(var_arm, float) + np.asarray(var_control, float)) / 2)
    diff = np.asarray(mean_arm, float) - np.asarray(mean_control, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pooled > 0, diff / pooled, 0.0)


def balance(
    data: Any,
    arm: str,
    covariates: Sequence[str],
    control: str,
    threshold: float = 0.1,
    backend: str = "duckdb",
) -> BalanceResult:
    """Standardised mean differences of pre-treatment covariates, each arm against control:
    (mean_arm − mean_control) / sqrt((var_arm + var_control) / 2); |SMD| above ``threshold`` is flagged."""
    m = arm_moments(data, arm, covariates, backend=backend)
    if control not in m.index:
        raise ParameterError("control", f"one of the arms {sorted(map(str, m.index))}", control)
    rows = []
    for c in covariates:
        var = m[f"m2_{c}"] / (m[f"n_{c}"] - 1)
        for a in m.index:
            if a == control:
                continue
            smd = float(
                standardised_mean_difference(
                    m.loc[a, f"mean_{c}"], m.loc[control, f"mean_{c}"], var[a], var[control]
                )
            )
            rows.append(
                {
                    "arm": a,
                    "covariate": c,
                    "mean_control": m.loc[control, f"mean_{c}"],
                    "mean_arm": m.loc[a, f"mean_{c}"],
                    "smd": smd,
                    "balanced": abs(smd) <= threshold,
                }
            )
    return BalanceResult(pd.DataFrame(rows), threshold)


def _comoment_matrix(mm: pd.DataFrame, arm_value, names: Sequence[str]) -> np.ndarray:
    """Σ(w_i − w̄_i)(w_j − w̄_j) of one arm from :func:`cmlib.engine.moments` output (pairs i < j requested)."""
    k = len(names)
    m = np.empty((k, k))
    for i, wi in enumerate(names):
        m[i, i] = mm.loc[arm_value, f"m2_{wi}"]
        for j in range(i + 1, k):
            m[i, j] = m[j, i] = mm.loc[arm_value, f"c_{wi}_{names[j]}"]
    return m


def cuped(
    data: Any,
    arm: str,
    metric: str,
    covariates: Sequence[str],
    control: str,
    alpha: float = 0.05,
    backend: str = "duckdb",
    table: str = "contacts",
) -> LiftResult:
    """CUPED lifts: the metric adjusted by pre-period covariates, ``y − θ'(x − x̄)``, with θ from the
    pooled within-arm covariance (the OLS coefficient of ``y ~ arm + x``), so the adjusted difference
    equals the regression's arm coefficient. Intervals use each arm's adjusted variance.

    Returns :func:`compare`'s columns plus ``variance_reduction`` (1 − adjusted/raw variance of the
    difference) and ``theta``. Rows with a NULL metric or covariate are left out.
    """
    cov_list = list(covariates)
    if not cov_list:
        raise ParameterError("covariates", "at least one pre-period covariate", covariates)
    pairs = [(metric, c) for c in cov_list] + [
        (a, b) for i, a in enumerate(cov_list) for b in cov_list[i + 1 :]
    ]
    if is_sums(data):
        check_arm(data, arm)
        mm = data.moments([metric, *cov_list], pairs=pairs).set_index(arm)
    else:
        t = engine.table(data, backend)
        require_columns(t, [arm, metric, *cov_list], table)
        t = t.filter(t[arm].notnull())
        keep = t[metric].notnull()
        for c in cov_list:
            keep &= t[c].notnull()
        t = t.filter(keep)
        mm = engine.moments(t, [metric, *cov_list], by=[arm], pairs=pairs, backend=backend).set_index(arm)
    mm.attrs["table"] = table
    if control not in mm.index:
        raise ParameterError("control", f"one of the arms {sorted(map(str, mm.index))}", control)

    def sxx(a) -> np.ndarray:
        return _comoment_matrix(mm, a, cov_list)

    def sxy(a) -> np.ndarray:
        return np.array([mm.loc[a, f"c_{metric}_{c}"] for c in cov_list])

    S = sum(sxx(a) for a in mm.index)
    theta = np.linalg.solve(S, sum(sxy(a) for a in mm.index))
    grand = np.array([(mm[f"mean_{c}"] * mm[f"n_{c}"]).sum() / mm[f"n_{c}"].sum() for c in cov_list])
    adj = pd.DataFrame(index=mm.index)
    adj.attrs["table"] = table
    adj[f"n_{metric}"] = mm[f"n_{metric}"]
    xbar = np.column_stack([mm[f"mean_{c}"] for c in cov_list])
    adj[f"mean_{metric}"] = mm[f"mean_{metric}"] - (xbar - grand) @ theta
    adj[f"m2_{metric}"] = [
        mm.loc[a, f"m2_{metric}"] - 2 * theta @ sxy(a) + theta @ sxx(a) @ theta for a in mm.index
    ]
    raw = compare(mm, metric, control, alpha).summary
    out = compare(adj, metric, control, alpha).summary
    raw_w = (raw["abs_ci_high"] - raw["abs_ci_low"]).to_numpy()
    new_w = (out["abs_ci_high"] - out["abs_ci_low"]).to_numpy()
    out["variance_reduction"] = 1 - (new_w / raw_w) ** 2
    out["theta"] = [dict(zip(cov_list, map(float, theta), strict=True))] * len(out)
    out["metric"] = f"{metric} (CUPED)"
    return LiftResult(out)


def ratio_metric(
    data: Any,
    arm: str,
    numerator: str,
    denominator: str,
    control: str,
    alpha: float = 0.05,
    covariates: Sequence[str] = (),
    backend: str = "duckdb",
    table: str = "contacts",
) -> LiftResult:
    """Lift of a ratio metric per arm, Σnumerator / Σdenominator (e.g. spend per activated account),
    with delta-method variance: Var(R̂) ≈ (var(y) − 2R cov(y, x) + R² var(x)) / (n x̄²).

    With ``covariates`` (pre-period values per unit) the ratio is CUPED-adjusted: its linearised variable
    z = (y − R x) / x̄ is regressed on the covariates with θ pooled within arms, R̂ − θ'(w̄_arm − w̄), and
    the variance is that of z − θ'w — all from per-arm sums, no rows needed.

    Returns :func:`compare`'s columns, with ``control_mean``/``arm_mean`` the (adjusted) ratios.
    """
    y, x, ws = numerator, denominator, list(covariates)
    pairs = [
        (y, x),
        *((y, w) for w in ws),
        *((x, w) for w in ws),
        *((a, b) for i, a in enumerate(ws) for b in ws[i + 1 :]),
    ]
    if is_sums(data):
        check_arm(data, arm)
        mm = data.moments([y, x, *ws], pairs=pairs).set_index(arm)
    else:
        t = engine.table(data, backend)
        require_columns(t, [arm, y, x, *ws], table)
        keep = t[arm].notnull() & t[y].notnull() & t[x].notnull()
        for w in ws:
            keep &= t[w].notnull()
        t = t.filter(keep)
        mm = engine.moments(t, [y, x, *ws], by=[arm], pairs=pairs, backend=backend).set_index(arm)
    if (mm[f"mean_{x}"] <= 0).any():
        bad = mm.index[mm[f"mean_{x}"] <= 0]
        raise DataError.single(table, x, "positive denominator total in every arm", len(bad), list(bad))
    n = mm[f"n_{y}"]
    my, mx = mm[f"mean_{y}"], mm[f"mean_{x}"]
    r = my / mx
    # linearised variable z = (y − R x) / x̄ has mean 0 and the ratio's delta-method variance
    m2z = (mm[f"m2_{y}"] - 2 * r * mm[f"c_{y}_{x}"] + r**2 * mm[f"m2_{x}"]) / mx**2
    lin = pd.DataFrame({"n_r": n, "mean_r": r, "m2_r": m2z}, index=mm.index)
    lin.attrs["table"] = table
    label = f"{y} per {x}"
    if ws:
        czw = pd.DataFrame({w: (mm[f"c_{y}_{w}"] - r * mm[f"c_{x}_{w}"]) / mx for w in ws})  # Σ(z−z̄)(w−w̄)

        def sww(a) -> np.ndarray:
            return _comoment_matrix(mm, a, ws)

        theta = np.linalg.solve(sum(sww(a) for a in mm.index), czw.sum().to_numpy())
        wbar = np.column_stack([mm[f"mean_{w}"] for w in ws])
        grand = (wbar * n.to_numpy()[:, None]).sum(axis=0) / n.sum()
        lin["mean_r"] = r - (wbar - grand) @ theta
        lin["m2_r"] = [m2z[a] - 2 * theta @ czw.loc[a].to_numpy() + theta @ sww(a) @ theta for a in mm.index]
        label += " (CUPED)"
    out = compare(lin, "r", control, alpha).summary
    out["metric"] = label
    return LiftResult(out)

"""cmlib.experiments — sequential testing (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from cmlib import engine
from cmlib.errors import DataError, ParameterError
from cmlib.experiments.aggregates import check_arm, is_sums
from cmlib.experiments.lifts import LiftResult, SequentialResult, _z, arm_moments, compare, holm
from cmlib.validation import require_columns


def msprt_pvalues(lifts: Sequence[float], ses: Sequence[float], tau: float) -> np.ndarray:
    """Always-valid p-values of a mixture sequential probability ratio test (Johari et al. 2017) at each
    look, for a normal lift estimate with standard error ``se`` and a N(0, τ²) mixing prior on the lift.

    Λ = sqrt(V / (V + τ²)) · exp(τ² d² / (2V(V + τ²))), V = se²; p_k = min(1, min_{j≤k} 1/Λ_j). Rejecting
    when p < α keeps the false-positive rate ≤ α however often the analyst looks.
    """
    if tau <= 0:
        raise ParameterError("tau", "a positive prior scale (metric units)", tau)
    d, v = np.asarray(lifts, float), np.asarray(ses, float) ** 2
    log_lr = 0.5 * np.log(v / (v + tau**2)) + tau**2 * d**2 / (2 * v * (v + tau**2))
    return np.minimum.accumulate(np.minimum(1.0, np.exp(-log_lr)))


def obrien_fleming_bounds(information_fractions: Sequence[float], alpha: float = 0.05) -> np.ndarray:
    """Two-sided z boundaries of a group-sequential design with Lan–DeMets O'Brien–Fleming alpha spending,
    α(t) = 2 − 2Φ(z_{α/2}/√t), at the given information fractions (increasing, last = 1).

    Look k's boundary c_k solves P(no crossing before k, |Z_k| ≥ c_k) = α(t_k) − α(t_{k−1}). The crossing
    probabilities come from the recursive numerical integration of Armitage, McPherson and Rowe (1969): the
    score S = Z·√t has independent normal increments, so the density of S among paths not yet stopped is
    carried from look to look by a normal convolution on a fine grid (Simpson's rule). Deterministic, and
    accurate to about 1e-9 in the probabilities. Crossing at look k stops the test.
    """
    from scipy.optimize import brentq

    t = np.asarray(information_fractions, float)
    if len(t) == 0 or np.any(np.diff(t) <= 0) or t[-1] != 1 or t[0] <= 0:
        raise ParameterError(
            "information_fractions", "increasing fractions in (0, 1] ending at 1", list(information_fractions)
        )
    _z(alpha)
    spend = 2 - 2 * stats.norm.cdf(stats.norm.ppf(1 - alpha / 2) / np.sqrt(t))
    bounds = [float(stats.norm.isf(spend[0] / 2))]
    if len(t) == 1:
        return np.array(bounds)

    def grid(half: float, n: int = 1201):
        """Simpson nodes and weights on (−half, half)."""
        x = np.linspace(-half, half, n)
        w = np.full(n, 2.0)
        w[1::2] = 4.0
        w[0] = w[-1] = 1.0
        return x, w * (x[1] - x[0]) / 3

    # density of S at look 1 on the continuation region
    x, w = grid(bounds[0] * np.sqrt(t[0]))
    f = stats.norm.pdf(x, scale=np.sqrt(t[0]))
    for k in range(1, len(t)):
        sd = np.sqrt(t[k] - t[k - 1])
        mass = f * w
        target = spend[k] - spend[k - 1]

        def crossing(c, mass=mass, sd=sd, tk=t[k], x=x):
            edge = c * np.sqrt(tk)
            return float(mass @ (stats.norm.sf((edge - x) / sd) + stats.norm.cdf((-edge - x) / sd)))

        c = brentq(lambda c, tg=target: crossing(c) - tg, 0.5, 12.0, xtol=1e-10)
        bounds.append(float(c))
        nx, nw = grid(c * np.sqrt(t[k]))
        f = stats.norm.pdf((nx[:, None] - x[None, :]) / sd) / sd @ mass
        x, w = nx, nw
    return np.array(bounds)


def segment_lifts(
    data: Any,
    arm: str,
    metric: str,
    by: str,
    control: str,
    alpha: float = 0.05,
    backend: str = "duckdb",
    table: str = "contacts",
) -> LiftResult:
    """Lift of ``metric`` per segment (risk band, channel, customer segment), Holm-adjusted across all
    segment × arm comparisons so that a 'win in one segment' is not a multiple-testing artefact.
    Segments where an arm has fewer than two rows are left out (listed in ``skipped``)."""
    if is_sums(data):  # the sums grouped by the segment as well as the arm
        check_arm(data, arm)
        m = data.filter(data.frame[by].notna()).moments([metric], by=[by, arm])
    else:
        t = engine.table(data, backend)
        require_columns(t, [arm, metric, by], table)
        m = engine.moments(
            t.filter(t[arm].notnull() & t[by].notnull()), [metric], by=[by, arm], backend=backend
        )
    parts = []
    for seg, g in m.groupby(by, sort=True):
        g = g.set_index(arm)
        if control not in g.index or (g[f"n_{metric}"] < 2).any() or len(g) < 2:
            continue
        try:
            r = compare(g, metric, control, alpha).summary
        except DataError:
            continue  # no variance in this segment: nothing to test
        r.insert(0, "segment", seg)
        parts.append(r)
    if not parts:
        raise DataError.single(table, by, "a segment with every arm populated", 0)
    out = pd.concat(parts, ignore_index=True)
    out["p_adjusted"] = holm(out["p_value"].to_numpy())
    return LiftResult(out)


def sequential(
    data: Any,
    arm: str,
    metric: str,
    control: str,
    time: str,
    n_looks: int = 10,
    tau_rel: float = 0.2,
    alpha: float = 0.05,
    backend: str = "duckdb",
    table: str = "contacts",
) -> SequentialResult:
    """The readout as it would have looked at ``n_looks`` evenly spaced points of ``time`` (e.g. the
    contact date): per look and arm the lift and three decisions — a naive fixed-horizon p-value (which
    inflates false positives when looked at repeatedly), the always-valid mSPRT p-value (mixing scale
    τ = ``tau_rel`` × the control mean at the final look), and the O'Brien–Fleming group-sequential
    boundary at the information fraction reached (share of final control-arm size)."""
    if n_looks < 1:
        raise ParameterError("n_looks", "an integer ≥ 1", n_looks)
    if is_sums(data):  # sums grouped by the time as well as the arm (e.g. per contact date)
        check_arm(data, arm)
        data.require([metric], by=[time])
        when = pd.to_datetime(data.frame[time])
        lim = {"lo": when.min(), "hi": when.max()}
    else:
        t = engine.table(data, backend)
        require_columns(t, [arm, metric, time], table)
        lim = engine.execute(t.aggregate(lo=t[time].min(), hi=t[time].max()), backend).iloc[0]
    cuts = pd.date_range(lim["lo"], lim["hi"], periods=n_looks + 1)[1:] if n_looks > 1 else [lim["hi"]]
    rows = []
    for k, cut in enumerate(cuts, start=1):
        if is_sums(data):
            sub = data.filter(when <= pd.Timestamp(cut))
        else:
            sub = t.filter(t[time] <= ibis.literal(pd.Timestamp(cut)).cast(t[time].type()))
        m = arm_moments(sub, arm, [metric], backend=backend, table=table)
        c = compare(m, metric, control, alpha).summary
        c.insert(0, "look", k)
        c.insert(1, "up_to", pd.Timestamp(cut))
        rows.append(c)
    seq = pd.concat(rows, ignore_index=True)
    z = stats.norm.ppf(1 - alpha / 2)
    seq["se"] = (seq["abs_ci_high"] - seq["abs_ci_low"]) / (2 * z)
    final_n = seq.loc[seq["look"] == seq["look"].max(), "n_control"].max()
    tau = tau_rel * abs(seq.loc[seq["look"] == seq["look"].max(), "control_mean"].iloc[0]) or 1e-9
    seq["info_fraction"] = seq["n_control"] / final_n
    fracs = seq.groupby("look")["info_fraction"].max().to_numpy()
    fracs = np.maximum.accumulate(np.clip(fracs, 1e-6, 1.0))
    fracs = fracs + np.arange(len(fracs)) * 1e-9  # strictly increasing even if a look adds nobody
    fracs[-1] = 1.0
    bounds = obrien_fleming_bounds(fracs, alpha) if len(fracs) > 1 else np.array([z])
    seq["obf_bound"] = bounds[seq["look"].to_numpy() - 1]
    seq["naive_significant"] = seq["p_value"] < alpha
    seq["obf_significant"] = (seq["abs_lift"].abs() / seq["se"]) >= seq["obf_bound"]
    seq["msprt_p"] = np.nan
    for _arm, g in seq.groupby("arm"):
        seq.loc[g.index, "msprt_p"] = msprt_pvalues(g["abs_lift"], g["se"], tau)
    seq["msprt_significant"] = seq["msprt_p"] < alpha
    return SequentialResult(
        seq[
            [
                "look",
                "up_to",
                "arm",
                "n_control",
                "n_arm",
                "abs_lift",
                "se",
                "p_value",
                "naive_significant",
                "msprt_p",
                "msprt_significant",
                "info_fraction",
                "obf_bound",
                "obf_significant",
            ]
        ]
    )

"""A/B test readouts on sufficient statistics: lifts with CIs, sample-ratio mismatch, funnel lifts,
credit-risk guardrails (one-sided non-inferiority) and a ship / do-not-ship / keep-running decision.

Every statistic is computed from per-arm (n, mean, M2) produced by :func:`cmlib.engine.moments`, so a
readout of tens of millions of rows costs one aggregation query. Intervals are Wald intervals with
unequal variances (normal approximation, as experimentation platforms use at these sample sizes);
relative lifts use the delta method. Rates are fractions.

Not yet here (tracked in the A/B testing issue): power and sample-size design, CUPED, Bayesian readout,
sequential testing, covariate balance beyond the SRM check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import ndtr, ndtri

from cmlib import engine
from cmlib.base import Result, TableResult, summary_of
from cmlib.errors import DataError, ParameterError
from cmlib.validation import require_columns


def arm_moments(
    data: Any, arm: str, metrics: Sequence[str], backend: str = "duckdb", table: str = "contacts"
) -> pd.DataFrame:
    """Per arm: ``n_<m>``, ``mean_<m>``, ``m2_<m>`` for each metric (NULL rows excluded per metric).

    Raises DataError when a metric column is missing, fewer than two arms have rows, or an arm is empty.
    """
    t = engine.table(data, backend)
    require_columns(t, [arm, *metrics], table)
    t = t.filter(t[arm].notnull())
    m = engine.moments(t, list(metrics), by=[arm], backend=backend).set_index(arm)
    if len(m) < 2:
        raise DataError.single(table, arm, "at least two arms", len(m), list(m.index))
    return m


def _z(alpha: float, two_sided: bool = True) -> float:
    if not 0 < alpha < 0.5:
        raise ParameterError("alpha", "a fraction in (0, 0.5)", alpha)
    return float(ndtri(1 - alpha / 2 if two_sided else 1 - alpha))


def is_binary(m: pd.DataFrame, metric: str) -> bool:
    """True when every arm's moments are those of 0/1 data (M2 = n·p·(1−p), 0 ≤ p ≤ 1)."""
    n, p, m2 = m[f"n_{metric}"], m[f"mean_{metric}"], m[f"m2_{metric}"]
    return bool(((p >= 0) & (p <= 1) & np.isclose(m2, n * p * (1 - p), rtol=1e-6, atol=1e-9)).all())


@dataclass(repr=False)
class LiftResult(Result):
    """Each arm against control on one metric: ``summary`` has one row per arm (and segment or look, where
    the analysis has them) with the means, the absolute lift (``abs_lift``, in the metric's units: points
    of a rate), the relative lift and their intervals, and the p-value."""

    summary: pd.DataFrame

    def to_dict(self) -> dict:
        return {f"{r.arm}.{r.metric}.abs_lift": float(r.abs_lift) for r in self.summary.itertuples()}

    def plot(self, ax=None):
        """Absolute lift per arm with its interval."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(7, 3.5))[1]
        s = self.summary
        label = (
            s["arm"].astype(str)
            if "segment" not in s
            else s["segment"].astype(str) + " · " + s["arm"].astype(str)
        )
        ax.errorbar(
            s["abs_lift"],
            label,
            xerr=[s["abs_lift"] - s["abs_ci_low"], s["abs_ci_high"] - s["abs_lift"]],
            fmt="o",
        )
        ax.axvline(0, color="grey", lw=1)
        ax.set(xlabel=f"lift in {s['metric'].iloc[0]} vs control (absolute)", title="Lift against control")
        return ax


@dataclass(repr=False)
class GuardrailResult(Result):
    """One-sided non-inferiority per arm: ``bound`` (the worst plausible difference) against ``margin``."""

    summary: pd.DataFrame

    def to_dict(self) -> dict:
        return {f"{r.arm}.{r.metric}.passed": bool(r.passed) for r in self.summary.itertuples()}


@dataclass(repr=False)
class BalanceResult(Result):
    """Standardised mean differences of pre-treatment covariates per arm against control; a covariate is
    balanced when |SMD| ≤ ``threshold``."""

    summary: pd.DataFrame
    threshold: float = 0.1

    def to_dict(self) -> dict:
        return {
            "max_abs_smd": float(self.summary["smd"].abs().max()),
            "balanced": bool(self.summary["balanced"].all()),
        }


@dataclass(repr=False)
class BayesianResult(Result):
    """Chance to beat control and expected loss of shipping each arm."""

    summary: pd.DataFrame

    def to_dict(self) -> dict:
        return {
            f"{r.arm}.chance_to_beat_control": float(r.chance_to_beat_control)
            for r in self.summary.itertuples()
        }


@dataclass(repr=False)
class SequentialResult(Result):
    """The readout at each interim look: naive, mSPRT and O'Brien–Fleming decisions per arm."""

    summary: pd.DataFrame

    def to_dict(self) -> dict:
        s = self.summary
        return {
            "naive_significant_looks": int(s["naive_significant"].sum()),
            "msprt_significant_looks": int(s["msprt_significant"].sum()),
            "obf_significant_looks": int(s["obf_significant"].sum()),
        }

    def plot(self, ax=None):
        """mSPRT p-value per look and arm."""
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(7, 3.5))[1]
        for arm, g in self.summary.groupby("arm", sort=True):
            ax.plot(g["look"], g["msprt_p"], marker="o", label=str(arm))
        ax.set(
            xlabel="look", ylabel="always-valid p-value (mSPRT)", yscale="log", title="Sequential read-out"
        )
        ax.legend()
        return ax


def compare(
    m: pd.DataFrame, metric: str, control: str, alpha: float = 0.05, interval: str = "wald"
) -> LiftResult:
    """Each arm against ``control`` on ``metric``: absolute and relative lift with Wald/delta-method CIs
    and a two-sided z-test p-value (unequal variances).

    ``interval="agresti_caffo"`` (0/1 metrics only) centres and scales the absolute-lift interval on
    rates with one success and one failure added to each arm, which keeps its coverage for rare events
    and small arms — where a Wald interval collapses to a point when an arm has no events.

    ``m`` is :func:`arm_moments` output. Columns: arm, metric, n_control, n_arm, control_mean, arm_mean,
    abs_lift, abs_ci_low, abs_ci_high, rel_lift, rel_ci_low, rel_ci_high, p_value.
    """
    if interval not in ("wald", "agresti_caffo"):
        raise ParameterError("interval", "'wald' or 'agresti_caffo'", interval)
    if interval == "agresti_caffo" and not is_binary(m, metric):
        raise ParameterError("interval", f"'wald' for the non-binary metric {metric!r}", interval)
    if control not in m.index:
        raise ParameterError("control", f"one of the arms {sorted(map(str, m.index))}", control)
    z = _z(alpha)
    arms = list(m.index)
    n = m[f"n_{metric}"].to_numpy(dtype=float)
    mean = m[f"mean_{metric}"].to_numpy(dtype=float)
    m2 = m[f"m2_{metric}"].to_numpy(dtype=float)
    if (n < 2).any():
        small = [a for a, k in zip(arms, n, strict=True) if k < 2]
        raise DataError.single("contacts", metric, "at least two rows per arm", len(small), small)
    # vectorised over arms: this runs inside simulations and sequential looks
    c = arms.index(control)
    t = np.array([i for i in range(len(arms)) if i != c], dtype=int)
    var = m2 / (n - 1) / n  # variance of each arm's mean
    d = mean[t] - mean[c]
    se = np.sqrt(var[t] + var[c])
    centre = d
    if interval == "agresti_caffo":
        pt = (mean[t] * n[t] + 1) / (n[t] + 2)
        pc = (mean[c] * n[c] + 1) / (n[c] + 2)
        centre = pt - pc
        se = np.sqrt(pt * (1 - pt) / (n[t] + 2) + pc * (1 - pc) / (n[c] + 2))
    if (se == 0).any():
        raise DataError.single(
            "contacts", metric, "non-zero variance in the compared arms", int(n[c] + n[t][se == 0].sum())
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(mean[c] != 0, mean[t] / mean[c] - 1, np.nan)
        se_r = np.where(
            mean[c] != 0, np.sqrt(var[t] / mean[c] ** 2 + mean[t] ** 2 * var[c] / mean[c] ** 4), np.nan
        )
    return LiftResult(
        pd.DataFrame(
            {
                "arm": [arms[i] for i in t],
                "metric": metric,
                "n_control": int(n[c]),
                "n_arm": n[t].astype(int),
                "control_mean": mean[c],
                "arm_mean": mean[t],
                "abs_lift": d,
                "abs_ci_low": centre - z * se,
                "abs_ci_high": centre + z * se,
                "rel_lift": r,
                "rel_ci_low": r - z * se_r,
                "rel_ci_high": r + z * se_r,
                "p_value": 2 * ndtr(-np.abs(centre / se)),
            }
        )
    )


def holm(p: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control)."""
    p = np.asarray(p, dtype=float)
    order = np.argsort(p)
    k = len(p)
    adj = np.empty(k)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (k - rank) * p[i])
        adj[i] = min(running, 1.0)
    return adj


@dataclass(repr=False)
class SRMResult(Result):
    """Sample-ratio mismatch check: observed vs expected allocation, chi-square p-value."""

    summary: pd.DataFrame
    p_value: float
    threshold: float

    @property
    def passed(self) -> bool:
        return self.p_value >= self.threshold

    def to_dict(self) -> dict:
        return {"srm_p_value": self.p_value, "srm_passed": float(self.passed)}


def srm_check(counts: pd.Series, expected_shares: dict | None = None, threshold: float = 0.001) -> SRMResult:
    """Chi-square test of the arm counts against the planned allocation (equal by default).

    A strict default threshold (p < 0.001) is usual: with big samples, a real mismatch is far below it.
    """
    counts = counts.astype(float)
    if (counts < 0).any():
        raise DataError.single("contacts", "arm", "non-negative counts", int((counts < 0).sum()))
    if (counts == 0).any():
        raise DataError.single(
            "contacts",
            "arm",
            "every arm has contacts",
            int((counts == 0).sum()),
            list(counts.index[counts == 0]),
        )
    shares = pd.Series(expected_shares or {a: 1 / len(counts) for a in counts.index}).reindex(counts.index)
    if shares.isna().any() or not np.isclose(shares.sum(), 1.0):
        raise ParameterError("expected_shares", "a share per arm summing to 1", expected_shares)
    expected = shares * counts.sum()
    chi2, p = stats.chisquare(counts.to_numpy(), expected.to_numpy())
    s = pd.DataFrame(
        {
            "n": counts.astype(int),
            "expected_n": expected,
            "observed_share": counts / counts.sum(),
            "planned_share": shares,
        }
    )
    return SRMResult(s, float(p), threshold)


@dataclass(repr=False)
class FunnelResult(Result):
    """Lift at every funnel stage, per contacted customer and conditional on the previous stage."""

    summary: pd.DataFrame
    alpha: float
    stages: list[str] = field(default_factory=list)

    def plot(self, ax=None):
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        s = self.summary[self.summary["basis"] == "per_contacted"]
        arms = list(dict.fromkeys(s["arm"]))
        width = 0.8 / max(len(arms), 1)
        x = np.arange(len(self.stages))
        for i, a in enumerate(arms):
            g = s[s["arm"] == a].set_index("metric").reindex(self.stages)
            err = np.vstack([g["rel_lift"] - g["rel_ci_low"], g["rel_ci_high"] - g["rel_lift"]])
            ax.bar(x + i * width - 0.4 + width / 2, g["rel_lift"], width, yerr=err, capsize=3, label=a)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(x, self.stages)
        ax.set_ylabel("relative lift vs control")
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        ax.legend(title="arm")
        ax.set_title(f"Funnel lift per contacted customer ({1 - self.alpha:.0%} CI)")
        return ax

    def to_dict(self) -> dict:
        s = self.summary[self.summary["basis"] == "per_contacted"]
        return {f"{r.arm}.{r.metric}.rel_lift": r.rel_lift for r in s.itertuples()}


def funnel_lifts(
    data: Any, arm: str, stages: Sequence[str], control: str, alpha: float = 0.05, backend: str = "duckdb"
) -> FunnelResult:
    """Lifts at each stage: ``per_contacted`` (stage rate over all contacts) and ``conditional`` (rate
    among those who reached the previous stage), Holm-adjusted across arms × stages per basis."""
    t = engine.table(data, backend)
    t = t.filter(t[arm].notnull())
    cols = {}
    for i, s in enumerate(stages):
        cols[f"pc_{s}"] = t[s].cast("float64")
        if i:
            prev = stages[i - 1]
            cols[f"cd_{s}"] = ibis.ifelse(t[prev].cast("boolean"), t[s].cast("float64"), None)
    t2 = t.mutate(**cols)
    m = arm_moments(t2, arm, list(cols), backend=backend)
    parts = []
    for key in cols:
        basis = "per_contacted" if key.startswith("pc_") else "conditional"
        r = compare(m, key, control, alpha).summary
        r["metric"] = key[3:]
        r["basis"] = basis
        parts.append(r)
    out = pd.concat(parts, ignore_index=True)
    out["p_adjusted"] = np.nan
    for _basis, g in out.groupby("basis"):
        out.loc[g.index, "p_adjusted"] = holm(g["p_value"].to_numpy())
    cols_order = [
        "basis",
        "metric",
        "arm",
        "n_control",
        "n_arm",
        "control_mean",
        "arm_mean",
        "abs_lift",
        "abs_ci_low",
        "abs_ci_high",
        "rel_lift",
        "rel_ci_low",
        "rel_ci_high",
        "p_value",
        "p_adjusted",
    ]
    return FunnelResult(out[cols_order], alpha, list(stages))


def non_inferiority(
    m: pd.DataFrame,
    metric: str,
    control: str,
    margin: float,
    alpha: float = 0.05,
    higher_is_worse: bool = True,
) -> GuardrailResult:
    """One-sided non-inferiority of each arm against control on a risk metric (Agresti–Caffo bounds for
    0/1 metrics, Wald otherwise).

    With ``higher_is_worse`` (delinquency, loss) an arm passes when the upper ``1 − alpha`` bound of
    (arm − control) is below ``margin``; otherwise when the lower bound is above ``−margin``.
    """
    if margin <= 0:
        raise ParameterError("margin", "a positive number (in the metric's units)", margin)
    # a two-sided 1-2α interval's ends are one-sided 1-α bounds; 0/1 risk metrics are rare events
    interval = "agresti_caffo" if is_binary(m, metric) else "wald"
    c = compare(m, metric, control, alpha=2 * alpha, interval=interval).summary
    if higher_is_worse:
        c["bound"] = c["abs_ci_high"]
        c["passed"] = c["bound"] < margin
    else:
        c["bound"] = c["abs_ci_low"]
        c["passed"] = c["bound"] > -margin
    c["margin"] = margin
    return GuardrailResult(
        c[
            [
                "arm",
                "metric",
                "n_control",
                "n_arm",
                "control_mean",
                "arm_mean",
                "abs_lift",
                "bound",
                "margin",
                "passed",
            ]
        ]
    )


@dataclass(repr=False)
class Decision(Result):
    """Per arm: ship, do not ship or keep running, with the reasons."""

    summary: pd.DataFrame

    def to_dict(self) -> dict:
        return {f"{r.arm}.ship": float(r.decision == "ship") for r in self.summary.itertuples()}


def decide(
    primary: LiftResult | pd.DataFrame,
    guardrails: Sequence[GuardrailResult | pd.DataFrame],
    srm: SRMResult,
    alpha: float = 0.05,
    balance_table: BalanceResult | pd.DataFrame | None = None,
) -> Decision:
    """Combine the primary metric (Holm across arms), guardrails, the SRM check and covariate balance into a
    decision per arm.

    Rules, in order: SRM fails, or an arm's pre-treatment covariates are out of balance (``balance_table``
    from :func:`balance`) → keep running (the readout cannot be trusted); any guardrail not shown
    non-inferior → do not ship; a significant positive primary lift → ship; a significant negative one →
    do not ship; otherwise → keep running (not enough evidence yet).
    """
    primary, guardrails = summary_of(primary), [summary_of(g) for g in guardrails]
    balance_table = None if balance_table is None else summary_of(balance_table)
    p_adj = holm(primary["p_value"].to_numpy())
    rows = []
    for (_, r), pa in zip(primary.iterrows(), p_adj, strict=True):
        reasons = []
        failed = [
            g.loc[g["arm"] == r["arm"]].iloc[0]
            for g in guardrails
            if not g.loc[g["arm"] == r["arm"], "passed"].all()
        ]
        unbalanced = (
            []
            if balance_table is None
            else balance_table.loc[
                (balance_table["arm"] == r["arm"]) & ~balance_table["balanced"], "covariate"
            ].tolist()
        )
        if not srm.passed:
            verdict = "keep running"
            reasons.append(
                f"sample-ratio mismatch (p = {srm.p_value:.2g}): fix assignment before reading results"
            )
        elif unbalanced:
            verdict = "keep running"
            reasons.append(
                f"pre-treatment imbalance in {', '.join(map(str, unbalanced))}: check randomisation"
            )
        elif failed:
            verdict = "do not ship"
            for f in failed:
                reasons.append(
                    f"guardrail {f['metric']}: worse by up to {f['bound']:.2%} (margin {f['margin']:.2%})"
                )
        elif pa < alpha and r["abs_lift"] > 0:
            verdict = "ship"
            reasons.append(f"{r['metric']} up {r['rel_lift']:.1%} (adjusted p = {pa:.2g}); guardrails hold")
        elif pa < alpha:
            verdict = "do not ship"
            reasons.append(f"{r['metric']} down {r['rel_lift']:.1%} (adjusted p = {pa:.2g})")
        else:
            verdict = "keep running"
            reasons.append(f"{r['metric']} lift {r['rel_lift']:.1%} not significant (adjusted p = {pa:.2g})")
        rows.append(
            {
                "arm": r["arm"],
                "decision": verdict,
                "reason": "; ".join(reasons),
                "primary_rel_lift": r["rel_lift"],
                "primary_p_adjusted": pa,
            }
        )
    return Decision(pd.DataFrame(rows))


def against_truth(funnel: FunnelResult, true_lifts: dict) -> TableResult:
    """Estimated per-contacted lifts beside the simulator's true lifts (``truth["experiment"]["lifts"]``,
    keyed by arm and funnel column): is each truth inside its CI?"""
    s = funnel.summary[funnel.summary["basis"] == "per_contacted"].copy()
    s["true_lift"] = [true_lifts[a][m] for a, m in zip(s["arm"], s["metric"], strict=True)]
    s["covered"] = (s["abs_ci_low"] <= s["true_lift"]) & (s["true_lift"] <= s["abs_ci_high"])
    cols = ["arm", "metric", "true_lift", "abs_lift", "abs_ci_low", "abs_ci_high", "covered"]
    return TableResult(s[cols].reset_index(drop=True))


# --- design: power, sample size, minimum detectable effect -----------------------------------------


def _alpha_per_comparison(alpha: float, n_arms: int, correction: str) -> float:
    if n_arms < 2:
        raise ParameterError("n_arms", "an integer ≥ 2 (control included)", n_arms)
    k = n_arms - 1
    if correction == "none" or k == 1:
        return alpha
    if correction in ("bonferroni", "holm"):  # Holm's first step is Bonferroni: plan for it
        return alpha / k
    raise ParameterError("correction", "'bonferroni', 'holm' or 'none'", correction)


def power_proportions(
    p_control: float,
    lift_abs: float,
    n_control: float,
    ratio: float = 1.0,
    alpha: float = 0.05,
    n_arms: int = 2,
    correction: str = "holm",
) -> float:
    """Power of the two-sided z-test of two proportions (pooled variance under the null, unpooled under
    the alternative — statsmodels' ``power_proportions_2indep``), per comparison with ``n_arms − 1``
    comparisons corrected. ``ratio`` = n_treatment / n_control."""
    if not 0 < p_control < 1 or not 0 < p_control + lift_abs < 1:
        raise ParameterError("p_control", "rates in (0, 1) with and without the lift", (p_control, lift_abs))
    a = _alpha_per_comparison(alpha, n_arms, correction)
    n1, n2 = n_control, n_control * ratio
    p2 = p_control + lift_abs
    pbar = (p_control * n1 + p2 * n2) / (n1 + n2)
    s0 = np.sqrt(pbar * (1 - pbar) * (1 / n1 + 1 / n2))
    s1 = np.sqrt(p_control * (1 - p_control) / n1 + p2 * (1 - p2) / n2)
    z = stats.norm.ppf(1 - a / 2)
    d = abs(lift_abs)
    return float(stats.norm.sf((z * s0 - d) / s1) + stats.norm.cdf((-z * s0 - d) / s1))


def power_means(
    sd: float,
    lift_abs: float,
    n_control: float,
    ratio: float = 1.0,
    alpha: float = 0.05,
    n_arms: int = 2,
    correction: str = "holm",
    cuped_r2: float = 0.0,
) -> float:
    """Power of the two-sided z-test of two means with common ``sd`` (statsmodels' ``NormalIndPower``);
    ``cuped_r2`` is the share of variance CUPED removes (ρ² between metric and covariate)."""
    if sd <= 0:
        raise ParameterError("sd", "a positive standard deviation", sd)
    if not 0 <= cuped_r2 < 1:
        raise ParameterError("cuped_r2", "a fraction in [0, 1)", cuped_r2)
    a = _alpha_per_comparison(alpha, n_arms, correction)
    se = sd * np.sqrt(1 - cuped_r2) * np.sqrt(1 / n_control + 1 / (n_control * ratio))
    z = stats.norm.ppf(1 - a / 2)
    d = abs(lift_abs) / se
    return float(stats.norm.sf(z - d) + stats.norm.cdf(-z - d))


@dataclass(repr=False)
class Design(Result):
    """A planned test: sample size per arm, total, duration and the inputs that produced them."""

    summary: pd.DataFrame

    def to_dict(self) -> dict:
        return self.summary.iloc[0].to_dict()


def sample_size(
    power_fn,
    target_power: float = 0.8,
    daily_traffic: float | None = None,
    ratio: float = 1.0,
    n_arms: int = 2,
    **kw,
) -> Design:
    """Smallest control-arm size reaching ``target_power`` for ``power_fn`` (power_proportions or
    power_means, with its other arguments in ``kw``); the total counts ``n_arms − 1`` treatment arms of
    ``ratio`` × control each, and the duration in days follows from ``daily_traffic`` contacts a day."""
    from scipy.optimize import brentq

    if not 0 < target_power < 1:
        raise ParameterError("target_power", "a fraction in (0, 1)", target_power)

    def gap(n):
        return power_fn(n_control=n, ratio=ratio, n_arms=n_arms, **kw) - target_power

    hi = 10.0
    while gap(hi) < 0:
        hi *= 4
        if hi > 1e12:
            raise ParameterError(
                "lift_abs", "an effect detectable with fewer than 1e12 units", kw.get("lift_abs")
            )
    n = int(np.ceil(brentq(gap, 2.0, hi, xtol=1e-6)))
    total = n + (n_arms - 1) * int(np.ceil(n * ratio))
    row = {
        "n_control": n,
        "n_per_treatment": int(np.ceil(n * ratio)),
        "n_total": total,
        "power": power_fn(n_control=n, ratio=ratio, n_arms=n_arms, **kw),
        **kw,
        "n_arms": n_arms,
        "ratio": ratio,
    }
    if daily_traffic:
        row["days"] = int(np.ceil(total / daily_traffic))
    return Design(pd.DataFrame([row]))


def minimum_detectable_effect(power_fn, n_control: float, target_power: float = 0.8, **kw) -> float:
    """Smallest absolute lift detectable with ``target_power`` at ``n_control`` units per control arm."""
    from scipy.optimize import brentq

    upper = kw.pop("max_lift", None)
    if upper is None:
        upper = (1 - kw["p_control"]) * 0.999 if "p_control" in kw else 100 * kw["sd"]
    return float(
        brentq(lambda d: power_fn(lift_abs=d, n_control=n_control, **kw) - target_power, 1e-12, upper)
    )


# --- balance, CUPED, ratio metrics ---------------------------------------------------------------


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
    t = engine.table(data, backend)
    t = t.filter(t[arm].notnull())
    keep = t[metric].notnull()
    for c in cov_list:
        keep &= t[c].notnull()
    t = t.filter(keep)
    pairs = [(metric, c) for c in cov_list] + [
        (a, b) for i, a in enumerate(cov_list) for b in cov_list[i + 1 :]
    ]
    mm = engine.moments(t, [metric, *cov_list], by=[arm], pairs=pairs, backend=backend).set_index(arm)
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
) -> LiftResult:
    """Lift of a ratio metric per arm, Σnumerator / Σdenominator (e.g. spend per activated account),
    with delta-method variance: Var(R̂) ≈ (var(y) − 2R cov(y, x) + R² var(x)) / (n x̄²).

    With ``covariates`` (pre-period values per unit) the ratio is CUPED-adjusted: its linearised variable
    z = (y − R x) / x̄ is regressed on the covariates with θ pooled within arms, R̂ − θ'(w̄_arm − w̄), and
    the variance is that of z − θ'w — all from per-arm sums, no rows needed.

    Returns :func:`compare`'s columns, with ``control_mean``/``arm_mean`` the (adjusted) ratios.
    """
    y, x, ws = numerator, denominator, list(covariates)
    t = engine.table(data, backend)
    keep = t[arm].notnull() & t[y].notnull() & t[x].notnull()
    for w in ws:
        keep &= t[w].notnull()
    t = t.filter(keep)
    pairs = [
        (y, x),
        *((y, w) for w in ws),
        *((x, w) for w in ws),
        *((a, b) for i, a in enumerate(ws) for b in ws[i + 1 :]),
    ]
    mm = engine.moments(t, [y, x, *ws], by=[arm], pairs=pairs, backend=backend).set_index(arm)
    if (mm[f"mean_{x}"] <= 0).any():
        bad = mm.index[mm[f"mean_{x}"] <= 0]
        raise DataError.single("contacts", x, "positive denominator total in every arm", len(bad), list(bad))
    n = mm[f"n_{y}"]
    my, mx = mm[f"mean_{y}"], mm[f"mean_{x}"]
    r = my / mx
    # linearised variable z = (y − R x) / x̄ has mean 0 and the ratio's delta-method variance
    m2z = (mm[f"m2_{y}"] - 2 * r * mm[f"c_{y}_{x}"] + r**2 * mm[f"m2_{x}"]) / mx**2
    lin = pd.DataFrame({"n_r": n, "mean_r": r, "m2_r": m2z}, index=mm.index)
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


# --- Bayesian readout ----------------------------------------------------------------------------


def bayesian(comparison: LiftResult | pd.DataFrame, alpha: float = 0.05) -> BayesianResult:
    """Chance to beat control and expected loss of shipping each arm, from :func:`compare` output.

    Flat prior and a normal posterior for the absolute lift, N(lift, se²) with se from the Wald interval
    (the large-sample readout experimentation platforms use). Expected loss = E[max(0, −lift)], in the
    metric's units: what shipping costs on average if the arm is in fact worse.
    """
    comparison = summary_of(comparison)
    z = stats.norm.ppf(1 - alpha / 2)
    se = (comparison["abs_ci_high"] - comparison["abs_ci_low"]) / (2 * z)
    d = comparison["abs_lift"]
    out = comparison[["arm", "metric", "abs_lift"]].copy()
    out["chance_to_beat_control"] = stats.norm.cdf(d / se)
    out["expected_loss"] = se * stats.norm.pdf(d / se) - d * stats.norm.cdf(-d / se)
    return BayesianResult(out)


# --- sequential testing --------------------------------------------------------------------------


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

    Look k's boundary c_k solves P(no crossing before k, |Z_k| ≥ c_k) = α(t_k) − α(t_{k−1}), with
    corr(Z_i, Z_j) = sqrt(t_i / t_j); the rectangle probabilities are multivariate-normal integrals
    (scipy, Genz's method, seeded so the bounds are deterministic). Crossing at look k stops the test.
    """
    from scipy.optimize import brentq

    t = np.asarray(information_fractions, float)
    if len(t) == 0 or np.any(np.diff(t) <= 0) or t[-1] != 1 or t[0] <= 0:
        raise ParameterError(
            "information_fractions", "increasing fractions in (0, 1] ending at 1", list(information_fractions)
        )
    _z(alpha)
    spend = 2 - 2 * stats.norm.cdf(stats.norm.ppf(1 - alpha / 2) / np.sqrt(t))
    corr = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))

    def inside(bounds: list[float]) -> float:
        """P(|Z_j| < b_j for every look j given)."""
        k = len(bounds)
        if k == 1:
            return float(1 - 2 * stats.norm.sf(bounds[0]))
        b = np.array(bounds)
        mvn = stats.multivariate_normal(
            mean=np.zeros(k), cov=corr[:k, :k], seed=0, abseps=1e-8, releps=1e-6, maxpts=50_000 * k
        )
        return float(mvn.cdf(b, lower_limit=-b))

    bounds: list[float] = [float(stats.norm.isf(spend[0] / 2))]
    for k in range(1, len(t)):
        before = inside(bounds)
        target = spend[k] - spend[k - 1]
        c = brentq(
            lambda c, bs=bounds, pb=before, tg=target: pb - inside([*bs, c]) - tg, 0.5, 12.0, xtol=1e-6
        )
        bounds.append(float(c))
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
    t = engine.table(data, backend)
    require_columns(t, [arm, metric, by], table)
    m = engine.moments(t.filter(t[arm].notnull() & t[by].notnull()), [metric], by=[by, arm], backend=backend)
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
) -> SequentialResult:
    """The readout as it would have looked at ``n_looks`` evenly spaced points of ``time`` (e.g. the
    contact date): per look and arm the lift and three decisions — a naive fixed-horizon p-value (which
    inflates false positives when looked at repeatedly), the always-valid mSPRT p-value (mixing scale
    τ = ``tau_rel`` × the control mean at the final look), and the O'Brien–Fleming group-sequential
    boundary at the information fraction reached (share of final control-arm size)."""
    if n_looks < 1:
        raise ParameterError("n_looks", "an integer ≥ 1", n_looks)
    t = engine.table(data, backend)
    lim = engine.execute(t.aggregate(lo=t[time].min(), hi=t[time].max()), backend).iloc[0]
    cuts = pd.date_range(lim["lo"], lim["hi"], periods=n_looks + 1)[1:] if n_looks > 1 else [lim["hi"]]
    rows = []
    for k, cut in enumerate(cuts, start=1):
        sub = t.filter(t[time] <= ibis.literal(pd.Timestamp(cut)).cast(t[time].type()))
        m = arm_moments(sub, arm, [metric], backend=backend)
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


# --- data sources --------------------------------------------------------------------------------


@dataclass
class ExperimentData:
    """The contacts of one experiment (with the customer's ``segment`` on the simulated bank), and the
    simulator's ``truth`` (None for user data)."""

    name: str
    contacts: pd.DataFrame
    truth: dict | None = None


def experiment_data(
    data_source: str, experiment_id: str, n_customers: int = 100_000, random_state: int = 1
) -> ExperimentData:
    """Load the contacts of ``experiment_id``: ``"synthetic"`` (the simulated bank's randomised offer test) or
    a path to contact-level data (contacts schema)."""
    # imported here so that `import cmlib.experiments` does not load the simulator
    from cmlib.data import load, simulate_bank

    truth = None
    if data_source == "synthetic":
        world = simulate_bank(n_customers=n_customers, random_state=random_state)
        contacts = world.contacts.merge(
            world.customers[["customer_id", "segment"]], on="customer_id", how="left"
        )
        truth = world.truth
    else:
        contacts = load(data_source, table="contacts")
    return ExperimentData(data_source, contacts[contacts["experiment_id"] == experiment_id], truth)

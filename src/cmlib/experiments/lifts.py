"""cmlib.experiments — comparing arms: moments, lifts with intervals, SRM, funnel lifts, guardrails, the decision (the package re-exports every name)."""

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
from cmlib.experiments.aggregates import check_arm, is_sums
from cmlib.validation import require_columns


def arm_moments(
    data: Any, arm: str, metrics: Sequence[str], backend: str = "duckdb", table: str = "contacts"
) -> pd.DataFrame:
    """Per arm: ``n_<m>``, ``mean_<m>``, ``m2_<m>`` for each metric (NULL rows excluded per metric).

    ``data``: rows (any table :func:`cmlib.engine.table` reads) or an :class:`ArmSums`.
    Raises DataError when a metric column is missing, fewer than two arms have rows, or an arm is empty.
    """
    if is_sums(data):
        check_arm(data, arm)
        m = data.moments(list(metrics)).set_index(arm)
    else:
        t = engine.table(data, backend)
        require_columns(t, [arm, *metrics], table)
        t = t.filter(t[arm].notnull())
        m = engine.moments(t, list(metrics), by=[arm], backend=backend).set_index(arm)
    m.attrs["table"] = table  # compare() names the caller's table in its errors
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
    table = m.attrs.get("table", "contacts")  # set by arm_moments
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
        raise DataError.single(table, metric, "at least two rows per arm", len(small), small)
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
            table, metric, "non-zero variance in the compared arms", int(n[c] + n[t][se == 0].sum())
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


def _funnel_moments(sums, stages: list[str]) -> pd.DataFrame:
    """Per-contacted and conditional moments of 0/1 funnel stages from per-arm sums: a stage's rate among
    those who reached the previous one is Σstage / Σprevious, its M2 that of a 0/1 flag."""
    base = sums.moments(stages).set_index(sums.arm)
    for s in stages:
        if not np.allclose(sums.frame[f"sumsq_{s}"], sums.frame[f"sum_{s}"]):
            raise DataError.single(sums.table, f"sumsq_{s}", "a 0/1 funnel flag (Σm² = Σm)", None)
    m = pd.DataFrame(index=base.index)
    for i, s in enumerate(stages):
        for k in ("n", "mean", "m2", "sum"):
            m[f"{k}_pc_{s}"] = base[f"{k}_{s}"]
        if i:
            prev, k_s = base[f"sum_{stages[i - 1]}"], base[f"sum_{s}"]
            if (k_s > prev + 1e-9).any():
                raise DataError.single(
                    sums.table, f"sum_{s}", f"no more {s} than {stages[i - 1]} (stages in funnel order)", None
                )
            m[f"n_cd_{s}"] = prev.round().astype("int64")
            m[f"mean_cd_{s}"] = k_s / prev.where(prev > 0)
            m[f"m2_cd_{s}"] = (k_s - k_s * k_s / prev.where(prev > 0)).clip(lower=0.0)
            m[f"sum_cd_{s}"] = k_s
    m.attrs["table"] = sums.table
    return m


def arm_counts(
    data: Any, arm: str, backend: str = "duckdb", table: str = "contacts", control: str | None = None
) -> pd.Series:
    """Rows per arm (the sample-ratio check's input), counted in the engine or read from :class:`ArmSums`.
    With ``control``: a DataError unless there are at least two arms, one of them the control."""
    if is_sums(data):
        check_arm(data, arm)
        out = data.counts()
    else:
        t = engine.table(data, backend)
        require_columns(t, [arm], table)
        c = engine.funnel_counts(t.filter(t[arm].notnull()), [], by=[arm], backend=backend)
        out = c.set_index(arm)["n"].astype(int)
    if control is not None and (control not in out.index or len(out) < 2):
        rule = f"a control arm '{control}' and at least one other arm"
        raise DataError.single(table, arm, rule, int(out.sum()), list(map(str, out.index))[:5])
    return out


def srm_check(
    counts: pd.Series, expected_shares: dict | None = None, threshold: float = 0.001, table: str = "contacts"
) -> SRMResult:
    """Chi-square test of the arm counts against the planned allocation (equal by default).

    A strict default threshold (p < 0.001) is usual: with big samples, a real mismatch is far below it.
    """
    counts = counts.astype(float)
    if (counts < 0).any():
        raise DataError.single(table, "arm", "non-negative counts", int((counts < 0).sum()))
    if (counts == 0).any():
        raise DataError.single(
            table,
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
    data: Any,
    arm: str,
    stages: Sequence[str],
    control: str,
    alpha: float = 0.05,
    backend: str = "duckdb",
    table: str = "contacts",
) -> FunnelResult:
    """Lifts at each stage: ``per_contacted`` (stage rate over all contacts) and ``conditional`` (rate
    among those who reached the previous stage), Holm-adjusted across arms × stages per basis. From
    :class:`ArmSums` the stages must be 0/1 flags, each reached only by those who reached the one before."""
    if not list(stages):
        raise ParameterError("stages", "at least one funnel column, in funnel order", list(stages))
    if is_sums(data):
        check_arm(data, arm)
        m = _funnel_moments(data, list(stages))
        # the rows' order: each stage per contacted, then conditional on the one before
        cols = {k: None for i, s in enumerate(stages) for k in ([f"pc_{s}"] + ([f"cd_{s}"] if i else []))}
    else:
        t = engine.table(data, backend)
        require_columns(t, [arm, *stages], table)
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
    relative: bool = False,
) -> GuardrailResult:
    """One-sided non-inferiority of each arm against control on a risk metric (Agresti–Caffo bounds for
    0/1 metrics, Wald otherwise).

    With ``higher_is_worse`` (delinquency, loss) an arm passes when the upper ``1 − alpha`` bound of
    (arm − control) is below the margin; otherwise when the lower bound is above −margin. The margin is in
    the metric's units, or with ``relative`` a fraction of the control's rate (0.20: at most 20 % worse),
    converted with the observed control rate (the ``margin`` column then holds the absolute margin).
    """
    if margin <= 0:
        raise ParameterError("margin", "a positive number", margin)
    # a two-sided 1-2α interval's ends are one-sided 1-α bounds; 0/1 risk metrics are rare events
    interval = "agresti_caffo" if is_binary(m, metric) else "wald"
    c = compare(m, metric, control, alpha=2 * alpha, interval=interval).summary
    c["bound"] = c["abs_ci_high"] if higher_is_worse else c["abs_ci_low"]
    # significantly worse than control at all: the other one-sided bound excludes zero
    c["worse"] = c["abs_ci_low"] > 0 if higher_is_worse else c["abs_ci_high"] < 0
    c["margin"] = margin * c["control_mean"] if relative else margin
    if higher_is_worse:
        c["passed"] = c["bound"] < c["margin"]
    else:
        c["passed"] = c["bound"] > -c["margin"]
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
                "worse",
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
    value=None,
    daily_traffic: float | None = None,
    as_of=None,
) -> Decision:
    """Combine the primary metric (Holm across arms), guardrails, the SRM check and covariate balance into a
    decision per arm.

    Rules, in order: SRM fails, or an arm's pre-treatment covariates are out of balance (``balance_table``
    from :func:`balance`) → keep running (the readout cannot be trusted); a guardrail significantly worse
    than control and beyond its margin → do not ship (outside the risk appetite); beyond its margin but not
    significantly worse, or within it but not yet shown non-inferior → keep running; a significant
    negative primary lift → do not ship; a significant positive one → ship; otherwise → keep running.

    With ``value`` (an :class:`~cmlib.experiments.value.ArmValueResult`) the money decides once no guardrail
    is beyond its margin: the value lift's interval above zero → ship (with early-delinquency monitoring
    when a guardrail is within its margin but not yet shown); below zero → do not ship (the arm loses
    money per contact, whatever its lift); otherwise keep running, with the contacts per arm still needed
    and, given ``daily_traffic`` (contacts a day over all arms) and ``as_of`` (the last contact date), the
    date they are reached. A significantly negative primary lift is a do-not-ship either way.
    """
    primary, guardrails = summary_of(primary), [summary_of(g) for g in guardrails]
    balance_table = None if balance_table is None else summary_of(balance_table)
    p_adj = holm(primary["p_value"].to_numpy())
    vs = need = None
    if value is not None:
        from cmlib.experiments.value import sample_to_decide

        vs = value.summary.set_index("arm")
        need = sample_to_decide(value, alpha).set_index("arm")
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
        elif any(f["worse"] and abs(f["abs_lift"]) > f["margin"] for f in failed):
            verdict = "do not ship"  # significantly worse, and by more than the risk appetite allows
            for f in failed:
                reasons.append(
                    f"guardrail {f['metric']}: {f['arm_mean']:.2%} vs {f['control_mean']:.2%} in control "
                    f"({(f['arm_mean'] - f['control_mean']) * 100:+.2f} pp, significantly worse), beyond the "
                    f"margin of {f['margin'] * 100:.2f} pp"
                )
        elif any(abs(f["abs_lift"]) > f["margin"] for f in failed):
            verdict = "keep running"  # beyond the margin at the measured rate, but not significantly worse
            for f in failed:
                reasons.append(
                    f"guardrail {f['metric']}: {f['arm_mean']:.2%} vs {f['control_mean']:.2%} in control "
                    f"({(f['arm_mean'] - f['control_mean']) * 100:+.2f} pp), beyond the margin of "
                    f"{f['margin'] * 100:.2f} pp but not significantly worse yet"
                )
        elif failed and vs is None:
            verdict = "keep running"  # within the margin at the measured rate, not yet shown to stay there
            for f in failed:
                reasons.append(
                    f"guardrail {f['metric']}: within the margin at the measured rate but not yet shown "
                    f"(worse by up to {(f['bound']) * 100:.2f} pp, margin {f['margin'] * 100:.2f} pp)"
                )
        elif pa < alpha and r["abs_lift"] < 0:
            verdict = "do not ship"
            reasons.append(f"{r['metric']} down {r['rel_lift']:.1%} (adjusted p = {pa:.2g})")
        elif vs is not None:
            v = vs.loc[r["arm"]]
            gap = (
                f"{v['value_lift']:+,.2f} per contact (interval {v['lift_ci_low']:+,.2f} to "
                f"{v['lift_ci_high']:+,.2f}; {r['metric']} {r['rel_lift']:+.1%}, adjusted p = {pa:.2g})"
            )
            if v["lift_ci_low"] > 0:
                verdict = "ship"
                reasons.append(
                    f"adds {gap} against control; "
                    + (
                        "early risk within the margin at the measured rate, not yet proven: ship with "
                        "monthly early-delinquency monitoring"
                        if failed
                        else "guardrails hold"
                    )
                )
            elif v["lift_ci_high"] < 0:
                verdict = "do not ship"
                reasons.append(f"loses {gap} against control")
            else:
                verdict = "keep running"
                more = need.loc[r["arm"], "more_per_arm"]
                when = ""
                if np.isfinite(more) and daily_traffic and as_of is not None:
                    days = int(np.ceil(more * (len(primary) + 1) / daily_traffic))  # every arm and control
                    when = f", reached about {(pd.Timestamp(as_of) + pd.Timedelta(days=days)).date()}"
                reasons.append(
                    f"value {gap} not yet clear of zero; about {more:,.0f} more contacts per arm needed{when}"
                    if np.isfinite(more)
                    else f"value {gap}: no measurable difference from control"
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
        row = {
            "arm": r["arm"],
            "decision": verdict,
            "reason": "; ".join(reasons),
            "primary_rel_lift": r["rel_lift"],
            "primary_p_adjusted": pa,
        }
        if vs is not None:
            v = vs.loc[r["arm"]]
            row |= {
                k: float(v[k]) for k in ("value_per_contact", "value_lift", "lift_ci_low", "lift_ci_high")
            }
            row["more_contacts_per_arm"] = (
                float(need.loc[r["arm"], "more_per_arm"]) if verdict == "keep running" else 0.0
            )
        rows.append(row)
    return Decision(pd.DataFrame(rows))


def against_truth(funnel: FunnelResult, true_lifts: dict) -> TableResult:
    """Estimated per-contacted lifts beside the simulator's true lifts (``truth["experiment"]["lifts"]``,
    keyed by arm and funnel column): is each truth inside its CI?"""
    s = funnel.summary[funnel.summary["basis"] == "per_contacted"].copy()
    s["true_lift"] = [true_lifts[a][m] for a, m in zip(s["arm"], s["metric"], strict=True)]
    s["covered"] = (s["abs_ci_low"] <= s["true_lift"]) & (s["true_lift"] <= s["abs_ci_high"])
    cols = ["arm", "metric", "true_lift", "abs_lift", "abs_ci_low", "abs_ci_high", "covered"]
    return TableResult(s[cols].reset_index(drop=True))

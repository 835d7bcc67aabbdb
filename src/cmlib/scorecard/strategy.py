"""From a score to decisions: cutoff strategy, swap sets, reject inference and the fair-lending check.

Economics of a cutoff (per approved applicant, portfolio currency): a good account earns ``revenue_good``
(the margin over the horizon), a bad one loses ``loss_bad`` (exposure × LGD). Expected profit of a cutoff =
Σ over approved of (1 − PD)·revenue_good − PD·loss_bad, with PD the model's probability of bad — or the
observed outcome when ``y`` is given (hold-out with outcomes). Approved means score ≥ cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmlib.base import Result, TableResult
from cmlib.errors import DataError, ParameterError


@dataclass(repr=False)
class CutoffResult(Result):
    """``table``: one row per candidate cutoff (approval rate, bad rate, expected profit); ``best``: the
    profit-maximising row."""

    table: pd.DataFrame
    best: pd.Series

    @property
    def summary(self) -> pd.DataFrame:
        """The candidate cutoffs (one row each)."""
        return self.table

    def to_dict(self) -> dict:
        return {
            "cutoff": float(self.best["cutoff"]),
            "approval_rate": float(self.best["approval_rate"]),
            "bad_rate": float(self.best["bad_rate"]),
            "expected_profit": float(self.best["expected_profit"]),
        }

    def plot(self, ax=None):
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        ax.plot(self.table["cutoff"], self.table["expected_profit"], label="expected profit")
        ax.axvline(self.best["cutoff"], color="grey", ls="--", lw=0.8)
        ax.set(xlabel="score cutoff (approve at or above)", ylabel="expected profit")
        ax2 = ax.twinx()
        ax2.plot(self.table["cutoff"], self.table["approval_rate"], color="C1", label="approval rate")
        ax2.plot(self.table["cutoff"], self.table["bad_rate"], color="C3", label="bad rate (approved)")
        ax2.set_ylabel("rate")
        ax2.grid(False)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax2.legend(h1 + h2, l1 + l2, loc="upper right")  # one legend for both axes: the profit line too
        return ax


def cutoff_table(
    score, pd_, revenue_good: float, loss_bad: float, y=None, cutoffs=None, value=None
) -> CutoffResult:
    """Approval rate, bad rate of the approved and expected profit at each cutoff (default: every distinct
    score); PD-based unless outcomes ``y`` are given. Profit: Σ over the approved of ``value`` (each
    applicant's expected value if booked — the account-value model's, at its own terms and risk) when given,
    else (1 − PD) × ``revenue_good`` − PD × ``loss_bad`` per approved applicant (flat economics)."""
    s = np.asarray(score, float)
    p = np.asarray(pd_ if y is None else y, float)
    if len(s) != len(p) or len(s) == 0:
        raise ParameterError("score/pd_", "non-empty arrays of equal length", (len(s), len(p)))
    if revenue_good < 0 or loss_bad < 0:
        raise ParameterError("revenue_good/loss_bad", "non-negative amounts", (revenue_good, loss_bad))
    order = np.argsort(-s, kind="stable")  # approve from the safest down
    s_sorted, p_sorted = s[order], p[order]
    cum_bad = np.cumsum(p_sorted)
    if value is not None:
        v = np.asarray(value, float)
        if len(v) != len(s) or not np.isfinite(v).all():
            raise ParameterError("value", f"{len(s)} finite values, one per applicant", len(v))
        cum_profit = np.cumsum(v[order])
    else:
        cum_profit = np.cumsum((1 - p_sorted) * revenue_good - p_sorted * loss_bad)
    cands = np.unique(s) if cutoffs is None else np.asarray(cutoffs, float)
    # approved at cutoff c = rows with score ≥ c = the first k of the descending order
    k = np.searchsorted(-s_sorted, -cands, side="right")
    n = len(s)
    safe_k = np.maximum(k, 1)
    tab = pd.DataFrame(
        {
            "cutoff": cands,
            "approved": k,
            "approval_rate": k / n,
            "bad_rate": np.where(k > 0, cum_bad[safe_k - 1] / safe_k, np.nan),
            "expected_profit": np.where(k > 0, cum_profit[safe_k - 1], 0.0),
        }
    )
    best = tab.loc[tab["expected_profit"].idxmax()]
    return CutoffResult(tab, best)


def swap_sets(new_approve, old_approve, y=None, pd_=None, value=None) -> TableResult:
    """Swap-in / swap-out against the current policy: counts and bad rates of the four groups (approved by
    both, swap-in = only the new policy, swap-out = only the old one, declined by both). Bad rate from
    outcomes ``y`` where known (NaN allowed: declined applicants have none), else from ``pd_``; ``value``
    (one amount per applicant, e.g. its expected account value if approved) adds each group's total."""
    new, old = np.asarray(new_approve, bool), np.asarray(old_approve, bool)
    if len(new) != len(old):
        raise ParameterError("old_approve", f"{len(new)} decisions", len(old))
    rows = []
    for name, m in [
        ("approved by both", new & old),
        ("swap-in (new only)", new & ~old),
        ("swap-out (old only)", ~new & old),
        ("declined by both", ~new & ~old),
    ]:
        row = {"group": name, "n": int(m.sum()), "share": float(m.mean())}
        if y is not None:
            yy = np.asarray(y, float)[m]
            row["observed_bad_rate"] = float(np.nanmean(yy)) if np.isfinite(yy).any() else np.nan
        if pd_ is not None:
            row["expected_bad_rate"] = float(np.asarray(pd_, float)[m].mean()) if m.any() else np.nan
        if value is not None:
            row["value"] = float(np.asarray(value, float)[m].sum())
        rows.append(row)
    return TableResult(pd.DataFrame(rows))


# --- reject inference ------------------------------------------------------------------------------


@dataclass(repr=False)
class RejectInferenceResult(Result):
    """``ttd_bad_rate``: the through-the-door bad rate estimate (accepted outcomes + inferred rejects);
    ``augmented``: accepted rows with their outcome plus inferred rejects (with a ``weight`` column) — a
    training set for a model of the whole applicant population; ``by_band``: rates by score band."""

    method: str
    ttd_bad_rate: float
    accepted_bad_rate: float
    augmented: pd.DataFrame
    by_band: pd.DataFrame

    @property
    def summary(self) -> pd.DataFrame:
        """Rates by score band."""
        return self.by_band

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "ttd_bad_rate": self.ttd_bad_rate,
            "accepted_bad_rate": self.accepted_bad_rate,
        }


def reject_inference(
    score_acc,
    y_acc,
    score_rej,
    pd_rej,
    method: str = "fuzzy",
    n_bands: int = 10,
    factor: float = 1.0,
    min_accepted: int = 50,
    random_state: int = 0,
) -> RejectInferenceResult:
    """Infer the outcomes of rejected applicants from a known-good/bad model fitted on the accepted.

    * ``fuzzy`` (augmentation): each reject enters twice, as bad with weight PD·factor and as good with the
      rest, PD being the accepted model's probability of bad.
    * ``parcelling``: score bands are deciles of all applicants' scores; rejects in a band are drawn bad at
      random with the band's observed accepted bad rate × ``factor`` (the model's mean PD of the band's
      rejects × factor where fewer than ``min_accepted`` accepted fall in the band).

    ``factor`` > 1 states the usual belief that rejects are worse than their score says (capped at PD 1).
    The through-the-door bad rate is (accepted bads + expected inferred bads) / all applicants. Why it
    helps: the accepted bad rate is biased low because the old policy declined the riskiest; the model
    extrapolates risk to the rejects from what they look like, removing the part of the bias explained by
    the features (not selection on what the model cannot see)."""
    sa, ya = np.asarray(score_acc, float), np.asarray(y_acc, float)
    sr, pr = np.asarray(score_rej, float), np.asarray(pd_rej, float)
    if np.isnan(ya).any() or not np.isin(ya, (0, 1)).all():
        raise DataError.single(
            "accepted applicants", "target", "outcome in {0, 1}", int((~np.isin(ya, (0, 1))).sum())
        )
    if method not in ("fuzzy", "parcelling"):
        raise ParameterError("method", "'fuzzy' or 'parcelling'", method)
    if factor <= 0:
        raise ParameterError("factor", "a positive number", factor)
    edges = np.unique(np.quantile(np.concatenate([sa, sr]), np.linspace(0, 1, n_bands + 1)[1:-1]))
    ba, br = np.searchsorted(edges, sa, side="right") + 1, np.searchsorted(edges, sr, side="right") + 1
    acc = pd.DataFrame({"score": sa, "y": ya, "weight": 1.0, "accepted": True, "band": ba})
    if method == "fuzzy":
        p_inf = np.minimum(pr * factor, 1.0)
        rej = pd.concat(
            [
                pd.DataFrame({"score": sr, "y": 1.0, "weight": p_inf, "accepted": False, "band": br}),
                pd.DataFrame({"score": sr, "y": 0.0, "weight": 1 - p_inf, "accepted": False, "band": br}),
            ]
        )
    else:
        g = acc.groupby("band")["y"]
        band_rate = g.mean().where(g.size() >= min_accepted)
        model_rate = pd.Series(pr).groupby(br).mean()
        rate = band_rate.reindex(model_rate.index).fillna(model_rate)
        p_inf = np.minimum(rate.reindex(br).to_numpy() * factor, 1.0)
        draw = np.random.default_rng(random_state).random(len(sr)) < p_inf
        rej = pd.DataFrame(
            {"score": sr, "y": draw.astype(float), "weight": 1.0, "accepted": False, "band": br}
        )
    ttd = float((ya.sum() + p_inf.sum()) / (len(ya) + len(pr)))
    aug = pd.concat([acc, rej], ignore_index=True)
    by = pd.DataFrame(
        {
            "expected_bad": np.r_[ya, p_inf],
            "band": np.r_[ba, br],
            "accepted": np.r_[np.ones(len(ya), bool), np.zeros(len(pr), bool)],
        }
    )
    by_band = (
        pd.DataFrame(
            {
                "n_accepted": by[by["accepted"]].groupby("band").size(),
                "n_rejected": by[~by["accepted"]].groupby("band").size(),
                "accepted_bad_rate": by[by["accepted"]].groupby("band")["expected_bad"].mean(),
                "inferred_reject_bad_rate": by[~by["accepted"]].groupby("band")["expected_bad"].mean(),
            }
        )
        .fillna({"n_accepted": 0, "n_rejected": 0})
        .rename_axis("band")
        .reset_index()
    )
    return RejectInferenceResult(method, ttd, float(ya.mean()), aug, by_band)


# --- fair lending ----------------------------------------------------------------------------------


@dataclass(repr=False)
class FairLendingResult(Result):
    """``summary``: approval rate per group with the adverse-impact ratio against the reference group
    (four-fifths rule: a ratio below ``threshold``, 0.8 by default, is flagged) and a two-proportion test;
    ``reasons``: among declined applicants, the share whose first reason code is each feature, by group."""

    summary: pd.DataFrame
    reasons: pd.DataFrame | None
    reference: str
    threshold: float = 0.8

    @property
    def passes(self) -> bool:
        """Every group's adverse-impact ratio at or above ``threshold``."""
        return not self.to_dict()["four_fifths_flag"]

    def to_dict(self) -> dict:
        others = self.summary[self.summary["group"] != self.reference]
        return {
            "min_adverse_impact_ratio": float(others["adverse_impact_ratio"].min()),
            "four_fifths_flag": bool((others["adverse_impact_ratio"] < self.threshold).any()),
        }


def adverse_impact(
    approved, group, reference: str | None = None, reasons: pd.Series | None = None, threshold: float = 0.8
) -> FairLendingResult:
    """Approval rate by protected group and the adverse-impact ratio (group rate / reference rate); the
    reference defaults to the group with the highest approval rate. With ``reasons`` (the first reason code
    per applicant), the reason mix of declined applicants by group — the features that drive the gap."""
    from statsmodels.stats.proportion import proportions_ztest

    a = pd.Series(np.asarray(approved, bool))
    g = pd.Series(np.asarray(group)).astype("string")
    if len(a) != len(g):
        raise ParameterError("group", f"{len(a)} labels", len(g))
    if g.isna().any():
        raise DataError.single("applications", "protected_group", "not missing", int(g.isna().sum()))
    counts = pd.DataFrame({"a": a, "g": g}).groupby("g")["a"].agg(["size", "sum"])
    if len(counts) < 2:
        raise DataError.single("applications", "protected_group", "at least two groups", len(a))
    rate = counts["sum"] / counts["size"]
    ref = reference if reference is not None else str(rate.idxmax())
    if ref not in rate.index:
        raise ParameterError("reference", f"one of {list(rate.index)}", ref)
    rows = []
    for grp in rate.index:
        p = np.nan
        if grp != ref:
            _, p = proportions_ztest(
                [counts.loc[grp, "sum"], counts.loc[ref, "sum"]],
                [counts.loc[grp, "size"], counts.loc[ref, "size"]],
            )
        rows.append(
            {
                "group": grp,
                "n": int(counts.loc[grp, "size"]),
                "approval_rate": float(rate[grp]),
                "adverse_impact_ratio": float(rate[grp] / rate[ref]) if rate[ref] > 0 else np.nan,
                "p_value": float(p),
            }
        )
    summ = pd.DataFrame(rows)
    summ["four_fifths_flag"] = summ["adverse_impact_ratio"] < threshold
    rtab = None
    if reasons is not None:
        r = pd.DataFrame({"reason": np.asarray(reasons), "g": g})[~a.to_numpy()]
        rtab = pd.crosstab(r["reason"], r["g"], normalize="columns")
        rtab["gap"] = rtab.drop(columns=[ref], errors="ignore").max(axis=1) - rtab.get(ref, 0)
        rtab = rtab.sort_values("gap", ascending=False)
    return FairLendingResult(summ, rtab, ref, threshold)

"""Scorecard validation: discrimination (AUC/Gini with a bootstrap CI, KS), ROC/CAP and lift, calibration by
score band, and stability (PSI of the score, CSI per feature).

Conventions: ``y`` is 1 = bad; ``score`` is higher = safer (points), so a bad is expected to score *lower*;
``pd_`` is a probability of bad. PSI = Σ (a − e)·ln(a / e) over bins of the development (expected)
distribution, with the usual reading: < 0.10 stable, 0.10–0.25 watch, > 0.25 shifted. Empty bins get a
share of 0.5 row (so PSI stays finite), stated in :func:`psi`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmlib.base import Result, TableResult
from cmlib.errors import ParameterError
from cmlib.validation import check_binary

PSI_WATCH, PSI_SHIFT = 0.10, 0.25


def _xy(y, score, table: str = "validation data") -> tuple[np.ndarray, np.ndarray]:
    y = check_binary(pd.DataFrame({"target": np.asarray(y)}), "target", table).to_numpy(int)
    s = np.asarray(score, float)
    if len(s) != len(y):
        raise ParameterError("score", f"{len(y)} values (one per label)", len(s))
    return y, s


@dataclass(repr=False)
class AUCResult(Result):
    """AUC and Gini (= 2·AUC − 1) with their percentile-bootstrap intervals."""

    summary: pd.DataFrame
    auc: float
    auc_ci_low: float
    auc_ci_high: float
    gini: float
    gini_ci_low: float
    gini_ci_high: float


@dataclass(repr=False)
class KSResult(Result):
    """Kolmogorov–Smirnov statistic and the score where the gap is largest."""

    summary: pd.DataFrame
    ks: float
    ks_score: float


@dataclass(repr=False)
class PSIResult(Result):
    """Population stability index (``psi``), its rule-of-thumb ``flag``, and the shares per bin (``summary``)."""

    summary: pd.DataFrame
    psi: float
    flag: str


def _metrics_frame(values: dict) -> pd.DataFrame:
    return pd.DataFrame({"metric": list(values), "value": list(values.values())})


def auc_ci(y, score, n_boot: int = 1000, alpha: float = 0.05, random_state: int = 0) -> AUCResult:
    """AUC of ``score`` for *good* vs bad (higher score = safer), Gini = 2·AUC − 1, and a percentile bootstrap
    CI (stratified resampling of bads and goods, so every replicate has both classes)."""
    from sklearn.metrics import roc_auc_score

    y, s = _xy(y, score)
    auc = float(roc_auc_score(1 - y, s))
    rng = np.random.default_rng(random_state)
    bad, good = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    # each replicate's AUC from counts per distinct score (ties count one half), as roc_auc_score computes it:
    # the same replicates, ~10x faster than calling it 1,000 times (scorecard points have few distinct values)
    levels, codes = np.unique(s, return_inverse=True)
    k = len(levels)
    boots = np.empty(n_boot)
    for b in range(n_boot):
        nb = np.bincount(codes[rng.choice(bad, len(bad))], minlength=k)
        ng = np.bincount(codes[rng.choice(good, len(good))], minlength=k)
        below = np.cumsum(nb) - nb  # bads with a lower score than each level
        boots[b] = (ng * (below + 0.5 * nb)).sum() / (len(bad) * len(good))
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    v = {
        "auc": auc,
        "auc_ci_low": float(lo),
        "auc_ci_high": float(hi),
        "gini": 2 * auc - 1,
        "gini_ci_low": float(2 * lo - 1),
        "gini_ci_high": float(2 * hi - 1),
    }
    return AUCResult(_metrics_frame(v), **v)


def ks(y, score) -> KSResult:
    """Kolmogorov–Smirnov statistic: the largest gap between the cumulative score distributions of bads and
    goods, and the score where it occurs (equals ``scipy.stats.ks_2samp(bad, good).statistic``)."""
    y, s = _xy(y, score)
    order = np.sort(np.unique(s))
    cb = np.searchsorted(np.sort(s[y == 1]), order, side="right") / (y == 1).sum()
    cg = np.searchsorted(np.sort(s[y == 0]), order, side="right") / (y == 0).sum()
    k = int(np.argmax(np.abs(cb - cg)))
    v = {"ks": float(abs(cb[k] - cg[k])), "ks_score": float(order[k])}
    return KSResult(_metrics_frame(v), **v)


def gains_table(y, score, n_bands: int = 10) -> TableResult:
    """Lift / CAP table: applicants sorted from the riskiest (lowest score) in ``n_bands`` equal-count bands
    (ties kept together); per band rows, bads, bad rate, cumulative share of rows and of bads captured
    (the CAP curve), lift = band bad rate / overall bad rate."""
    y, s = _xy(y, score)
    ranks = pd.Series(s).rank(method="min").to_numpy()
    band = np.minimum(((ranks - 1) * n_bands // len(s)).astype(int), n_bands - 1)
    df = (
        pd.DataFrame({"band": band + 1, "y": y, "s": s})
        .groupby("band")
        .agg(score_min=("s", "min"), score_max=("s", "max"), n=("y", "size"), n_bad=("y", "sum"))
    )
    df["bad_rate"] = df["n_bad"] / df["n"]
    df["cum_share_rows"] = df["n"].cumsum() / len(y)
    df["cum_share_bads"] = df["n_bad"].cumsum() / y.sum()
    df["lift"] = df["bad_rate"] / y.mean()
    return TableResult(df.reset_index())


def calibration(y, pd_, score=None, n_bands: int = 10) -> TableResult:
    """Predicted vs observed bad rate by band (score bands when ``score`` is given, else PD bands), with a
    binomial two-sided p-value per band (is the observed count consistent with the predicted PD?)."""
    from scipy.stats import binomtest

    y, p = _xy(y, pd_)
    key = -p if score is None else np.asarray(score, float)
    ranks = pd.Series(key).rank(method="min").to_numpy()
    band = np.minimum(((ranks - 1) * n_bands // len(p)).astype(int), n_bands - 1) + 1
    df = (
        pd.DataFrame({"band": band, "y": y, "p": p})
        .groupby("band")
        .agg(n=("y", "size"), n_bad=("y", "sum"), predicted_bad_rate=("p", "mean"))
    )
    df["observed_bad_rate"] = df["n_bad"] / df["n"]
    df["p_value"] = [
        binomtest(int(k), int(n), min(max(q, 1e-12), 1 - 1e-12)).pvalue
        for k, n, q in zip(df["n_bad"], df["n"], df["predicted_bad_rate"], strict=True)
    ]
    return TableResult(df.reset_index())


@dataclass(repr=False)
class CalibrationCheck(Result):
    """Calibration in the large of a PD on a later sample, and its recalibration by an odds shift.

    ``observed`` bads against ``expected`` (the sum of the predicted PDs); ``ratio`` = observed ÷ expected
    with a ``1 − alpha`` interval; ``p_value`` of the two-sided test that the PDs are right on average (normal
    approximation to the Poisson-binomial count, variance Σ p(1 − p)); ``passes`` when it is not rejected.
    ``shift`` is the log-odds added to every PD so that the PDs sum to the observed bads (the intercept a
    logistic recalibration with the old log-odds as offset would estimate); ``summary`` holds per score band
    the observed bad rate, the predicted one before and after the shift, and each band's binomial p-value
    before and after. ``recalibrated`` are the shifted PDs, one per row."""

    summary: pd.DataFrame
    observed: int
    expected: float
    ratio: float
    ratio_ci_low: float
    ratio_ci_high: float
    p_value: float
    passes: bool
    shift: float
    recalibrated: np.ndarray

    def to_dict(self) -> dict:
        return {
            "observed_to_predicted": self.ratio,
            "observed_to_predicted_ci_low": self.ratio_ci_low,
            "observed_to_predicted_ci_high": self.ratio_ci_high,
            "calibration_p_value": self.p_value,
            "recalibration_shift": self.shift,
        }


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(q / (1 - q))


def recalibration_shift(y, pd_) -> float:
    """The log-odds shift δ with Σ expit(logit(pd) + δ) = Σ y: the maximum-likelihood intercept of a
    logistic regression of ``y`` on a constant with ``logit(pd)`` as offset (calibration in the large)."""
    y, p = _xy(y, pd_)
    return _shift(y, _logit(p))


def _shift(y: np.ndarray, z: np.ndarray) -> float:
    """:func:`recalibration_shift` on checked labels ``y`` and log-odds ``z``."""
    from scipy.optimize import brentq
    from scipy.special import expit

    target = float(y.sum())
    if target in (0.0, float(len(y))):
        raise ParameterError(
            "y", "both goods and bads (a shift cannot match an all-good or all-bad sample)", target
        )
    return float(brentq(lambda d: expit(z + d).sum() - target, -20.0, 20.0, xtol=1e-12))


def calibration_check(y, pd_, score=None, n_bands: int = 10, alpha: float = 0.05) -> CalibrationCheck:
    """Is the PD right on average on this (later) sample, and how does it look per band before and after an
    odds-shift recalibration? See :class:`CalibrationCheck`."""
    from scipy.special import expit
    from scipy.stats import norm

    y, p = _xy(y, pd_)
    observed, expected = int(y.sum()), float(p.sum())
    sd = float(np.sqrt((p * (1 - p)).sum()))
    z = (observed - expected) / sd
    zq = norm.ppf(1 - alpha / 2)
    z_old = _logit(p)
    shift = _shift(y, z_old)
    after = expit(z_old + shift)
    before_tab = calibration(y, p, score, n_bands).summary
    after_tab = calibration(y, after, score, n_bands).summary
    summary = before_tab[["band", "n", "n_bad", "observed_bad_rate", "predicted_bad_rate", "p_value"]].rename(
        columns={"predicted_bad_rate": "predicted_before", "p_value": "p_value_before"}
    )
    summary["predicted_after"] = after_tab["predicted_bad_rate"].to_numpy()
    summary["p_value_after"] = after_tab["p_value"].to_numpy()
    return CalibrationCheck(
        summary=summary,
        observed=observed,
        expected=expected,
        ratio=observed / expected,
        ratio_ci_low=(observed - zq * sd) / expected,
        ratio_ci_high=(observed + zq * sd) / expected,
        p_value=float(2 * norm.sf(abs(z))),
        passes=bool(abs(z) <= zq),
        shift=shift,
        recalibrated=after,
    )


def psi(expected, actual, bins: int | list[float] = 10) -> PSIResult:
    """Population stability index of ``actual`` against ``expected`` (numeric values; bins are deciles of
    ``expected`` unless edges are given), its flag (:func:`psi_flag`) and the shares per bin. A bin empty on one side
    gets 0.5 row, so one empty bin does not make PSI infinite."""
    e = np.asarray(expected, float)
    a = np.asarray(actual, float)
    if len(e) == 0 or len(a) == 0:
        raise ParameterError("expected/actual", "non-empty samples", (len(e), len(a)))
    edges = (
        np.unique(np.quantile(e[~np.isnan(e)], np.linspace(0, 1, bins + 1)[1:-1]))
        if isinstance(bins, int)
        else np.asarray(bins, float)
    )
    value, tab = _psi_from_labels(
        np.searchsorted(edges, e, side="right"), np.searchsorted(edges, a, side="right")
    )
    return PSIResult(tab, value, psi_flag(value))


def _psi_from_labels(le, la) -> tuple[float, pd.DataFrame]:
    ce, ca = pd.Series(le).value_counts(), pd.Series(la).value_counts()
    idx = ce.index.union(ca.index)
    ce, ca = ce.reindex(idx, fill_value=0), ca.reindex(idx, fill_value=0)
    pe = ce.clip(lower=0.5) / ce.sum()
    pa = ca.clip(lower=0.5) / ca.sum()
    part = (pa - pe) * np.log(pa / pe)
    tab = pd.DataFrame(
        {"bin": idx, "expected_share": ce / ce.sum(), "actual_share": ca / ca.sum(), "psi": part}
    )
    return float(part.sum()), tab.reset_index(drop=True)


def psi_flag(value: float) -> str:
    """``stable`` below 0.10, ``watch`` up to 0.25, ``shifted`` above (the industry's rule of thumb)."""
    return "stable" if value < PSI_WATCH else "watch" if value <= PSI_SHIFT else "shifted"


def csi(scorecard, X_dev: pd.DataFrame, X_new: pd.DataFrame) -> TableResult:
    """Characteristic stability index per scorecard feature: PSI of the share of rows in each of the
    feature's bins (development vs new), with the flag."""
    Wd, Wn = scorecard.woe(X_dev), scorecard.woe(X_new)
    rows = []
    for f in Wd.columns:
        v, _ = _psi_from_labels(np.round(Wd[f].to_numpy(), 12), np.round(Wn[f].to_numpy(), 12))
        rows.append({"feature": f, "csi": v, "flag": psi_flag(v)})
    return TableResult(
        pd.DataFrame(rows).sort_values("csi", ascending=False, kind="stable").reset_index(drop=True)
    )


@dataclass(repr=False)
class ValidationResult(Result):
    """Hold-out validation of a scorecard: ``summary`` (one row per metric), ``gains``, ``calibration``,
    and the ROC points for ``plot``."""

    summary: pd.DataFrame
    gains: pd.DataFrame
    calibration: pd.DataFrame
    roc: pd.DataFrame

    def to_dict(self) -> dict:
        return dict(zip(self.summary["metric"], self.summary["value"].astype(float), strict=True))

    def plot(self, ax=None):
        """ROC curve and CAP curve (share of bads caught vs share of applicants declined) on one axes."""
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        ax.plot(self.roc["fpr"], self.roc["tpr"], label=f"ROC (AUC {self.to_dict()['auc']:.3f})")
        cap = pd.concat([pd.DataFrame({"cum_share_rows": [0.0], "cum_share_bads": [0.0]}), self.gains])
        ax.plot(cap["cum_share_rows"], cap["cum_share_bads"], marker="o", label="CAP by decile")
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="random")
        ax.set(
            xlabel="false-positive rate / share declined (riskiest first)",
            ylabel="true-positive rate / share of bads caught",
        )
        ax.legend(loc="lower right")
        return ax


def validate_scorecard(
    y, score, pd_, n_boot: int = 1000, n_bands: int = 10, random_state: int = 0, alpha: float = 0.05
) -> ValidationResult:
    """All hold-out discrimination and calibration checks of a score in one result."""
    from sklearn.metrics import roc_curve

    y_, s = _xy(y, score)
    a = auc_ci(y_, s, n_boot=n_boot, alpha=alpha, random_state=random_state).to_dict()
    k = ks(y_, s).to_dict()
    fpr, tpr, _ = roc_curve(y_, -s)
    cal = calibration(y_, pd_, s, n_bands).summary
    summ = pd.DataFrame(
        {
            "metric": [*a, *k, "bad_rate", "mean_predicted_pd", "n"],
            "value": [*a.values(), *k.values(), y_.mean(), float(np.mean(pd_)), len(y_)],
        }
    )
    return ValidationResult(
        summ, gains_table(y_, s, n_bands).summary, cal, pd.DataFrame({"fpr": fpr, "tpr": tpr})
    )

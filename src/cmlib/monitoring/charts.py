"""cmlib.monitoring — control charts for weekly rates (one section of the package).

Why EWMA on quantile residuals:

* A weekly KPI is a count out of a volume that changes every week (responses out of contacts, complaints per
  contact). Each week's count is turned into the normal score of its *mid-p* tail probability under the
  reference rate (a randomisation-free quantile residual, Dunn & Smyth 1996): N(0, 1) when nothing changed,
  whatever the volume — also for the handful of complaints a channel gets in a week, where the usual
  (x - np) / sqrt(np(1-p)) is skewed and raises false alarms on the upper side.
* An exponentially weighted moving average of those scores (Roberts 1959) accumulates a persistent shift of a
  few tenths of a standard deviation a week, which a Shewhart chart misses, and forgets old weeks, so a chart
  recovers after a shift has been dealt with. A CUSUM detects a step of a chosen size slightly faster but
  needs that size; EWMA is robust to it. The CUSUM is still used for what it does best: dating the start of a
  shift the EWMA flagged (Page's estimator: the last time the cumulative sum was at zero).
* Limits are the exact time-varying ones, ``L·sqrt(λ/(2-λ)·(1-(1-λ)^(2t)))``; λ and L are chosen by simulation
  (``benchmarks/monitoring.py``, results in ``benchmarks/results/monitoring.json``) for at most one false alarm
  per 100 stable KPI-weeks and detection of the planted response drop within two weeks.

The reference rate is estimated from a reference period (Phase I); the chart monitors the weeks after it
(Phase II).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from cmlib.base import BaseEstimator, check_is_fitted
from cmlib.errors import ParameterError

#: default smoothing and limit width (see the module docstring for how they were chosen)
EWMA_LAMBDA, EWMA_L = 0.3, 3.2


def quantile_residuals(count, exposure, rate, kind: str = "binomial") -> np.ndarray:
    """Normal scores of each count's mid-p probability under ``rate``: Φ⁻¹(P(X < x) + ½P(X = x)), with X
    binomial(exposure, rate) or Poisson(exposure × rate). Zero where the exposure is zero (no information)."""
    x = np.asarray(count, dtype=float)
    n = np.asarray(exposure, dtype=float)
    p = np.broadcast_to(np.asarray(rate, dtype=float), x.shape)
    if kind == "binomial":
        nn = np.round(n)
        below = stats.binom.cdf(x - 1, nn, p)
        at = stats.binom.pmf(x, nn, p)
    elif kind == "poisson":
        below = stats.poisson.cdf(x - 1, n * p)
        at = stats.poisson.pmf(x, n * p)
    else:
        raise ParameterError("kind", "'binomial' or 'poisson'", kind)
    u = np.clip(below + 0.5 * at, 1e-12, 1 - 1e-12)
    return np.where(n > 0, stats.norm.ppf(u), 0.0)


def ewma(z: np.ndarray, lam: float = EWMA_LAMBDA) -> np.ndarray:
    """e_t = λ z_t + (1 - λ) e_{t-1}, e_0 = 0 (vectorised with a linear filter)."""
    from scipy.signal import lfilter

    return lfilter([lam], [1.0, -(1.0 - lam)], np.asarray(z, dtype=float))


def ewma_limit(t: int | np.ndarray, lam: float = EWMA_LAMBDA, L: float = EWMA_L) -> np.ndarray:
    """The exact limit of the EWMA of N(0, 1) scores after ``t`` = 1, 2, … weeks."""
    t = np.asarray(t, dtype=float)
    return L * np.sqrt(lam / (2.0 - lam) * (1.0 - (1.0 - lam) ** (2.0 * t)))


def cusum_start(z: np.ndarray, direction: int, k: float = 0.5) -> int | None:
    """Index of the estimated start of a shift in ``direction`` (+1 up, -1 down) of the scores ``z`` that runs
    to their end: one week after the cumulative sum S_t = max(0, S_{t-1} + d·z_t - k) was last zero. None when
    the sum ends at zero (no shift in that direction)."""
    s, last_zero = 0.0, -1
    for i, v in enumerate(np.asarray(z, dtype=float)):
        s = max(0.0, s + direction * v - k)
        if s == 0.0:
            last_zero = i
    return None if s == 0.0 else last_zero + 1


class RateChart(BaseEstimator):
    """An EWMA chart of one weekly rate (count / exposure) against its reference rate.

    ``fit(count, exposure)`` on the reference weeks estimates the rate; ``monitor(count, exposure)`` scores the
    weeks after it and returns one row per week: rate, score, EWMA, limit and alarm (|EWMA| > limit).
    ``kind``: "binomial" (a share of the exposure) or "poisson" (events per unit of exposure).
    """

    def __init__(self, lam: float = EWMA_LAMBDA, L: float = EWMA_L, kind: str = "binomial"):
        self.lam, self.L, self.kind = lam, L, kind

    def fit(self, count, exposure) -> RateChart:
        if not 0 < self.lam <= 1:
            raise ParameterError("lam", "in (0, 1]", self.lam)
        if not self.L > 0:
            raise ParameterError("L", "> 0", self.L)
        if self.kind not in ("binomial", "poisson"):
            raise ParameterError("kind", "'binomial' or 'poisson'", self.kind)
        total = float(np.sum(exposure))
        self.rate_ = float(np.sum(count)) / total if total > 0 else float("nan")
        self.reference_exposure_ = total
        return self

    def monitor(self, count, exposure) -> pd.DataFrame:
        check_is_fitted(self, "rate_")
        x, n = np.asarray(count, dtype=float), np.asarray(exposure, dtype=float)
        if not np.isfinite(self.rate_) or self.rate_ <= 0 or (self.kind == "binomial" and self.rate_ >= 1):
            z = np.zeros(len(x))  # a rate of 0 or 1 in the reference period cannot be charted
        else:
            z = quantile_residuals(x, n, self.rate_, self.kind)
        e = ewma(z, self.lam)
        lim = ewma_limit(np.arange(1, len(x) + 1), self.lam, self.L)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(n > 0, x / n, np.nan)
        return pd.DataFrame(
            {
                "count": x,
                "exposure": n,
                "rate": rate,
                "score": z,
                "ewma": e,
                "limit": lim,
                "alarm": np.abs(e) > lim,
            }
        )


def alarm_rates(path=None) -> pd.DataFrame | None:
    """The charts' measured error rates (``benchmarks/results/monitoring.json``, written by
    ``python -m benchmarks.monitoring``): one row per measure with its value and target; None without the file."""
    import json
    from pathlib import Path

    from cmlib.paths import project_root

    p = Path(path) if path else project_root() / "benchmarks" / "results" / "monitoring.json"
    if not p.is_file():
        return None
    doc = json.loads(p.read_text())
    out = pd.DataFrame(doc["measures"]).set_index("measure")
    out.index.name = f"measure ({doc['worlds']} simulated banks of {doc['n_customers']:,} customers)"
    return out

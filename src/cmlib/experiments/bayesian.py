"""cmlib.experiments — Bayesian readout (one section of the package; the package re-exports every name)."""

from __future__ import annotations

import pandas as pd
from scipy import stats

from cmlib.base import summary_of
from cmlib.experiments.lifts import BayesianResult, LiftResult


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

"""cmlib.experiments — design: power, sample size, minimum detectable effect (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from cmlib.base import Result
from cmlib.errors import ParameterError


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

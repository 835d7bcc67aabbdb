"""cmlib.monitoring — cost: what each campaign and channel spent, booked and earned net of its spend."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from cmlib.validation import require_columns


def cell_economics(
    weekly: pd.DataFrame, value_per_booking: pd.Series | dict, alpha: float = 0.05
) -> pd.DataFrame:
    """Per campaign and channel over the rows of ``weekly`` (from
    :func:`~cmlib.monitoring.kpis.weekly_funnel`): spend, bookings, cost per booking, the value of a booked
    account (``value_per_booking``: per campaign, in money), the value booked net of the spend, and the same
    with the bookings at the upper end of their exact Poisson interval at 1 − ``alpha``. ``losing``: the cell
    loses money even then — its spend buys fewer accounts than it costs, beyond doubt."""
    require_columns(weekly, ["campaign", "channel", "spend", "booked"], "weekly funnel")
    g = weekly.groupby(["campaign", "channel"], observed=True)[["spend", "booked"]].sum()
    v = pd.Series(value_per_booking, dtype=float)
    g["cost_per_booking"] = g["spend"] / g["booked"].where(g["booked"] > 0)
    g["value_per_booking"] = v.reindex(g.index.get_level_values("campaign")).to_numpy()
    g["net_value"] = g["booked"] * g["value_per_booking"] - g["spend"]
    high = stats.chi2.ppf(1 - alpha / 2, 2 * g["booked"].to_numpy() + 2) / 2
    g["net_value_high"] = high * g["value_per_booking"] - g["spend"]
    g["losing"] = np.isfinite(g["net_value_high"]) & (g["net_value_high"] < 0)
    return g

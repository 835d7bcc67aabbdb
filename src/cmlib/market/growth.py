"""cmlib.market — size and growth (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmlib.base import Result
from cmlib.errors import ParameterError
from cmlib.market.series import monthly


def cagr(first: float, last: float, years: float) -> float:
    """Compound annual growth rate: (last / first)^(1 / years) − 1."""
    if first <= 0 or last <= 0 or years <= 0:
        raise ParameterError("cagr", "positive first, last and years", (first, last, years))
    return (last / first) ** (1 / years) - 1


@dataclass(repr=False)
class GrowthResult(Result):
    """Month-on-month and year-on-year growth per month, and headline figures."""

    table: pd.DataFrame
    summary: pd.DataFrame

    def to_dict(self) -> dict:
        return self.summary.iloc[0].to_dict()


def growth(series: pd.Series) -> GrowthResult:
    """MoM and YoY growth (fractions) per month; latest level, latest YoY, CAGR over the whole span and
    over the last three years (where there are three)."""
    s = monthly(series, positive=True, min_periods=13)
    tab = pd.DataFrame({"value": s, "mom": s.pct_change(), "yoy": s.pct_change(12)})
    years = (len(s) - 1) / 12
    row = {
        "latest_month": s.index[-1].date(),
        "latest_value": s.iloc[-1],
        "yoy_latest": tab["yoy"].iloc[-1],
        "cagr_full": cagr(s.iloc[0], s.iloc[-1], years),
        "years": years,
    }
    if len(s) > 36:
        row["cagr_3y"] = cagr(s.iloc[-37], s.iloc[-1], 3.0)
    return GrowthResult(tab, pd.DataFrame([row]))


def stl(series: pd.Series, period: int = 12, log: bool = True, robust: bool = True):
    """statsmodels STL of the (log) series; ``.trend`` is the seasonally adjusted trend (exp'd back when log)."""
    s = monthly(series, positive=log, min_periods=2 * period + 1)
    from statsmodels.tsa.seasonal import STL

    return STL(np.log(s) if log else s, period=period, robust=robust).fit()

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


@dataclass(repr=False)
class STLResult(Result):
    """Seasonal-trend decomposition: ``summary`` has the observed, trend, seasonal and remainder series by
    month (on the log scale when ``log``); ``trend``, ``seasonal`` and ``resid`` as statsmodels names them."""

    summary: pd.DataFrame
    log: bool

    @property
    def trend(self) -> pd.Series:
        return self.summary["trend"]

    @property
    def seasonal(self) -> pd.Series:
        return self.summary["seasonal"]

    @property
    def resid(self) -> pd.Series:
        return self.summary["remainder"]

    def to_dict(self) -> dict:
        # the seasonal amplitude: how far the strongest month sits from the weakest (log points when log)
        return {"seasonal_range": float(self.seasonal.max() - self.seasonal.min())}

    def plot(self, ax=None):
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(8, 4))[1]
        ax.plot(self.summary.index, self.summary["observed"], color="grey", lw=1, label="observed")
        ax.plot(self.summary.index, self.trend, lw=2, label="trend")
        ax.set(title="Trend without the season", ylabel="log value" if self.log else "value")
        ax.legend()
        return ax


def stl(series: pd.Series, period: int = 12, log: bool = True, robust: bool = True) -> STLResult:
    """statsmodels STL of the (log) series; ``.trend`` is the seasonally adjusted trend (on the log scale
    when ``log``: exponentiate it for levels)."""
    s = monthly(series, positive=log, min_periods=2 * period + 1)
    from statsmodels.tsa.seasonal import STL

    fit = STL(np.log(s) if log else s, period=period, robust=robust).fit()
    summ = pd.DataFrame(
        {"observed": fit.observed, "trend": fit.trend, "seasonal": fit.seasonal, "remainder": fit.resid}
    )
    return STLResult(summ, log)

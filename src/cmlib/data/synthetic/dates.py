"""cmlib.data.synthetic — calendar (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Calendar:
    """Dates of the world: campaigns run for ``campaign_months`` from ``start``; performance is observed
    to ``observe_end`` (inclusive month); the market panel runs ``market_start``..``observe_end``."""

    start: str = "2023-01-01"
    campaign_months: int = 24
    observe_end: str = "2025-12-01"
    market_start: str = "2015-01-01"
    experiment_month: int = 14  # 0-based month index of the randomised test (2024-03)
    macro_shock: str = "2024-09-01"
    market_break: str = "2020-04-01"

    def months(self, first: str, last: str) -> pd.DatetimeIndex:
        return pd.date_range(first, last, freq="MS")

    @property
    def campaign_index(self) -> pd.DatetimeIndex:
        return pd.date_range(self.start, periods=self.campaign_months, freq="MS")

    @property
    def panel_index(self) -> pd.DatetimeIndex:
        return self.months(self.start, self.observe_end)


def unemployment(cal: Calendar) -> pd.Series:
    """The macro series (percent): 4.5 baseline, a shock at ``macro_shock`` rising 3 pp over three months
    and decaying with a six-month half-life."""
    idx = cal.months(cal.market_start, cal.observe_end)
    k = np.arange(len(idx)) - idx.get_loc(pd.Timestamp(cal.macro_shock))
    rise = np.clip((k + 1) / 3.0, 0.0, 1.0)
    decay = np.where(k > 2, 0.5 ** ((k - 2) / 6.0), 1.0)
    seasonal = 0.15 * np.sin(2 * np.pi * idx.month.to_numpy() / 12)
    return pd.Series(4.5 + 3.0 * rise * decay + seasonal, index=idx, name="unemployment_pct")

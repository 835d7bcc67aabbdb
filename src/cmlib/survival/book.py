"""cmlib.survival — vintages, roll rates, projection (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cmlib import engine
from cmlib.base import Result, TableResult, summary_of
from cmlib.errors import ParameterError


@dataclass(repr=False)
class VintageResult(Result):
    """Cumulative bad rate by origination cohort (rows) × months on book (columns)."""

    summary: pd.DataFrame

    def to_dict(self) -> dict:
        at12 = self.summary[12].dropna() if 12 in self.summary else pd.Series(dtype=float)
        return {
            "cohorts": len(self.summary),
            "mean_bad_rate_mob12": float(at12.mean()) if len(at12) else float("nan"),
        }

    def plot(self, ax=None):
        """Heat map: cohort × months on book, darker = more accounts gone bad."""
        import matplotlib.pyplot as plt
        import seaborn as sns

        ax = ax or plt.subplots(figsize=(9, 4.5))[1]
        sns.heatmap(
            self.summary,
            cmap="rocket_r",
            ax=ax,
            cbar_kws={"format": plt.FuncFormatter(lambda v, _: f"{v:.0%}")},
        )
        # cohorts as year-month, not timestamps
        ax.set_yticklabels([str(pd.Timestamp(t.get_text()).date())[:7] for t in ax.get_yticklabels()])
        ax.set(
            xlabel="months on book", ylabel="origination cohort", title="Vintage curves: cumulative bad rate"
        )
        return ax


@dataclass(repr=False)
class RollRateResult(Result):
    """Month-to-month transition probabilities between account states (rows sum to 1)."""

    summary: pd.DataFrame

    def to_dict(self) -> dict:
        m = self.summary
        return {
            f"roll_{a}_to_{b}": float(m.loc[a, b])
            for a, b in zip(m.index[:-1], m.columns[1:], strict=False)
            if a in m.index and b in m.columns
        }

    def plot(self, ax=None):
        import matplotlib.pyplot as plt
        import seaborn as sns

        ax = ax or plt.subplots(figsize=(6, 5))[1]
        sns.heatmap(self.summary, annot=True, fmt=".0%", cmap="Blues", cbar=False, ax=ax)
        ax.set(xlabel="state next month", ylabel="state this month", title="Roll rates")
        return ax


def vintage_curves(
    panel: Any, bad_dpd: int = 90, min_accounts: int = 1, backend: str = "duckdb"
) -> VintageResult:
    """Cumulative bad rate (share of the cohort's accounts that reached ``bad_dpd``+) by origination cohort
    (rows) × months on book (columns); a cell is blank where the cohort is not yet observed."""
    v = engine.vintage_counts(panel, bad_dpd=bad_dpd, backend=backend)
    v = v[v["n_accounts"] >= min_accounts].copy()
    v["cum_bad"] = v.groupby("cohort")["n_new_bad"].cumsum()
    v["cum_bad_rate"] = v["cum_bad"] / v["n_accounts"]
    return VintageResult(v.pivot(index="cohort", columns="mob", values="cum_bad_rate"))


def roll_rate_matrix(
    panel: Any, states: Sequence[str] | None = None, backend: str = "duckdb"
) -> RollRateResult:
    """Month-to-month transition probabilities between states (rows sum to 1; absorbing states stay put)."""
    r = engine.roll_counts(panel, backend=backend)
    m = r.pivot(index="from_state", columns="to_state", values="n").fillna(0.0)
    st = list(states) if states is not None else sorted(set(m.index) | set(m.columns))
    m = m.reindex(index=st, columns=st, fill_value=0.0)
    for s in st:
        if m.loc[s].sum() == 0:
            m.loc[s, s] = 1.0  # absorbing (charged off, closed, prepaid)
    return RollRateResult(m.div(m.sum(axis=1), axis=0))


def markov_projection(matrix: RollRateResult | pd.DataFrame, start: pd.Series, months: int) -> TableResult:
    """Expected accounts per state for the next ``months`` months from counts ``start`` (by state)."""
    if months < 1:
        raise ParameterError("months", "an integer ≥ 1", months)
    matrix = summary_of(matrix)
    x = start.reindex(matrix.index, fill_value=0.0).to_numpy(float)
    P = matrix.to_numpy()
    rows = []
    for _ in range(months):
        x = x @ P
        rows.append(x.copy())
    return TableResult(
        pd.DataFrame(rows, index=pd.RangeIndex(1, months + 1, name="months_ahead"), columns=matrix.index)
    )

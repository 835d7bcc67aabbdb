"""cmlib.market — segments (one section of the package; the package re-exports every name)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cmlib.base import Result, TableResult
from cmlib.errors import DataError, ParameterError
from cmlib.validation import require_columns


@dataclass(repr=False)
class AttractivenessResult(Result):
    """Segments ranked by a weighted sum of standardised metrics."""

    summary: pd.DataFrame
    weights: dict

    def plot(self, ax=None, x: str = "growth", y: str = "bad_rate_12m", size: str = "size"):
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        s = self.summary
        area = 2000 * s[size] / s[size].max()
        dots = ax.scatter(s[x], s[y], s=area, alpha=0.5, c=s["score"], cmap="viridis", edgecolor="black")
        for seg, r in s.iterrows():
            ax.annotate(str(seg), (r[x], r[y]), ha="center", va="center", fontsize=9)
        words = {"growth": "market growth, a year", "bad_rate_12m": "bad rate (90+ DPD within 12 months)"}
        ax.set_xlabel(words.get(x, x.replace("_", " ")))
        ax.set_ylabel(words.get(y, y.replace("_", " ")))
        ax.figure.colorbar(dots, ax=ax, label="attractiveness score (weighted z-scores)")
        ax.xaxis.set_major_formatter(lambda v, _: f"{v:.1%}")
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.1%}")
        ax.set_title(f"Segments: bubble = {size.replace('_', ' ')}, colour = attractiveness score")
        return ax


def attractiveness(metrics: pd.DataFrame, weights: dict[str, float]) -> AttractivenessResult:
    """Rank segments (rows of ``metrics``) by Σ weight × z-score of each metric. A negative weight marks a
    metric where less is better (bad rate). Weights are the analyst's to change."""
    bad = {
        c: w
        for c, w in dict(weights).items()
        if isinstance(w, bool) or not isinstance(w, int | float) or w != w
    }
    if bad:
        raise ParameterError("weights", "a number per metric (negative: less is better)", bad)
    missing = [c for c in weights if c not in metrics.columns]
    if missing:
        raise ParameterError("weights", f"metrics among {list(metrics.columns)}", missing)
    if len(metrics) < 2:
        raise DataError.single("segments", "segment", "at least two segments to rank", len(metrics))
    z = pd.DataFrame({c: (metrics[c] - metrics[c].mean()) / (metrics[c].std(ddof=0) or 1.0) for c in weights})
    out = metrics.copy()
    out["score"] = sum(w * z[c] for c, w in weights.items())
    out["rank"] = out["score"].rank(ascending=False, method="first").astype(int)
    return AttractivenessResult(out.sort_values("rank"), dict(weights))


def segment_metrics(
    market: pd.DataFrame,
    customers: pd.DataFrame,
    contacts: pd.DataFrame,
    applications: pd.DataFrame,
    performance: pd.DataFrame,
    by: str = "segment",
) -> TableResult:
    """Per segment, from the bank's own tables and the market panel: size (latest market balance),
    growth (YoY of market balance), responses per contact, approvals per application, the 12-month bad
    rate of booked accounts (90+ DPD within 12 months on book) and monthly margin per account. ``segment`` must be a column of both ``market`` and ``customers``."""
    for name, df, cols in (
        ("market", market, ["month", by, "market_balance"]),
        ("customers", customers, ["customer_id", by]),
        ("contacts", contacts, ["customer_id", "responded"]),
        ("applications", applications, ["customer_id", "decision", "bad_12m"]),
        ("performance", performance, ["customer_id", "margin"]),
    ):
        require_columns(df, cols, name)
    last = market["month"].max()
    cur = market[market["month"] == last].set_index(by)["market_balance"]
    prev = market[market["month"] == last - pd.DateOffset(years=1)].set_index(by)["market_balance"]
    seg_of = customers.set_index("customer_id")[by]
    con = contacts.assign(_s=contacts["customer_id"].map(seg_of))
    app = applications.assign(_s=applications["customer_id"].map(seg_of))
    perf = performance.assign(_s=performance["customer_id"].map(seg_of))
    out = pd.DataFrame(
        {
            "size": cur,
            "growth": cur / prev - 1,
            # each rate named by its denominator (and the bad rate by its definition): 90+ DPD within 12
            # months on book, of booked accounts
            "responses_per_contact": con.groupby("_s")["responded"].mean(),
            "approvals_per_application": app.groupby("_s")["decision"].apply(
                lambda d: (d == "approved").mean()
            ),
            "bad_rate_12m": app.groupby("_s")["bad_12m"].mean(),
            "margin_per_account_month": perf.groupby("_s")["margin"].mean(),
        }
    )
    out.index.name = by
    return TableResult(out.dropna(subset=["size"]))

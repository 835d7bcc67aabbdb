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
    customers,
    contacts,
    applications,
    performance,
    by: str = "segment",
    backend: str = "duckdb",
) -> TableResult:
    """Per segment, from the bank's own tables and the market panel: size (latest market balance),
    growth (YoY of market balance), responses per contact, approvals per application, the 12-month bad
    rate of booked accounts (90+ DPD within 12 months on book) and monthly margin per account. ``segment`` must
    be a column of both ``market`` and ``customers``.

    The four bank tables may be pandas frames, Parquet folders or Ibis tables: each rate is one
    join-and-group-by in :mod:`cmlib.engine` on ``backend`` (DuckDB in process, or Spark), so the contacts
    and the monthly performance of a whole book are never brought into Python. A customer not in
    ``customers`` belongs to no segment and is left out."""
    from cmlib import engine

    require_columns(market, ["month", by, "market_balance"], "market")
    tabs = {
        "customers": (customers, ["customer_id", by]),
        "contacts": (contacts, ["customer_id", "responded"]),
        "applications": (applications, ["customer_id", "decision", "bad_12m"]),
        "performance": (performance, ["customer_id", "margin"]),
    }
    t = {}
    for name, (data, cols) in tabs.items():
        t[name] = engine.table(data, backend)
        require_columns(t[name], cols, name)
    seg = t["customers"].select("customer_id", by)

    def rate(name: str, value) -> pd.Series:
        j = t[name].inner_join(seg, "customer_id")
        expr = j.group_by(by).aggregate(v=value(j).cast("float64").mean()).order_by(by)
        return engine.execute(expr, backend).set_index(by)["v"]

    last = market["month"].max()
    cur = market[market["month"] == last].set_index(by)["market_balance"]
    prev = market[market["month"] == last - pd.DateOffset(years=1)].set_index(by)["market_balance"]
    out = pd.DataFrame(
        {
            "size": cur,
            "growth": cur / prev - 1,
            # each rate named by its denominator (and the bad rate by its definition): 90+ DPD within 12
            # months on book, of booked accounts
            "responses_per_contact": rate("contacts", lambda j: j["responded"]),
            "approvals_per_application": rate("applications", lambda j: j["decision"] == "approved"),
            "bad_rate_12m": rate("applications", lambda j: j["bad_12m"]),
            "margin_per_account_month": rate("performance", lambda j: j["margin"]),
        }
    )
    out.index.name = by
    return TableResult(out.dropna(subset=["size"]))

"""cmlib.monitoring — the weekly KPI tree, its decomposition and the charts over every KPI and channel.

One definition per rate, as :data:`STAGE_RATES` names them: each stage of the funnel is a share of the stage
before it (response = responses / contacts, application = applications / responses, approval = approvals /
applications, booking = bookings / approvals, activation = activations / bookings), so that bookings =
contacts × response × application × approval × booking exactly, and a change in bookings splits exactly into
the stages that moved (:func:`decompose`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cmlib.base import Result
from cmlib.errors import ParameterError
from cmlib.monitoring.charts import EWMA_L, EWMA_LAMBDA, RateChart, cusum_start
from cmlib.validation import require_columns

FUNNEL = ["contacts", "responded", "applied", "approved", "booked", "activated"]
#: the stage rates: name → (numerator, denominator)
STAGE_RATES = {
    "response_rate": ("responded", "contacts"),
    "application_rate": ("applied", "responded"),
    "approval_rate": ("approved", "applied"),
    "booking_rate": ("booked", "approved"),
    "activation_rate": ("activated", "booked"),
}
#: every KPI a control chart watches: name → (numerator, denominator, distribution of the count)
CHART_KPIS = {
    **{k: (n, d, "binomial") for k, (n, d) in STAGE_RATES.items()},
    "early_dpd30_rate": ("early_dpd30", "mature_bookings", "binomial"),
    "complaints_per_contact": ("complaints", "contacts", "poisson"),
}
#: weeks after booking before spend in 90 days and 30+ DPD in three months are known
MATURITY_WEEKS = 13


def week_start(dates) -> pd.Series:
    """The Monday of each date's week (weeks are named by the Monday they start on)."""
    d = pd.to_datetime(pd.Series(dates)).dt.normalize()
    return d - pd.to_timedelta(d.dt.day_of_week, unit="D")


def weekly_funnel(
    contacts,
    complaints: pd.DataFrame | None = None,
    cells: pd.DataFrame | None = None,
    by: tuple[str, ...] = ("campaign", "channel"),
    backend: str = "duckdb",
) -> pd.DataFrame:
    """Weekly counts per ``by`` cell: contacts and each funnel stage, spend (contact costs plus each cell's
    ``fixed_weekly_cost`` from ``cells`` in the weeks it ran), bookings whose early outcome is known
    (``mature_bookings``) and how many of them reached 30+ DPD within three months (``early_dpd30``), spend in
    90 days of the active accounts known by then, and complaints received that week.

    ``contacts``: one row per contact with ``week`` (any date in it), the ``by`` columns, 0/1 funnel flags
    and ``cost``; ``early_dpd30`` (missing until known) and ``spend_90d`` are optional. A pandas frame is
    counted in memory; an Ibis table, or any frame with ``backend="spark"``, is counted by
    :mod:`cmlib.engine` on that backend (the same counts, tested), so the contacts may be a table of any
    size. Complaints and cells are small and stay in pandas."""
    by = list(by)
    require_columns(contacts, ["week", *by, *FUNNEL[1:], "cost"], "contacts")
    in_memory = isinstance(contacts, pd.DataFrame) and backend == "duckdb"
    g = _weekly_counts(contacts, by) if in_memory else _weekly_counts_engine(contacts, by, backend)
    g = g.rename(columns={"cost": "spend"})
    if cells is not None and "fixed_weekly_cost" in cells:
        fixed = cells.set_index(by)["fixed_weekly_cost"]
        key = pd.MultiIndex.from_frame(g[by]) if len(by) > 1 else pd.Index(g[by[0]])
        g["spend"] += fixed.reindex(key).fillna(0.0).to_numpy()
    g["complaints"] = 0
    if complaints is not None and len(complaints):
        require_columns(complaints, ["date", *by], "complaints")
        k = complaints.assign(week=week_start(complaints["date"]).to_numpy())
        n = k.groupby(["week", *by], observed=True).size().rename("n").reset_index()
        g = g.merge(n, on=["week", *by], how="left")
        g["complaints"] = g.pop("n").fillna(0).astype(np.int64)
    return g


def _weekly_counts(contacts: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    c = contacts.assign(week=week_start(contacts["week"]).to_numpy())
    flags = {k: c[k].astype(bool).astype(np.int64) for k in FUNNEL[1:]}
    d = pd.DataFrame({"week": c["week"], **{b: c[b] for b in by}, **flags, "cost": c["cost"].astype(float)})
    d["contacts"] = 1
    if "early_dpd30" in c:
        known = c["early_dpd30"].notna() & c["booked"].astype(bool)
        d["mature_bookings"] = known.astype(np.int64)
        d["early_dpd30"] = (c["early_dpd30"].fillna(False).astype(bool) & known).astype(np.int64)
    if "spend_90d" in c:
        d["active_mature"] = c["spend_90d"].notna().astype(np.int64)
        d["spend_90d"] = c["spend_90d"].fillna(0.0).astype(float)
    return d.groupby(["week", *by], observed=True, sort=True).sum().reset_index()


def _weekly_counts_engine(contacts, by: list[str], backend: str) -> pd.DataFrame:
    """:func:`_weekly_counts` as one engine query: the same columns, order and dtypes."""
    from cmlib import engine

    t = engine.table(contacts, backend)
    # the Monday of the week on both engines (date_trunc('week') starts weeks on Monday in DuckDB and Spark)
    t = t.mutate(week=t["week"].cast("date").truncate("W"))
    flag = {k: t[k].cast("boolean").fill_null(False) for k in FUNNEL[1:]}
    aggs = {k: engine._bool_count(flag[k]) for k in FUNNEL[1:]}
    aggs["cost"] = t["cost"].cast("float64").sum().fill_null(0.0)
    aggs["contacts"] = t.count().cast("int64")
    if "early_dpd30" in t.columns:
        known = t["early_dpd30"].notnull() & flag["booked"]
        aggs["mature_bookings"] = engine._bool_count(known)
        aggs["early_dpd30"] = engine._bool_count(t["early_dpd30"].cast("boolean").fill_null(False) & known)
    if "spend_90d" in t.columns:
        aggs["active_mature"] = t["spend_90d"].count().cast("int64")
        aggs["spend_90d"] = t["spend_90d"].cast("float64").sum().fill_null(0.0)
    expr = t.group_by(["week", *by]).aggregate(**aggs).order_by(["week", *by])
    g = engine.execute(expr, backend)
    # the week's resolution as the in-memory path gives it (that of the frame's dates; microseconds otherwise)
    unit = contacts["week"].dtype if isinstance(contacts, pd.DataFrame) else None
    unit = unit if pd.api.types.is_datetime64_dtype(unit) else "datetime64[us]"
    g["week"] = pd.to_datetime(g["week"]).astype(unit)
    return g.reset_index(drop=True)


def kpi_values(counts: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    """The KPI tree from summed counts (a row per period, or one Series): each stage rate, bookings,
    activations, spend, cost per booked account, early delinquency (30+ DPD in three months, share of the
    bookings whose outcome is known), spend in 90 days per active account, complaints per 10,000 contacts."""
    c = counts.to_frame().T if isinstance(counts, pd.Series) else counts
    out = pd.DataFrame(index=c.index)
    out["contacts"] = c["contacts"]
    with np.errstate(invalid="ignore", divide="ignore"):
        for k, (num, den) in STAGE_RATES.items():
            out[k] = c[num] / c[den].where(c[den] > 0)
        out["bookings"] = c["booked"]
        out["activations"] = c["activated"]
        out["spend"] = c["spend"]
        out["cost_per_booking"] = c["spend"] / c["booked"].where(c["booked"] > 0)
        if "mature_bookings" in c:
            out["early_dpd30_rate"] = c["early_dpd30"] / c["mature_bookings"].where(c["mature_bookings"] > 0)
        if "active_mature" in c:
            out["spend_90d_per_active"] = c["spend_90d"] / c["active_mature"].where(c["active_mature"] > 0)
        out["complaints_per_10k"] = 1e4 * c["complaints"] / c["contacts"].where(c["contacts"] > 0)
    return out.iloc[0] if isinstance(counts, pd.Series) else out


def _logmean(a: float, b: float) -> float:
    if a <= 0 or b <= 0:
        return float("nan")
    return a if np.isclose(a, b, rtol=1e-12, atol=0) else (a - b) / (np.log(a) - np.log(b))


@dataclass
class Decomposition(Result):
    """How a product of factors changed between two periods: ``summary`` has one row per factor (before,
    after, relative change, contribution to the change of the total in its units); the contributions add up
    to ``change`` exactly."""

    summary: pd.DataFrame
    before: float
    after: float
    change: float


def decompose(before: dict | pd.Series, after: dict | pd.Series, factors: list[str]) -> Decomposition:
    """Split the change of total = Π factors into one contribution per factor (log-mean Divisia index, LMDI-I,
    Ang 2004): contribution_i = L(total₁, total₀) · ln(factor_i₁ / factor_i₀), L the logarithmic mean. Exact
    (no residual) and the same whichever order the factors are listed in; needs every factor positive."""
    b = pd.Series({f: float(before[f]) for f in factors})
    a = pd.Series({f: float(after[f]) for f in factors})
    if (b <= 0).any() or (a <= 0).any() or b.isna().any() or a.isna().any():
        bad = [f for f in factors if not (b[f] > 0 and a[f] > 0)]
        raise ParameterError("factors", "positive values in both periods", bad, where="decompose")
    t0, t1 = float(b.prod()), float(a.prod())
    contrib = _logmean(t1, t0) * np.log(a / b)
    summary = pd.DataFrame(
        {"before": b, "after": a, "relative_change": a / b - 1, "contribution": contrib}, index=factors
    )
    summary.index.name = "factor"
    return Decomposition(summary, t0, t1, t1 - t0)


@dataclass
class KPIMonitor(Result):
    """Every KPI chart of every cell. ``charts``: one row per KPI, cell and monitored week (rate, reference
    rate, score, EWMA, limit, alarm). ``summary``: the alarms standing in the last week, one row each with the
    KPI, the cell, the direction, the estimated start week, the rate since then against the reference rate
    with the relative change and its interval, and the campaigns whose own rate moved."""

    summary: pd.DataFrame
    charts: pd.DataFrame
    n_series: int
    kpi_weeks: int

    def plot(self, kpi: str, cell: str, ax=None):
        import matplotlib.pyplot as plt

        ax = ax or plt.subplots(figsize=(7, 3))[1]
        d = self.charts[(self.charts["kpi"] == kpi) & (self.charts["cell"] == cell)]
        ax.plot(d["week"], d["ewma"], label="EWMA of weekly scores")
        ax.plot(d["week"], d["limit"], color="grey", ls="--", lw=0.8, label="limits")
        ax.plot(d["week"], -d["limit"], color="grey", ls="--", lw=0.8)
        hit = d[d["alarm"]]
        ax.scatter(hit["week"], hit["ewma"], color="C3", zorder=3, label="alarm")
        ax.axhline(0, color="black", lw=0.5)
        ax.set_title(f"{kpi.replace('_', ' ')}: {cell}")
        ax.set_ylabel("EWMA (standard scores)")
        ax.legend(loc="lower left", fontsize=8)
        return ax


def _log_ratio_ci(x1, n1, x0, n0, kind, z):
    """Relative change of rate x1/n1 against x0/n0 with a log-ratio (Katz) interval."""
    p1, p0 = x1 / n1, x0 / n0
    if x1 <= 0 or x0 <= 0:
        return p1 / p0 - 1 if p0 > 0 else float("nan"), float("nan"), float("nan")
    var = 1 / x1 + 1 / x0 if kind == "poisson" else (1 - p1) / x1 + (1 - p0) / x0
    r = np.log(p1 / p0)
    return (
        float(np.exp(r) - 1),
        float(np.exp(r - z * np.sqrt(var)) - 1),
        float(np.exp(r + z * np.sqrt(var)) - 1),
    )


def monitor_kpis(
    weekly: pd.DataFrame,
    as_of,
    cell: str = "channel",
    reference_weeks: int = 52,
    monitor_weeks: int = 52,
    lam: float = EWMA_LAMBDA,
    L: float = EWMA_L,
    alpha: float = 0.01,
    kpis: dict | None = None,
) -> KPIMonitor:
    """Chart every KPI of :data:`CHART_KPIS` for every value of ``cell`` (a column of ``weekly``, from
    :func:`weekly_funnel`): the rate of the ``reference_weeks`` before the monitored ``monitor_weeks`` ending
    at ``as_of`` is the reference; an alarm stands when the EWMA of the weekly scores is beyond its limits in
    the week ``as_of``. Early delinquency is charted on the bookings whose outcome is known, so its last
    :data:`MATURITY_WEEKS` weeks are not charted. ``alpha``: of the interval of each alarm's size and of the
    test that names the campaigns that moved."""
    from scipy import stats

    kpis = kpis or CHART_KPIS
    as_of = pd.Timestamp(as_of)
    w = weekly[weekly["week"] <= as_of]
    weeks = pd.DatetimeIndex(sorted(w["week"].unique()))
    if len(weeks) < 2:
        raise ParameterError("as_of_week", "a week with at least one week of data before it", as_of)
    first_mon = weeks[max(0, len(weeks) - monitor_weeks)]
    ref_start = first_mon - pd.Timedelta(weeks=reference_weeks)
    z = stats.norm.ppf(1 - alpha / 2)
    has_campaign = "campaign" in w and cell != "campaign"
    cols = sorted({c for n, d, _ in kpis.values() for c in (n, d)} & set(w.columns))
    by_cell = w.groupby([cell, "week"], observed=True)[cols].sum()
    rows, alarms = [], []
    for kpi, (num, den, kind) in kpis.items():
        if num not in by_cell or den not in by_cell:
            continue
        end = as_of - pd.Timedelta(weeks=MATURITY_WEEKS) if kpi == "early_dpd30_rate" else as_of
        for cv, s in by_cell.groupby(level=0, observed=True):
            s = s.droplevel(0)
            ref = s[(s.index >= ref_start) & (s.index < first_mon)]
            mon = s[(s.index >= first_mon) & (s.index <= end)].reindex(
                pd.date_range(first_mon, end, freq="W-MON"), fill_value=0
            )
            if ref[den].sum() <= 0 or mon.empty:
                continue
            chart = RateChart(lam, L, kind).fit(ref[num], ref[den])
            m = chart.monitor(mon[num], mon[den])
            m.insert(0, "week", mon.index)
            m.insert(0, "cell", cv)
            m.insert(0, "kpi", kpi)
            m["reference_rate"] = chart.rate_
            rows.append(m)
            if not m["alarm"].iloc[-1] or end != as_of:
                continue
            direction = int(np.sign(m["ewma"].iloc[-1]))
            k0 = cusum_start(m["score"].to_numpy(), direction)
            k0 = len(m) - 1 if k0 is None else k0
            since = mon.iloc[k0:]
            x1, n1 = float(since[num].sum()), float(since[den].sum())
            size, lo, hi = _log_ratio_ci(x1, n1, float(ref[num].sum()), float(ref[den].sum()), kind, z)
            moved = []
            if has_campaign:
                sub = w[w[cell] == cv]
                for camp, cs in sub.groupby("campaign", observed=True):
                    cref = cs[(cs["week"] >= ref_start) & (cs["week"] < first_mon)]
                    cnow = cs[cs["week"] >= since.index[0]]
                    if (
                        cref[den].sum() > 0
                        and cnow[den].sum() > 0
                        and cref[num].sum() > 0
                        and cnow[num].sum() > 0
                    ):
                        r, clo, chi = _log_ratio_ci(
                            float(cnow[num].sum()), float(cnow[den].sum()), float(cref[num].sum()),
                            float(cref[den].sum()), kind, z,
                        )  # fmt: skip
                        if (direction < 0 and chi < 0) or (direction > 0 and clo > 0):
                            moved.append(str(camp))
            alarms.append(
                {
                    "kpi": kpi,
                    cell: cv,
                    "direction": "down" if direction < 0 else "up",
                    "start_week": since.index[0],
                    "weeks_running": len(since),
                    "reference_rate": chart.rate_,
                    "rate_since_start": x1 / n1 if n1 else float("nan"),
                    "relative_change": size,
                    "ci_low": lo,
                    "ci_high": hi,
                    "campaigns_moved": ", ".join(moved) if moved else ("none alone" if has_campaign else ""),
                }
            )
    charts = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    summary = pd.DataFrame(
        alarms,
        columns=[
            "kpi", cell, "direction", "start_week", "weeks_running", "reference_rate", "rate_since_start",
            "relative_change", "ci_low", "ci_high", "campaigns_moved",
        ],
    )  # fmt: skip
    n_series = int(charts.groupby(["kpi", "cell"]).ngroups) if len(charts) else 0
    return KPIMonitor(summary, charts, n_series, len(charts))


def resolve_week(value, weeks) -> pd.Timestamp:
    """The Monday of the week to report: ``"latest"`` (the last week of ``weeks``) or a date in a week of the
    data; anything else is a ParameterError naming the weeks available."""
    weeks = pd.DatetimeIndex(sorted(pd.unique(pd.Series(weeks))))
    span = f"a week from {weeks[0].date()} to {weeks[-1].date()} (YYYY-MM-DD) or 'latest'"
    if isinstance(value, str) and value.strip().lower() == "latest":
        return weeks[-1]
    try:
        wk = week_start([pd.Timestamp(value)]).iloc[0]
    except (ValueError, TypeError):
        raise ParameterError("as_of_week", span, value) from None
    if wk not in weeks or wk == weeks[0]:
        raise ParameterError("as_of_week", span + ", after the first week", value)
    return wk


#: the rows of the KPI tree and their units (for the report's formatting)
TREE_UNITS = {
    "contacts": "count",
    "response_rate": "percent",
    "application_rate": "percent",
    "approval_rate": "percent",
    "booking_rate": "percent",
    "bookings": "count",
    "activation_rate": "percent",
    "activations": "count",
    "spend": "money",
    "cost_per_booking": "money",
    "early_dpd30_rate": "percent",
    "complaints_per_10k": "number",
}


@dataclass
class WeekView(Result):
    """One week's KPI tree (rows: :data:`TREE_UNITS`) against the plan, the week before and the same week a
    year before (columns; a period the data do not reach is left out), with the relative change against
    each. Early delinquency is that of the bookings :data:`MATURITY_WEEKS` weeks earlier (the latest whose
    outcome is known). ``counts``: the summed counts of each period; ``plan``: the plan's totals; ``noise``:
    per KPI and change column, True when the change is within sampling noise (p ≥ :data:`NOISE_P`)."""

    summary: pd.DataFrame
    counts: dict
    plan: pd.Series | None
    week: pd.Timestamp
    noise: pd.DataFrame | None = None

    def decomposition(self) -> pd.DataFrame:
        """The change in bookings against each period split into the stages that moved (LMDI, exact): rows
        contacts and each stage rate (against the plan, only contacts, response rate and bookings per
        response, the plan's own terms), one column per period in bookings; the last row is the total."""
        stages = ["contacts", *list(STAGE_RATES)[:4]]
        now = kpi_values(self.counts["this week"])
        cols = {}
        for name, c in self.counts.items():
            if name == "this week":
                continue
            k = kpi_values(c)
            try:
                cols[name] = decompose(k[stages], now[stages], stages).summary["contribution"]
            except ParameterError:
                cols[name] = pd.Series(np.nan, index=stages)
        if self.plan is not None and self.plan["responses"] > 0 and now["bookings"] > 0:
            bpr = {"bookings_per_response": self.plan["bookings"] / self.plan["responses"]}
            before = {
                "contacts": self.plan["contacts"],
                "response_rate": self.plan["responses"] / self.plan["contacts"],
                **bpr,
            }
            after = {
                "contacts": now["contacts"],
                "response_rate": now["response_rate"],
                "bookings_per_response": now["bookings"] / (now["contacts"] * now["response_rate"]),
            }
            cols["plan"] = decompose(before, after, list(before)).summary["contribution"]
        out = pd.DataFrame(cols).reindex([*stages, "bookings_per_response"])
        out.loc["bookings (total change)"] = out.sum(min_count=1)
        out.index.name = "driver"
        return out


def week_view(weekly: pd.DataFrame, plan: pd.DataFrame | None, week) -> WeekView:
    """The KPI tree of ``week`` (a Monday of ``weekly``, from :func:`weekly_funnel`) against the plan (weekly
    contacts, responses, bookings and spend per cell), last week and the same week last year."""
    week = pd.Timestamp(week)
    num = (
        weekly.drop(columns=[c for c in ("campaign", "channel", "segment") if c in weekly])
        .groupby("week")
        .sum()
    )
    periods = {
        "this week": week,
        "last week": week - pd.Timedelta(weeks=1),
        "same week last year": week - pd.Timedelta(weeks=52),
    }
    counts = {k: num.loc[w] for k, w in periods.items() if w in num.index}
    cols = {}
    for k, w in periods.items():
        if k not in counts:
            continue
        v = kpi_values(counts[k]).reindex(list(TREE_UNITS))
        mature = w - pd.Timedelta(weeks=MATURITY_WEEKS)
        v["early_dpd30_rate"] = (
            kpi_values(num.loc[mature])["early_dpd30_rate"]
            if mature in num.index and "mature_bookings" in num
            else np.nan
        )
        cols[k] = v
    p_tot = None
    if plan is not None and len(plan):
        p = plan[pd.to_datetime(plan["week"]) == week]
        if len(p):
            p_tot = p[["contacts", "responses", "bookings", "spend"]].sum()
            pv = pd.Series(np.nan, index=list(TREE_UNITS))
            pv[["contacts", "bookings", "spend"]] = p_tot[["contacts", "bookings", "spend"]].to_numpy()
            pv["response_rate"] = p_tot["responses"] / p_tot["contacts"]
            pv["cost_per_booking"] = p_tot["spend"] / p_tot["bookings"]
            cols = {
                "this week": cols["this week"],
                "plan": pv,
                **{k: v for k, v in cols.items() if k != "this week"},
            }
    s = pd.DataFrame(cols)
    for k in s.columns[1:]:
        with np.errstate(invalid="ignore", divide="ignore"):
            s[f"vs {k}"] = s["this week"] / s[k] - 1
    s.index.name = "KPI"
    mature = {
        k: num.loc[w - pd.Timedelta(weeks=MATURITY_WEEKS)]
        for k, w in periods.items()
        if w - pd.Timedelta(weeks=MATURITY_WEEKS) in num.index
    }
    return WeekView(s, counts, p_tot, week, _noise(s, counts, mature, p_tot))


#: a change is shown as noise unless its two-sided p-value is below this
NOISE_P = 0.01


def _noise(s: pd.DataFrame, counts: dict, mature: dict, plan: pd.Series | None) -> pd.DataFrame:
    """Per KPI row and change column: True when the change is within sampling noise (p ≥ :data:`NOISE_P`):
    rates by a two-proportion z-test (against the plan, a one-sample test at the plan's rate), counts by the
    conditional binomial test of two Poisson counts (against the plan, Poisson at the planned count). Money rows
    are never muted (no test)."""
    from scipy import stats

    out = pd.DataFrame(False, index=s.index, columns=[c for c in s.columns if c.startswith("vs ")])
    now = counts["this week"]

    def two_prop(x1, n1, x0, n0):
        if min(n1, n0) <= 0:
            return np.nan
        p = (x1 + x0) / (n1 + n0)
        se = np.sqrt(p * (1 - p) * (1 / n1 + 1 / n0))
        return 2 * stats.norm.sf(abs(x1 / n1 - x0 / n0) / se) if se > 0 else 1.0

    for col in out.columns:
        k = col[3:]
        for row in s.index:
            pv = np.nan
            if row in STAGE_RATES:
                num_, den = STAGE_RATES[row]
                if k == "plan" and plan is not None and row == "response_rate":
                    pv = stats.binomtest(int(now[num_]), int(now[den]), float(s.loc[row, "plan"])).pvalue
                elif k in counts:
                    pv = two_prop(now[num_], now[den], counts[k][num_], counts[k][den])
            elif row in ("contacts", "bookings", "activations"):
                c = {"contacts": "contacts", "bookings": "booked", "activations": "activated"}[row]
                if k == "plan" and plan is not None and row != "activations":
                    mu = plan[row]  # the plan's totals are named as the KPI rows
                    pv = 2 * min(stats.poisson.cdf(now[c], mu), stats.poisson.sf(now[c] - 1, mu))
                elif k in counts and now[c] + counts[k][c] > 0:
                    pv = stats.binomtest(int(now[c]), int(now[c] + counts[k][c]), 0.5).pvalue
            elif row == "early_dpd30_rate" and k in mature and "this week" in mature:
                a, b = mature["this week"], mature[k]
                pv = two_prop(a["early_dpd30"], a["mature_bookings"], b["early_dpd30"], b["mature_bookings"])
            elif row == "complaints_per_10k" and k in counts:
                x1, x0 = now["complaints"], counts[k]["complaints"]
                n1, n0 = now["contacts"], counts[k]["contacts"]
                if x1 + x0 > 0:
                    pv = stats.binomtest(int(x1), int(x1 + x0), n1 / (n1 + n0)).pvalue
            out.loc[row, col] = bool(np.isfinite(pv) and pv >= NOISE_P)
    return out


def rates_by(weekly: pd.DataFrame, by: str, kpis: list[str], alpha: float = 0.05) -> pd.DataFrame:
    """Each KPI of :data:`CHART_KPIS` in ``kpis`` per ``by`` group over the rows of ``weekly``, with its
    denominator and a Wilson interval at 1 − ``alpha`` (statsmodels' ``proportion_confint``)."""
    from statsmodels.stats.proportion import proportion_confint

    out = {}
    g = weekly.groupby(by, observed=True)
    for k in kpis:
        num, den, _ = CHART_KPIS[k]
        x, n = g[num].sum(), g[den].sum()
        lo, hi = proportion_confint(x.to_numpy(), np.maximum(n.to_numpy(), 1), alpha=alpha, method="wilson")
        out[f"{k}_n"] = n.astype(np.int64)
        out[k] = x / n.where(n > 0)
        out[f"{k}_ci_low"] = pd.Series(np.where(n > 0, lo, np.nan), index=x.index)
        out[f"{k}_ci_high"] = pd.Series(np.where(n > 0, hi, np.nan), index=x.index)
    return pd.DataFrame(out)

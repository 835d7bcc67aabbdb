"""Monitoring alarms (issue: campaign monitoring): false alarms and detection of the control charts, measured on
many simulated monitoring feeds at the default settings of notebook 06.

For each seed, the weekly monitoring feed of the 1M-customer bank is drawn again (its own random stream; the
customers are the default bank's) and notebook 06's statistics run on it:

* false alarms: the share of stable KPI-weeks (every KPI, channel and monitored week except the planted drop's
  series from its start) on which a chart is beyond its limits, with the report's week the last of the data;
  and the share of feeds with an alarm standing in that week other than the planted one;
* detection: the planted response drop flagged in its first or second week (the report's week one week after
  the start), and its start week estimated exactly (or within a week) in the last week's report;
* complaints: the misleading campaign flagged, and any other campaign flagged;
* contacts: the planted breaches all found and none invented.

Targets (issue #18): at most 1 false alarm per 100 KPI-weeks; detection within two weeks in at least 90 % of
seeds. Run: ``python -m benchmarks.monitoring [--quick]`` (quick: 20 seeds at 200k customers).
"""

from __future__ import annotations

import sys
import time

import pandas as pd

from benchmarks.common import size_from_args, write


def one_feed(customers: pd.DataFrame, seed: int) -> dict:
    from cmlib import monitoring as mo
    from cmlib.data.synthetic import simulate_monitoring

    m = simulate_monitoring(customers, seed)
    drop = m.truth["planted"]["response_drop"]
    start = pd.Timestamp(drop["start_week"])
    weekly = mo.weekly_funnel(m.contacts, m.complaints, m.campaigns)
    last = weekly["week"].max()
    mon = mo.monitor_kpis(weekly, last)
    c = mon.charts
    planted = (c["kpi"] == drop["kpi"]) & (c["cell"] == drop["channel"]) & (c["week"] >= start)
    stable = c[~planted]
    hit = mon.summary[(mon.summary["kpi"] == drop["kpi"]) & (mon.summary["channel"] == drop["channel"])]
    early = mo.monitor_kpis(weekly, start + pd.Timedelta(weeks=1)).charts
    e = early[(early["kpi"] == drop["kpi"]) & (early["cell"] == drop["channel"]) & (early["week"] >= start)]
    recent = last - pd.Timedelta(weeks=25)
    w = weekly[weekly["week"] >= recent]
    comp = m.complaints[mo.week_start(m.complaints["date"]).to_numpy() >= recent]
    flags = mo.complaint_outliers(
        mo.complaint_rates(comp, w.groupby("campaign")["contacts"].sum(), "campaign"), 2.0
    )
    mis = m.truth["planted"]["misleading_campaign"]["campaign"]
    monitored = m.contacts[m.contacts["week"] >= last - pd.Timedelta(weeks=51)]
    br = mo.contact_breaches(monitored, customers)
    planted_ids = set(m.truth["planted"]["permission_breach_contact_ids"]) | set(
        m.truth["planted"]["do_not_contact_breach_contact_ids"]
    )
    err = (pd.Timestamp(hit["start_week"].iloc[0]) - start).days // 7 if len(hit) else None
    return {
        "stable_kpi_weeks": len(stable),
        "false_alarm_weeks": int(stable["alarm"].sum()),
        "false_standing_alarms": len(mon.summary) - len(hit),
        "detected_within_2_weeks": bool(e["alarm"].any()),
        "start_exact": err == 0,
        "start_within_1_week": err is not None and abs(err) <= 1,
        "misleading_flagged": bool(flags.loc[mis, "flagged"]),
        "other_campaigns_flagged": int(flags["flagged"].sum() - flags.loc[mis, "flagged"]),
        "other_campaigns": len(flags) - 1,
        "breaches_exact": set(br["contact_id"]) == planted_ids,
        "series": mon.n_series,
    }


def main(argv=None) -> None:
    from cmlib.data import bank
    from cmlib.monitoring import EWMA_L, EWMA_LAMBDA

    quick, n = size_from_args(sys.argv[1:] if argv is None else argv, 200_000, 1_000_000)
    seeds = range(1, 21) if quick else range(1, 101)
    customers = bank(n, 1).customers
    t0 = time.perf_counter()
    rows = [one_feed(customers, s) for s in seeds]
    r = pd.DataFrame(rows)
    far = r["false_alarm_weeks"].sum() / r["stable_kpi_weeks"].sum()
    det = r["detected_within_2_weeks"].mean()
    k = len(r)

    def share(measure: str, x: float, m: int, target: str = "–", met: bool | None = None) -> dict:
        """A measured share of ``m`` trials with its Wilson interval."""
        from statsmodels.stats.proportion import proportion_confint

        lo, hi = proportion_confint(round(x * m), m, method="wilson")
        return {
            "measure": measure,
            "rate": float(x),
            "ci_low": float(lo),
            "ci_high": float(hi),
            "target": target,
            "met": met,
        }

    n_other = int(r["other_campaigns"].sum())
    measures = [
        share(
            "false alarms per stable KPI-week",
            far,
            int(r["stable_kpi_weeks"].sum()),
            "≤ 1 per 100",
            bool(far <= 0.01),
        ),
        share(
            "feeds with a false alarm standing in the report's week",
            float((r["false_standing_alarms"] > 0).mean()),
            k,
        ),
        share("planted response drop detected within 2 weeks", det, k, "≥ 90 %", bool(det >= 0.9)),
        share("start week estimated exactly", float(r["start_exact"].mean()), k),
        share("start week within one week", float(r["start_within_1_week"].mean()), k),
        share("misleading campaign flagged (complaints)", float(r["misleading_flagged"].mean()), k),
        share(
            "other campaigns flagged (complaints)",
            float(r["other_campaigns_flagged"].sum() / n_other),
            n_other,
        ),
        share(
            "planted contact breaches found exactly",
            float(r["breaches_exact"].mean()),
            k,
            "all, none invented",
            bool(r["breaches_exact"].all()),
        ),
    ]
    path = write(
        "monitoring_quick" if quick else "monitoring",
        {
            "settings": {
                "ewma_lambda": EWMA_LAMBDA,
                "ewma_limit": EWMA_L,
                "reference_weeks": 52,
                "monitor_weeks": 52,
            },
            "n_customers": n,
            "worlds": k,
            "series_per_world": int(r["series"].iloc[0]),
            "stable_kpi_weeks": int(r["stable_kpi_weeks"].sum()),
            "seconds": round(time.perf_counter() - t0, 1),
            "measures": measures,
        },
    )
    for m_ in measures:
        print(
            f"{m_['measure']}: {m_['rate']:.4f} [{m_['ci_low']:.4f}, {m_['ci_high']:.4f}] target {m_['target']}"
        )
    print(f"written {path}")


if __name__ == "__main__":
    main()

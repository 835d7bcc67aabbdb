"""cmlib.monitoring — the week's action list (what to pause, fix, investigate, with the evidence) and the check
of what was flagged against what the simulator planted."""

from __future__ import annotations

import pandas as pd

ORDER = {"pause": 0, "cut": 1, "fix": 2, "investigate": 3}


def _pct(x: float) -> str:
    return f"{100 * x:+.0f}%"


def action_list(
    alarms: pd.DataFrame,
    complaint_flags: pd.DataFrame,
    breaches: pd.DataFrame,
    apr: pd.DataFrame | None = None,
    fairness: pd.DataFrame | None = None,
    offers: pd.DataFrame | None = None,
    reasons: pd.DataFrame | None = None,
    economics: pd.DataFrame | None = None,
    weeks: int | None = None,
    amount=None,
) -> pd.DataFrame:
    """One row per action (``action``: pause, cut, fix or investigate; ``subject``; ``evidence``), pauses first.

    ``alarms``: :func:`~cmlib.monitoring.kpis.monitor_kpis`' summary; ``complaint_flags``: complaint rate
    ratios per campaign with ``flagged``; ``breaches``: :func:`~cmlib.monitoring.compliance.contact_breaches`;
    ``apr``, ``fairness``, ``offers``: the other compliance monitors; ``reasons``: each campaign's share of
    complaints per reason (to name what its customers complain about); ``economics``:
    :func:`~cmlib.monitoring.cost.cell_economics` over the last ``weeks`` weeks (a cell that loses money beyond
    doubt is to cut). ``amount`` formats money in the evidence (a report passes its currency formatter;
    default: digits with thousands separators)."""
    amount = amount or (lambda v: f"{v:,.0f}")
    rows = []
    for camp, r in complaint_flags[complaint_flags["flagged"]].iterrows():
        top = ""
        if reasons is not None and camp in reasons.index:
            rs = reasons.loc[camp]
            top = f"; {rs.max():.0%} of its complaints: {str(rs.idxmax()).replace('_', ' ')}"
        rows.append(
            {
                "action": "pause",
                "subject": f"campaign {camp}",
                "evidence": f"complaint rate {r['ratio_to_others']:.1f}× the other campaigns' "
                f"(interval {r['ci_low']:.1f}–{r['ci_high']:.1f}){top}",
            }
        )
    if offers is not None:
        for camp, r in offers[offers["flagged"]].iterrows():
            rows.append(
                {
                    "action": "pause",
                    "subject": f"campaign {camp}",
                    "evidence": f"runs the offer {r['arm']}, which the A/B test rejected ({r['decision']})",
                }
            )
    if economics is not None and len(economics):
        for (camp, ch), r in economics[economics["losing"]].sort_values("net_value").iterrows():
            rows.append(
                {
                    "action": "cut",
                    "subject": f"{camp} on {ch}",
                    "evidence": f"cost per booking {amount(r['cost_per_booking'])} against a value of "
                    f"{amount(r['value_per_booking'])} per booked account: {amount(r['net_value'])} net of spend over "
                    f"{weeks or '?'} weeks ({amount(r['net_value'] / (weeks or 1))} a week)",
                }
            )
    if len(breaches):
        for rule, g in breaches.groupby("rule"):
            # no identifiers here: the report is forwarded; the notebook writes the list to its private folder
            camps = ", ".join(sorted(g["campaign"].astype(str).unique())) if "campaign" in g else "–"
            rows.append(
                {
                    "action": "fix",
                    "subject": f"contact rules: {rule}",
                    "evidence": f"{len(g)} contact(s) on {', '.join(sorted(g['channel'].astype(str).unique()))} "
                    f"(campaigns {camps}); the contacts are listed in the run's private folder for compliance",
                }
            )
    if apr is not None:
        for camp, r in apr[(apr["above_disclosed"] > 0) | (apr["above_cap"] > 0)].iterrows():
            rows.append(
                {
                    "action": "fix",
                    "subject": f"pricing of {camp}",
                    "evidence": f"{int(r['above_disclosed'])} booking(s) charged above the disclosed APR, "
                    f"{int(r['above_cap'])} above the cap",
                }
            )
    for r in alarms.itertuples(index=False):
        cell = r[1]
        rows.append(
            {
                "action": "investigate",
                "subject": f"{r.kpi.replace('_', ' ')} {r.direction} on {cell}",
                "evidence": f"since the week of {pd.Timestamp(r.start_week).date()} ({r.weeks_running} weeks): "
                f"{r.rate_since_start:.2%} against {r.reference_rate:.2%} ({_pct(r.relative_change)}, interval "
                f"{_pct(r.ci_low)} to {_pct(r.ci_high)}); campaigns: {r.campaigns_moved}",
            }
        )
    if fairness is not None and len(fairness):
        for ch, r in fairness[fairness["flagged"]].iterrows():
            rows.append(
                {
                    "action": "investigate",
                    "subject": f"approval gap on {ch}",
                    "evidence": f"approval ratio {r['ratio']:.2f} (interval {r['ci_low']:.2f}–{r['ci_high']:.2f}), "
                    "below the four-fifths rule",
                }
            )
    out = pd.DataFrame(rows, columns=["action", "subject", "evidence"])
    return out.sort_values("action", key=lambda s: s.map(ORDER), kind="stable").reset_index(drop=True)


def against_truth(
    truth: dict,
    alarms: pd.DataFrame,
    complaint_flags: pd.DataFrame,
    breaches: pd.DataFrame,
    contacts: pd.DataFrame,
    as_of,
) -> tuple[pd.DataFrame, int]:
    """Each problem the simulator planted that had begun by ``as_of``, and whether the report found it exactly
        (the alarm's channel, KPI and start week; the flagged campaign; every breached contact sent by ``as_of``
    (``contacts``: contact_id and week) and no other).
        Returns (one row per planted problem, the number of flags that match nothing planted)."""
    p = truth["planted"]
    rows, extra = [], 0
    drop = p["response_drop"]
    started = pd.Timestamp(drop["start_week"]) <= pd.Timestamp(as_of)
    hit = (
        alarms[(alarms["kpi"] == drop["kpi"]) & (alarms.iloc[:, 1] == drop["channel"])]
        if len(alarms)
        else alarms
    )
    if started:
        rows.append(
            {
                "planted": f"{drop['kpi'].replace('_', ' ')} {_pct(drop['relative_change'])} on {drop['channel']} "
                f"from {drop['start_week']}",
                "found": len(hit) == 1,
                "start_week_error_weeks": int(
                    (pd.Timestamp(hit["start_week"].iloc[0]) - pd.Timestamp(drop["start_week"])).days // 7
                )
                if len(hit) == 1
                else None,
                "as_reported": "; ".join(
                    f"start {pd.Timestamp(r.start_week).date()}, {_pct(r.relative_change)}"
                    for r in hit.itertuples()
                )
                or "not flagged",
            }
        )
    extra += len(alarms) - (len(hit) if started else 0)
    mis = p["misleading_campaign"]["campaign"]
    flagged = complaint_flags.index[complaint_flags["flagged"]].astype(str).tolist()
    rows.append(
        {
            "planted": f"misleading fee disclosure in {mis}",
            "found": mis in flagged,
            "as_reported": ", ".join(flagged) or "no campaign flagged",
        }
    )
    extra += len([c for c in flagged if c != mis])
    found = {
        "no_permission": set(breaches.loc[breaches["rule"].str.startswith("no permission"), "contact_id"]),
        "do_not_contact": set(breaches.loc[breaches["rule"] == "do-not-contact customer", "contact_id"]),
    }
    for kind, key in (
        ("no_permission", "permission_breach_contact_ids"),
        ("do_not_contact", "do_not_contact_breach_contact_ids"),
    ):
        sent = contacts.loc[contacts["contact_id"].isin(p[key]) & (contacts["week"] <= as_of), "contact_id"]
        planted = set(sent.tolist())
        rows.append(
            {
                "planted": f"{len(planted)} contacts {'without the channel permission' if kind == 'no_permission' else 'to do-not-contact customers'}",
                "found": found[kind] == planted,
                "as_reported": f"{len(found[kind] & planted)} of {len(planted)} found, {len(found[kind] - planted)} other(s)",
            }
        )
        extra += len(found[kind] - planted)
    return pd.DataFrame(rows), extra

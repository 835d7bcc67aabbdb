"""cmlib.data.synthetic — the weekly campaign-monitoring feed (one section of the package).

Two years of weekly business-as-usual campaigns after the offer test, drawn for the bank's own customers (their
segment, risk, contact permissions and do-not-contact flag): a campaign ``plan`` (weekly targets per campaign
and channel), the ``contacts`` with their funnel (responded → applied → approved → booked → activated, spend in
the first 90 days, 30+ DPD within three months of booking, the APR charged), ``complaints`` and a customer
``survey`` (satisfaction 0–10). Planted, and documented in ``truth``:

* a campaign whose fee disclosure is misleading (:data:`MISLEADING_CAMPAIGN`): its complaint rate several times
  the others', the extra complaints all about misleading rates or fees, its customers less satisfied;
* a channel whose response rate drops from a given week (:data:`RESPONSE_DROP`), in every campaign using it;
* a few contacts sent without that channel's permission or to do-not-contact customers (ids in ``truth``);
* everything else stable: every rate of every campaign and channel is constant over the 104 weeks (volumes
  follow a seasonal plan; rates do not), so any other alarm is a false one.

Volumes scale with the bank: :data:`MONITOR_VOLUME` is weekly contacts at one million customers.
Deterministic for a random_state; its own random stream, so the other tables do not change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cmlib.data.synthetic.block import RISK_Z_CENTER, RISK_Z_SCALE
from cmlib.data.synthetic.campaigns import LOAN_OFFER
from cmlib.data.synthetic.customers import _sigmoid, default_eta
from cmlib.data.synthetic.truth import (
    ARM_OFFER,
    ARM_RESPONSE,
    CHANNEL_COST,
    CHANNEL_RESPONSE,
    P_ACTIVATE,
    P_APPLY,
    P_BOOK,
)
from cmlib.vocab import CHANNEL_PERMISSION, COMPLAINT_REASONS

MONITOR_WEEKS = 104
MONITOR_LAST_WEEK = "2025-11-24"  # a Monday: weeks are named by the Monday they start on
#: weekly contacts per campaign and channel at one million customers
MONITOR_VOLUME = {
    "CASHBACK-CARD": {"direct_mail": 2500, "email": 3200, "paid_social": 1500},
    "LOWAPR-CARD": {"direct_mail": 2000, "email": 2600, "telemarketing": 800},
    "BT-PROMO": {"email": 2200, "sms": 1500, "telemarketing": 700},
    "PERSONAL-LOAN": {"search": 1200, "partners": 1000, "branch": 400},
}
#: product, its terms (APR % a year, annual fee, credit limit, reward rate; the test's arms' and the bank's loan)
#: and the highest APR its disclosure allows
MONITOR_OFFER = {
    "CASHBACK-CARD": ("card", ARM_OFFER["cashback"], 22.9),
    "LOWAPR-CARD": ("card", ARM_OFFER["lower_apr"], 18.9),
    "BT-PROMO": ("card", ARM_OFFER["control"], 22.9),
    "PERSONAL-LOAN": ("loan", LOAN_OFFER, 17.9),
}
#: the offer each campaign runs, in the A/B test's arm names (None: not an offer the test assessed)
MONITOR_ARM = {
    "CASHBACK-CARD": "cashback",
    "LOWAPR-CARD": "lower_apr",
    "BT-PROMO": None,
    "PERSONAL-LOAN": None,
}
#: the bank's own response rates per channel and funnel probabilities (one bank: 02 and 05 see the same)
MONITOR_RESPONSE = CHANNEL_RESPONSE
#: each campaign's response relative to today's card offer: the test arms' intercept shifts (ARM_RESPONSE)
CAMPAIGN_RESPONSE_LIFT = {
    "CASHBACK-CARD": float(np.exp(ARM_RESPONSE["cashback"]["intercept"])),
    "LOWAPR-CARD": float(np.exp(ARM_RESPONSE["lower_apr"]["intercept"])),
    "BT-PROMO": 1.0,
    "PERSONAL-LOAN": 1.0,
}
SEGMENT_RESPONSE = {"student": 0.8, "young_professional": 1.2, "mass": 1.0, "affluent": 0.9, "senior": 0.7}
P_APPLY_MONITOR = {"card": P_APPLY, "loan": P_APPLY}
P_BOOK_MONITOR, P_ACTIVATE_MONITOR = P_BOOK, P_ACTIVATE
#: approval and early delinquency from the customer's true risk (risk_z: centred default log-hazard)
APPROVAL_LOGIT = (0.55, -1.2)  # intercept, slope on risk_z: about 62 % of applications approved, as in 02
EARLY_DPD_LOGIT = (-4.0, 0.9)  # about 1.9 % of bookings 30+ DPD within three months, as the test's control
SPEND_90D = (np.log(900.0), 0.6)  # lognormal of an active account's spend in its first 90 days
MATURITY_WEEKS = 13  # spend in 90 days and 30+ DPD within three months are known 13 weeks after booking
#: a campaign's fixed cost a week: the bank's monthly fixed cost per campaign (5,000 on branch, telemarketing and
#: partners, 1,000 elsewhere; campaigns table) spread over 52/12 weeks
FIXED_WEEKLY_COST = {ch: 5_000.0 * 12 / 52 for ch in ("branch", "telemarketing", "partners")}
FIXED_WEEKLY_COST_OTHER = 1_000.0 * 12 / 52
#: complaints per contact: base, channels that interrupt, the misleading campaign's extra (all "misleading")
COMPLAINT_BASE = 4e-4
COMPLAINT_CHANNEL = {"telemarketing": 1.5, "sms": 1.5}
COMPLAINT_MIX = dict(zip(COMPLAINT_REASONS, (0.15, 0.25, 0.30, 0.10, 0.20), strict=True))
MISLEADING_CAMPAIGN = {"campaign": "BT-PROMO", "extra_complaints_per_contact": 2.0e-3}
RESOLVE_DAYS = {"misleading_rate_or_fees": 25.0, "default": 12.0}  # mean days to resolve (gamma, shape 2)
RESPONSE_DROP = {"channel": "email", "start_week_index": 98, "relative_change": -0.40}
PERMISSION_BREACHES, DNC_BREACHES = 5, 3
#: survey: booked customers asked 8 weeks after booking; promoter / passive / detractor probabilities
SURVEY_SHARE, SURVEY_LAG_WEEKS = 0.30, 8
NPS_BASE = (0.45, 0.35, 0.20)
NPS_SEGMENT_SHIFT = {
    "student": -0.05,
    "young_professional": 0.0,
    "mass": 0.0,
    "affluent": 0.05,
    "senior": 0.05,
}
NPS_CHANNEL_SHIFT = {"branch": 0.08, "telemarketing": -0.05}
NPS_MISLEADING = (0.25, 0.35, 0.40)


@dataclass
class MonitoringWorld:
    """The weekly monitoring feed: ``plan``, ``contacts``, ``complaints``, ``survey``, ``campaigns`` and truth."""

    plan: pd.DataFrame
    contacts: pd.DataFrame
    complaints: pd.DataFrame
    survey: pd.DataFrame
    campaigns: pd.DataFrame
    truth: dict[str, Any] = field(default_factory=dict)

    TABLES = ("plan", "contacts", "complaints", "survey", "campaigns")

    def tables(self) -> dict[str, pd.DataFrame]:
        return {t: getattr(self, t) for t in self.TABLES}


#: the file of a written world that holds the monitoring feed's truth (beside ``truth.json``)
MONITORING_TRUTH = "monitoring_truth.json"
#: a MonitoringWorld table → its folder in a world written by ``cmlib data generate`` (and its schema's name)
MONITORING_TABLES = {
    "plan": "monitoring_plan",
    "contacts": "monitoring_contacts",
    "complaints": "complaints",
    "survey": "survey",
    "campaigns": "monitoring_campaigns",
}


#: the plan runs this many weeks past the data (next week's forecast starts from it)
PLAN_AHEAD_WEEKS = 4
#: the customer columns the feed is drawn from (who may be reached, their segment, group and default risk):
#: a bank written to disk reads only these for it, not the whole customer table
CUSTOMER_INPUTS = (
    "customer_id",
    "segment",
    "protected_group",
    "do_not_contact",
    *sorted({p for p in CHANNEL_PERMISSION.values() if p}),
    *("bureau_score", "income", "utilisation", "employment_type", "dti", "inquiries_6m", "age"),
    *("employment_years", "housing", "existing_relationship"),
)


def monitor_weeks(n_weeks: int = MONITOR_WEEKS, last: str = MONITOR_LAST_WEEK) -> pd.DatetimeIndex:
    """The Mondays of ``n_weeks`` weeks ending with the week of ``last``."""
    return pd.date_range(end=last, periods=n_weeks, freq="W-MON")


def _campaign_table() -> pd.DataFrame:
    rows = []
    for i, (c, chans) in enumerate(MONITOR_VOLUME.items()):
        product, (apr, fee, limit, reward), apr_max = MONITOR_OFFER[c]
        for ch in chans:
            rows.append(
                {
                    "campaign": c,
                    "channel": ch,
                    "product": product,
                    "arm": MONITOR_ARM[c],
                    "apr": apr,
                    "annual_fee": fee,
                    "credit_limit": limit,
                    "reward_rate": reward,
                    "apr_advertised": apr,
                    "apr_max_disclosed": apr_max,
                    "cost_per_contact": CHANNEL_COST[ch],
                    "fixed_weekly_cost": FIXED_WEEKLY_COST.get(ch, FIXED_WEEKLY_COST_OTHER),
                    "campaign_order": i,
                }
            )
    df = pd.DataFrame(rows).drop(columns="campaign_order")
    df["arm"] = df["arm"].astype("string")
    return df


def simulate_monitoring(customers: pd.DataFrame, random_state: int = 1) -> MonitoringWorld:
    """The monitoring feed for the bank's ``customers`` (the columns of :data:`CUSTOMER_INPUTS`: customer_id,
    segment, protected_group, the contact permissions, do_not_contact and the risk attributes). Deterministic
    for ``random_state``."""
    rng = np.random.default_rng(np.random.SeedSequence([random_state, 10**9 + 6]))
    weeks = monitor_weeks()
    scale = len(customers) / 1_000_000
    # the plan runs PLAN_AHEAD_WEEKS past the data: next week's forecast starts from it
    plan_weeks = pd.date_range(weeks[0], periods=MONITOR_WEEKS + PLAN_AHEAD_WEEKS, freq="W-MON")
    season_all = 1.0 + 0.15 * np.sin(2 * np.pi * plan_weeks.isocalendar().week.to_numpy(float) / 52.0)
    camp = _campaign_table()
    # the feed is a sample of the bank like the other tables: fixed costs scale with it, so cost per booking
    # does not depend on the sample's size
    camp["fixed_weekly_cost"] = camp["fixed_weekly_cost"] * scale
    cid = customers["customer_id"].to_numpy()
    dnc = customers["do_not_contact"].to_numpy(bool)
    risk_z = (default_eta(customers) - RISK_Z_CENTER) / RISK_Z_SCALE
    seg = customers["segment"].astype(str).to_numpy()
    seg_mult = pd.Series(seg).map(SEGMENT_RESPONSE).fillna(1.0).to_numpy()
    p_approve_all = _sigmoid(APPROVAL_LOGIT[0] + APPROVAL_LOGIT[1] * risk_z)
    drop_start = RESPONSE_DROP["start_week_index"]

    parts, plan_rows, expected = [], [], {}
    for cell, r in enumerate(camp.itertuples(index=False)):
        perm = CHANNEL_PERMISSION[r.channel]
        ok = ~dnc & (customers[perm].to_numpy(bool) if perm else True)
        pool = np.flatnonzero(ok)
        planned_all = np.round(MONITOR_VOLUME[r.campaign][r.channel] * scale * season_all).astype(np.int64)
        n = rng.poisson(planned_all[: len(weeks)])
        week_idx = np.repeat(np.arange(len(weeks)), n)
        who = pool[rng.integers(0, len(pool), size=len(week_idx))]
        base = MONITOR_RESPONSE[r.channel] * CAMPAIGN_RESPONSE_LIFT[r.campaign]
        drop = np.where(
            (r.channel == RESPONSE_DROP["channel"]) & (week_idx >= drop_start),
            1.0 + RESPONSE_DROP["relative_change"],
            1.0,
        )
        p_resp = np.minimum(base * seg_mult[who] * drop, 0.95)
        u = rng.random((len(who), 6))
        responded = u[:, 0] < p_resp
        applied = responded & (u[:, 1] < P_APPLY_MONITOR[r.product])
        approved = applied & (u[:, 2] < p_approve_all[who])
        booked = approved & (u[:, 3] < P_BOOK_MONITOR)
        activated = booked & (u[:, 4] < P_ACTIVATE_MONITOR)
        parts.append(
            {
                "week": week_idx,
                "cell": np.full(len(who), cell, np.int16),  # the row of camp: its campaign and channel
                "customer_id": cid[who],
                "responded": responded,
                "applied": applied,
                "approved": approved,
                "booked": booked,
                "activated": activated,
                "_risk_z": risk_z[who],
                "_u": u[:, 5],
            }
        )
        # the plan: this cell's expected rates before any change, over the customers it may reach
        resp_rate = float(np.minimum(base * seg_mult[pool], 0.95).mean())
        conv = float(
            P_APPLY_MONITOR[r.product]
            * np.average(p_approve_all[pool], weights=np.minimum(base * seg_mult[pool], 0.95))
            * P_BOOK_MONITOR
        )
        expected[(r.campaign, r.channel)] = {"response_rate": resp_rate, "booking_per_response": conv}
        plan_rows.append(
            pd.DataFrame(
                {
                    "week": plan_weeks,
                    "campaign": r.campaign,
                    "channel": r.channel,
                    "contacts": planned_all.astype(float),
                    "responses": planned_all * resp_rate,
                    "bookings": planned_all * resp_rate * conv,
                    "spend": planned_all * r.cost_per_contact + r.fixed_weekly_cost,
                }
            )
        )
    con = _contact_rows(parts, camp, weeks)
    con = _outcomes(con, camp, weeks, rng)
    con, breaches = _plant_breaches(con, customers, weeks, rng)
    complaints = _complaints(con, weeks, rng)
    survey, nps_truth = _survey(con, customers, weeks, rng)
    con = con.drop(columns=["_risk_z", "_u"])
    plan = pd.concat(plan_rows, ignore_index=True)
    truth = _monitoring_truth(weeks, expected, breaches, con, nps_truth, customers, p_approve_all)
    return MonitoringWorld(plan, con, complaints, survey, camp, truth)


def _contact_rows(parts: list[dict], camp: pd.DataFrame, weeks: pd.DatetimeIndex) -> pd.DataFrame:
    """The cells' contacts in one frame ordered by week, campaign and channel (each cell's own order kept),
    numbered from 1. Built column by column through one ordering: at 10M customers (20M contacts) a
    concatenation of per-cell frames and a sort made three copies of the largest table of the builder."""
    cell = np.concatenate([p["cell"] for p in parts])
    week = np.concatenate([p["week"] for p in parts])
    # each cell's campaign and channel as their rank in text order; lexsort is stable, so contacts of one
    # week and cell keep the order they were drawn in
    rank = {
        k: np.unique(camp[k].astype(str).to_numpy(), return_inverse=True)[1] for k in ("campaign", "channel")
    }
    order = np.lexsort((rank["channel"][cell], rank["campaign"][cell], week))
    cell = cell[order]
    cols = {
        "contact_id": np.arange(1, len(order) + 1, dtype=np.int64),
        "week": weeks[week[order]],
        "campaign": pd.array(camp["campaign"].to_numpy()[cell], dtype=camp["campaign"].dtype),
        "channel": pd.array(camp["channel"].to_numpy()[cell], dtype=camp["channel"].dtype),
    }
    del week
    for k in list(parts[0]):
        if k not in ("week", "cell"):
            cols[k] = np.concatenate([p[k] for p in parts])[order]
            for p in parts:  # each column's per-cell pieces are dropped as soon as it is whole
                del p[k]
    return pd.DataFrame(cols)


def _outcomes(con: pd.DataFrame, camp: pd.DataFrame, weeks: pd.DatetimeIndex, rng) -> pd.DataFrame:
    """Spend in 90 days, 30+ DPD within three months (both known once the booking is 13 weeks old), the APR
    charged (risk-based within the disclosed range) and the contact's cost."""
    n = len(con)
    mature = con["week"].to_numpy() <= weeks[-1] - pd.Timedelta(weeks=MATURITY_WEEKS)
    bk, act = con["booked"].to_numpy(), con["activated"].to_numpy()
    spend = np.exp(SPEND_90D[0] + SPEND_90D[1] * rng.standard_normal(n))
    con["spend_90d"] = np.where(act & mature, spend.round(2), np.nan)
    p_dpd = _sigmoid(EARLY_DPD_LOGIT[0] + EARLY_DPD_LOGIT[1] * con["_risk_z"].to_numpy())
    dpd = rng.random(n) < p_dpd
    con["early_dpd30"] = pd.array(np.where(bk & mature, dpd, False), dtype="boolean")
    con.loc[~(bk & mature), "early_dpd30"] = pd.NA
    terms = camp.set_index(["campaign", "channel"])
    key = pd.MultiIndex.from_arrays([con["campaign"], con["channel"]])
    lo = terms["apr_advertised"].reindex(key).to_numpy()
    hi = terms["apr_max_disclosed"].reindex(key).to_numpy()
    # risk-based pricing within the disclosed range: the riskier, the nearer the top
    share = np.clip(0.5 + 0.35 * con["_risk_z"].to_numpy(), 0.0, 1.0)
    con["apr_charged"] = np.where(bk, np.round(lo + (hi - lo) * share, 2), np.nan)
    con["cost"] = terms["cost_per_contact"].reindex(key).to_numpy()
    return con


def _plant_breaches(con: pd.DataFrame, customers: pd.DataFrame, weeks: pd.DatetimeIndex, rng):
    """Reassign a few contacts of the second year to customers the channel may not reach."""
    year2 = con["week"].to_numpy() >= weeks[52]
    needs = con["channel"].map(CHANNEL_PERMISSION).notna().to_numpy()
    rows = rng.choice(np.flatnonzero(year2 & needs), size=PERMISSION_BREACHES + DNC_BREACHES, replace=False)
    dnc = customers["do_not_contact"].to_numpy(bool)
    out = {"no_permission": [], "do_not_contact": []}
    for i, row in enumerate(rows):
        perm = CHANNEL_PERMISSION[con.at[row, "channel"]]
        if i < PERMISSION_BREACHES:
            pool = np.flatnonzero(~customers[perm].to_numpy(bool) & ~dnc)
            kind = "no_permission"
        else:
            pool = np.flatnonzero(dnc & customers[perm].to_numpy(bool))
            kind = "do_not_contact"
        con.at[row, "customer_id"] = customers["customer_id"].to_numpy()[pool[rng.integers(len(pool))]]
        out[kind].append(int(con.at[row, "contact_id"]))
    return con, {k: sorted(v) for k, v in out.items()}


def _complaints(con: pd.DataFrame, weeks: pd.DatetimeIndex, rng) -> pd.DataFrame:
    n = len(con)
    chan_mult = con["channel"].map(COMPLAINT_CHANNEL).fillna(1.0).to_numpy()
    base = rng.random(n) < COMPLAINT_BASE * chan_mult
    mis = (con["campaign"].to_numpy() == MISLEADING_CAMPAIGN["campaign"]) & (
        rng.random(n) < MISLEADING_CAMPAIGN["extra_complaints_per_contact"]
    )
    rows = np.flatnonzero(base | mis)
    reasons = np.array(list(COMPLAINT_MIX))
    drawn = reasons[rng.choice(len(reasons), size=len(rows), p=list(COMPLAINT_MIX.values()))]
    reason = np.where(mis[rows] & ~base[rows], "misleading_rate_or_fees", drawn)
    date = con["week"].to_numpy()[rows] + pd.to_timedelta(rng.integers(0, 28, len(rows)), unit="D")
    mean = np.where(reason == "misleading_rate_or_fees", RESOLVE_DAYS["misleading_rate_or_fees"], 12.0)
    days = np.ceil(rng.gamma(2.0, mean / 2.0))
    end = weeks[-1] + pd.Timedelta(days=6)
    keep = date <= end
    resolved = date + pd.to_timedelta(days, unit="D") <= end
    out = pd.DataFrame(
        {
            "complaint_id": np.arange(1, len(rows) + 1, dtype=np.int64),
            "date": date,
            "customer_id": con["customer_id"].to_numpy()[rows],
            "contact_id": con["contact_id"].to_numpy()[rows],
            "campaign": con["campaign"].to_numpy()[rows],
            "channel": con["channel"].to_numpy()[rows],
            "reason": reason,
            "days_to_resolve": np.where(resolved, days, np.nan),
        }
    )
    return out[keep].reset_index(drop=True)


def _survey(con: pd.DataFrame, customers: pd.DataFrame, weeks: pd.DatetimeIndex, rng):
    """Booked customers asked 8 weeks after booking; the truth is each respondent's expected promoter minus
    detractor probability, averaged per segment and per channel."""
    bk = con[con["booked"].to_numpy()]
    wk = bk["week"] + pd.Timedelta(weeks=SURVEY_LAG_WEEKS)
    asked = (rng.random(len(bk)) < SURVEY_SHARE) & (wk <= weeks[-1]).to_numpy()
    s = bk[asked].merge(customers[["customer_id", "segment"]], on="customer_id", how="left")
    s["week"] = (wk[asked]).to_numpy()
    p_pro = np.full(len(s), NPS_BASE[0])
    p_det = np.full(len(s), NPS_BASE[2])
    shift = (
        s["segment"].map(NPS_SEGMENT_SHIFT).fillna(0.0).to_numpy()
        + s["channel"].map(NPS_CHANNEL_SHIFT).fillna(0.0).to_numpy()
    )
    p_pro, p_det = p_pro + shift, p_det - shift
    mis = (s["campaign"] == MISLEADING_CAMPAIGN["campaign"]).to_numpy()
    p_pro = np.where(mis, NPS_MISLEADING[0] + shift, p_pro)
    p_det = np.where(mis, NPS_MISLEADING[2] - shift, p_det)
    u = rng.random(len(s))
    cat = np.where(u < p_pro, 2, np.where(u < 1 - p_det, 1, 0))
    lo, hi = np.array([0, 7, 9]), np.array([6, 8, 10])
    score = lo[cat] + np.floor(rng.random(len(s)) * (hi[cat] - lo[cat] + 1)).astype(np.int64)
    survey = pd.DataFrame(
        {
            "response_id": np.arange(1, len(s) + 1, dtype=np.int64),
            "week": s["week"].to_numpy(),
            "customer_id": s["customer_id"].to_numpy(),
            "campaign": s["campaign"].to_numpy(),
            "channel": s["channel"].to_numpy(),
            "segment": s["segment"].to_numpy(),
            "score": score,
        }
    )
    e = pd.DataFrame({"segment": survey["segment"], "channel": survey["channel"], "nps": p_pro - p_det})
    truth = {
        "by_segment": (100 * e.groupby("segment")["nps"].mean()).round(4).to_dict(),
        "by_channel": (100 * e.groupby("channel")["nps"].mean()).round(4).to_dict(),
    }
    return survey, truth


def _monitoring_truth(weeks, expected, breaches, con, nps_truth, customers, p_approve_all) -> dict[str, Any]:
    # the approval ratio protected group B / A per channel, from each applicant's true approval chance
    app = con[con["applied"]].merge(customers[["customer_id", "protected_group"]], on="customer_id")
    pa = pd.Series(p_approve_all, index=customers["customer_id"].to_numpy()).reindex(app["customer_id"])
    app = app.assign(p=pa.to_numpy())
    by = app.groupby(["channel", "protected_group"])["p"].mean().unstack()
    ratio = (by["B"] / by["A"]).round(4).dropna().to_dict() if {"A", "B"} <= set(by.columns) else {}
    mis = MISLEADING_CAMPAIGN["campaign"]
    base_10k = {
        c: round(
            1e4
            * (
                COMPLAINT_BASE
                * float(con.loc[con["campaign"] == c, "channel"].map(COMPLAINT_CHANNEL).fillna(1).mean())
                + (MISLEADING_CAMPAIGN["extra_complaints_per_contact"] if c == mis else 0.0)
            ),
            3,
        )
        for c in MONITOR_VOLUME
    }
    return {
        "weeks": {
            "first": weeks[0].date().isoformat(),
            "last": weeks[-1].date().isoformat(),
            "n": len(weeks),
        },
        "expected_rates": {f"{c}|{ch}": v for (c, ch), v in expected.items()},
        "planted": {
            "response_drop": {
                "channel": RESPONSE_DROP["channel"],
                "campaigns": [c for c, chans in MONITOR_VOLUME.items() if RESPONSE_DROP["channel"] in chans],
                "kpi": "response_rate",
                "start_week": weeks[RESPONSE_DROP["start_week_index"]].date().isoformat(),
                "relative_change": RESPONSE_DROP["relative_change"],
            },
            "misleading_campaign": {
                "campaign": mis,
                "reason": "misleading_rate_or_fees",
                "complaints_per_10k_contacts": base_10k,
            },
            "permission_breach_contact_ids": breaches["no_permission"],
            "do_not_contact_breach_contact_ids": breaches["do_not_contact"],
        },
        "stable": "all other rates (response, application, approval, booking, activation, early delinquency, "
        "complaints) of every campaign and channel are constant over the weeks; volumes follow the plan",
        "nps": nps_truth,
        "approval_ratio_b_to_a": ratio,
        "apr": "charged APR within [apr_advertised, apr_max_disclosed] for every booking; none above",
    }

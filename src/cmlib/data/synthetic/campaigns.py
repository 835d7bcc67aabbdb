"""cmlib.data.synthetic — campaigns (one section of the package; the package re-exports every name)."""

from __future__ import annotations

import pandas as pd

from cmlib.data.synthetic.dates import Calendar
from cmlib.data.synthetic.truth import ARM_OFFER, CHANNEL_COST
from cmlib.vocab import (
    ARMS,
    CHANNELS,
)

EXPERIMENT_ID = "EXP01"


EXPERIMENT_SHARE = 0.4  # of customers eligible for direct mail


LOAN_CHANNELS = {"search", "partners"}


LOAN_OFFER = (11.9, 0.0, 10_000.0, 0.0)


def _campaigns(cal: Calendar) -> pd.DataFrame:
    rows = []
    for m, start in enumerate(cal.campaign_index):
        end = start + pd.offsets.MonthEnd(0)
        for ci, ch in enumerate(CHANNELS):
            apr, fee, limit, reward = LOAN_OFFER if ch in LOAN_CHANNELS else ARM_OFFER["control"]
            rows.append(
                {
                    "campaign_id": 1000 + 10 * m + ci,
                    "experiment_id": None,
                    "arm": None,
                    "channel": ch,
                    "product": "loan" if ch in LOAN_CHANNELS else "card",
                    "start_date": start,
                    "end_date": end.normalize(),
                    "cost_per_contact": CHANNEL_COST[ch],
                    "fixed_cost": 5_000.0 if ch in {"branch", "telemarketing", "partners"} else 1_000.0,
                    "apr": apr,
                    "annual_fee": fee,
                    "credit_limit": limit,
                    "reward_rate": reward,
                }
            )
    start = cal.campaign_index[cal.experiment_month]
    for ai, arm in enumerate(ARMS):
        apr, fee, limit, reward = ARM_OFFER[arm]
        rows.append(
            {
                "campaign_id": 9001 + ai,
                "experiment_id": EXPERIMENT_ID,
                "arm": arm,
                "channel": "direct_mail",
                "product": "card",
                "start_date": start,
                "end_date": (start + pd.offsets.MonthEnd(0)).normalize(),
                "cost_per_contact": CHANNEL_COST["direct_mail"],
                "fixed_cost": 2_500.0,
                "apr": apr,
                "annual_fee": fee,
                "credit_limit": limit,
                "reward_rate": reward,
            }
        )
    df = pd.DataFrame(rows)
    df["experiment_id"] = df["experiment_id"].astype("string")
    df["arm"] = df["arm"].astype("string")
    return df

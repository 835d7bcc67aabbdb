"""cmlib.data.synthetic — aggregate tables: weekly channel spend and the monthly market panel (one section of the package; the package re-exports every name)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmlib.curves import adstock, hill
from cmlib.data.synthetic.customers import _sigmoid
from cmlib.data.synthetic.dates import Calendar, unemployment
from cmlib.vocab import (
    CHANNELS,
)

WEEKLY_SPEND = {
    "branch": 20_000,
    "telemarketing": 15_000,
    "direct_mail": 25_000,
    "email": 2_000,
    "sms": 3_000,
    "paid_social": 12_000,
    "search": 18_000,
    "partners": 30_000,
}


N_WEEKS = 104


def _channel_params(rng: np.random.Generator) -> dict[str, dict[str, float]]:
    out = {}
    for ch in CHANNELS:
        theta = float(np.round(rng.uniform(0.2, 0.6), 3))
        level = WEEKLY_SPEND[ch] / (1 - theta)
        out[ch] = {
            "decay": theta,
            "half_saturation": float(np.round(level * rng.uniform(0.6, 1.4), 0)),
            "shape": float(np.round(rng.uniform(1.0, 2.5), 3)),
            "top": float(np.round(rng.uniform(50, 400), 1)),
            "base": float(np.round(rng.uniform(5, 30), 1)),
        }
    return out


def _channel_spend(rng: np.random.Generator, cal: Calendar, params: dict) -> pd.DataFrame:
    weeks = pd.date_range(pd.Timestamp(cal.start) + pd.offsets.Week(weekday=0), periods=N_WEEKS, freq="W-MON")
    rows = []
    for ch in CHANNELS:
        p = params[ch]
        plan = WEEKLY_SPEND[ch] * (1 + 0.5 * np.sin(2 * np.pi * np.arange(N_WEEKS) / 26 + rng.uniform(0, 6)))
        on = rng.random(N_WEEKS) > 0.2  # flighting: a fifth of weeks dark, so curves are identifiable
        spend = np.round(plan * on * np.exp(rng.normal(0, 0.35, N_WEEKS)) * rng.uniform(0.3, 1.8, N_WEEKS), 0)
        mean = p["base"] + p["top"] * hill(adstock(spend, p["decay"]), p["half_saturation"], p["shape"])
        bookings = rng.poisson(mean)
        rows.append(
            pd.DataFrame(
                {
                    "week_start": weeks,
                    "channel": ch,
                    "spend": spend.astype(float),
                    "bookings": bookings.astype(np.int64),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


SEGMENT_SHARE = {"student": 0.04, "young_professional": 0.18, "mass": 0.45, "affluent": 0.23, "senior": 0.10}


SEGMENT_GROWTH = {
    "student": 0.002,
    "young_professional": 0.007,
    "mass": 0.003,
    "affluent": 0.005,
    "senior": 0.001,
}


MARKET = {
    "balance_start": 50e9,
    "monthly_growth": 0.004,
    "level_change": -0.08,
    "slope_change": -0.002,
    "price_gap_pp": -0.12,
    "share_logit_intercept": -2.2,
    "seasonal_amplitude": 0.03,
}


def policy_rate(idx: pd.DatetimeIndex) -> np.ndarray:
    """Policy rate path (percent): low, a cut to 0.25 at the 2020 break, hikes in 2022–23, cuts from 2024-09."""
    t = idx.to_numpy()
    r = np.full(len(idx), 0.75)
    r[t >= np.datetime64("2020-03-01")] = 0.25
    hikes = pd.date_range("2022-03-01", "2023-08-01", freq="2MS")
    for i, d in enumerate(hikes):
        r[t >= np.datetime64(d)] = 0.25 + 4.25 * (i + 1) / len(hikes)
    for i, d in enumerate(pd.date_range("2024-09-01", "2025-09-01", freq="3MS")):
        r[t >= np.datetime64(d)] = 4.5 - 0.25 * (i + 1)
    return np.round(r, 3)


def _market(rng: np.random.Generator, cal: Calendar) -> pd.DataFrame:
    idx = cal.months(cal.market_start, cal.observe_end)
    n = len(idx)
    t = np.arange(n)
    kb = idx.get_loc(pd.Timestamp(cal.market_break))
    after = (t >= kb).astype(float)
    season = MARKET["seasonal_amplitude"] * np.cos(2 * np.pi * (idx.month.to_numpy() - 12) / 12)
    pr = policy_rate(idx)
    moves = {}
    for name, base in (("competitor_a_apr", 19.5), ("competitor_b_apr", 21.0), ("competitor_c_apr", 23.5)):
        jumps = np.cumsum(np.where(rng.random(n) < 0.06, rng.normal(0, 0.8, n), 0.0))
        moves[name] = np.round(base + 0.8 * pr + jumps, 2)
    own_jumps = np.cumsum(np.where(rng.random(n) < 0.08, rng.normal(0, 0.8, n), 0.0))
    own_apr = np.round(20.9 + 0.8 * pr + own_jumps, 2)
    gap = own_apr - np.mean(np.column_stack(list(moves.values())), axis=1)
    macro = unemployment(cal).reindex(idx).to_numpy()
    rows = []
    for seg, share in SEGMENT_SHARE.items():
        log_b = (
            np.log(MARKET["balance_start"] * share)
            + SEGMENT_GROWTH[seg] * t
            + season
            + MARKET["level_change"] * after
            + MARKET["slope_change"] * after * (t - kb)
            + rng.normal(0, 0.01, n)
        )
        bal = np.exp(log_b)
        new_acc = rng.poisson(bal / 4_000 * 0.02 * (1 + 2 * season))
        ar = np.zeros(n)
        e = rng.normal(0, 0.03, n)
        for i in range(1, n):
            ar[i] = 0.6 * ar[i - 1] + e[i]
        share_own = _sigmoid(MARKET["share_logit_intercept"] + MARKET["price_gap_pp"] * gap + ar)
        rows.append(
            pd.DataFrame(
                {
                    "month": idx,
                    "segment": seg,
                    "market_balance": np.round(bal, 0),
                    "new_accounts": new_acc.astype(np.int64),
                    "own_share": np.round(share_own, 5),
                    "own_balance": np.round(bal * share_own, 0),
                    "own_apr": own_apr,
                    **moves,
                    "policy_rate": pr,
                    "unemployment_pct": np.round(macro, 3),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)

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

BANK_CUSTOMERS = 10_000_000
"""Customers of the whole bank. The simulated customers are a sample of it; ``channel_spend`` is the bank-wide
weekly view of the same campaigns, so its spend and bookings are the contacts' scaled by
``BANK_CUSTOMERS / n_customers``."""


N_WEEKS = 104


def _channel_funnel(contacts_by_campaign: pd.DataFrame, campaigns: pd.DataFrame) -> pd.DataFrame:
    """Per channel, the contacts' spend (cost per contact × contacts + each contacted campaign's fixed cost)
    and bookings — the definitions of :func:`cmlib.optimize.channel_funnel`. ``contacts_by_campaign`` has
    ``campaign_id``, ``n`` and ``booked``."""
    m = contacts_by_campaign.merge(campaigns[["campaign_id", "channel", "cost_per_contact", "fixed_cost"]])
    m = m[m["n"] > 0]
    m["spend"] = m["n"] * m["cost_per_contact"] + m["fixed_cost"]
    return m.groupby("channel")[["spend", "booked"]].sum().reindex(list(CHANNELS), fill_value=0.0)


def _channel_spend(
    rng: np.random.Generator, cal: Calendar, funnel: pd.DataFrame, scale: float
) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """Weekly spend and bookings per channel, and the response curve that generated them.

    Spend: the contacts' weekly spend on the channel × ``scale`` on average, with a half-year cycle,
    flighting (a fifth of weeks dark, so the curve is identifiable) and noise. Bookings: Poisson with mean
    ``base + top × hill(adstock(spend, decay), half_saturation, shape)``, where ``top`` is set so that the
    expected cost per booking over the 104 weeks equals the contacts' cost per booking on that channel — the
    two tables describe one bank (``truth['channel_response'][ch]['cost_per_booking']``).
    """
    weeks = pd.date_range(pd.Timestamp(cal.start) + pd.offsets.Week(weekday=0), periods=N_WEEKS, freq="W-MON")
    rows, params = [], {}
    for ch in CHANNELS:
        decay = float(np.round(rng.uniform(0.2, 0.6), 3))
        shape = float(np.round(rng.uniform(1.0, 2.5), 3))
        organic = rng.uniform(0.05, 0.25)  # share of bookings that come without spend
        level = scale * float(funnel.loc[ch, "spend"]) / N_WEEKS
        cpb = float(funnel.loc[ch, "spend"]) / max(float(funnel.loc[ch, "booked"]), 1.0)
        cycle = 1 + 0.5 * np.sin(2 * np.pi * np.arange(N_WEEKS) / 26 + rng.uniform(0, 6))
        on = rng.random(N_WEEKS) > 0.2
        raw = cycle * on * np.exp(rng.normal(0, 0.35, N_WEEKS)) * rng.uniform(0.3, 1.8, N_WEEKS)
        spend = np.round(raw * level / raw.mean(), 0)
        half = float(np.round(level / (1 - decay) * rng.uniform(0.6, 1.4), 0))
        h = hill(adstock(spend, decay), half, shape)
        expected = spend.sum() / cpb  # bookings over the weeks at the contacts' cost per booking
        base = float(np.round(organic * expected / N_WEEKS, 3))
        top = float(np.round((expected - N_WEEKS * base) / h.sum(), 3))
        params[ch] = {
            "decay": decay,
            "half_saturation": half,
            "shape": shape,
            "top": top,
            "base": base,
            "cost_per_booking": cpb,
            "mean_weekly_spend": float(spend.mean()),
        }
        bookings = rng.poisson(base + top * h)
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
    return pd.concat(rows, ignore_index=True), params


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
